// The templates are embedded with include_dir, which only tracks the files that existed at
// the last build; watching the folder makes added or removed template files trigger a rebuild.
fn main() {
    println!("cargo:rerun-if-changed=templates");
}
