//! `kensa create`: the embedded templates (snapshots), a local template directory under the
//! same contract, template variables from every source, and everything it must refuse
//! without leaving a trace.

use std::os::unix::fs::symlink;

use serde_json::{json, Value};

use crate::harness::{assert_dotenv_matches, dotenv, mask_secrets, repo, Output, Test, TEMPLATES};

// ---------------------------------------------------------------------------------------
// The embedded templates

/// A template's `template.toml`, as a TOML table.
fn spec(name: &str) -> toml::Table {
    let path = repo().join("templates").join(name).join("template.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Whether `.gitignore` text ignores `path` (a plain file at the project root).
fn gitignore_ignores(gitignore: &str, path: &str) -> bool {
    let mut ignored = false;
    for line in gitignore.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches('/');
        let glob = globset::Glob::new(pattern).unwrap().compile_matcher();
        if glob.is_match(path) {
            ignored = !negated;
        }
    }
    ignored
}

/// Whether the app's own code (not its docs, tests or comments) reads `PORT`: the
/// idiomatic `web: node server.js` honours `$PORT` through the environment.
fn reads_port(out: &Output, dir: &str) -> bool {
    let skip = |p: &str| {
        p.ends_with(".md")
            || ["Procfile", ".env", "addon-manifest.json"].contains(&p)
            || p.starts_with("test/")
            || p.starts_with("tests/")
    };
    out.files(dir).iter().filter(|p| !skip(p)).any(|p| {
        let text = String::from_utf8_lossy(&out.bytes(format!("{dir}/{p}"))).into_owned();
        text.lines().any(|line| {
            let code = line.trim_start();
            let comment = ["//", "#", ";", "/*", "*"]
                .iter()
                .any(|c| code.starts_with(c));
            !comment && code.contains("PORT")
        })
    })
}

/// Creates `My Addon` from an embedded template without prompting, checks the contract
/// every template shares, and snapshots the tree and the (masked) manifest.
fn create_embedded(name: &str) {
    let dir = "My Addon";
    let out = Test::new()
        .args(["create", dir, "--template", name, "--no-input"])
        .stdout_contains(&format!("Created My Addon from the {name} template"))
        .stdout_contains("cd 'My Addon'")
        .stdout_contains("kensa test all")
        .stderr("")
        .changes([dir])
        .run();
    let at = |rel: &str| format!("{dir}/{rel}");

    // Next steps name the template's own commands.
    if let Some(commands) = spec(name).get("commands").and_then(|c| c.as_table()) {
        for key in ["install", "start"] {
            if let Some(cmd) = commands.get(key).and_then(|c| c.as_str()) {
                assert!(
                    out.stdout.contains(cmd),
                    "{name}: {key} {cmd:?} in\n{}",
                    out.stdout
                );
            }
        }
    }

    // The manifest: id from the directory name, test URLs on the default port.
    let manifest = out.json(at("addon-manifest.json"));
    assert_eq!(manifest["id"], "my-addon", "{name}");
    assert_eq!(manifest["name"], "My Addon", "{name}");
    assert_eq!(
        manifest["api"]["test"],
        json!({
            "base_url": "http://localhost:5001/heroku/resources",
            "sso_url": "http://localhost:5001/sso/login"
        }),
        "{name}"
    );
    assert_eq!(out.mode(at("addon-manifest.json")), 0o600);

    // .env: private, and it matches the manifest.
    assert_eq!(out.mode(at(".env")), 0o600, "{name}");
    let env = out.read(at(".env"));
    assert_dotenv_matches(&env, &manifest);
    assert_eq!(dotenv(&env)["HEROKU_USERNAME"], "my-addon");

    // The templates contract.
    // Both hold secrets (Heroku: never check a manifest in).
    let gitignore = out.read(at(".gitignore"));
    for secret in [".env", "addon-manifest.json"] {
        assert!(
            gitignore_ignores(&gitignore, secret),
            "{name}: .gitignore must ignore {secret}:\n{gitignore}"
        );
    }
    let procfile = out.read(at("Procfile"));
    let web = procfile.lines().find(|l| l.starts_with("web:"));
    let web = web.unwrap_or_else(|| panic!("{name}: Procfile has no web: line:\n{procfile}"));
    assert!(
        web.contains("PORT") || reads_port(&out, dir),
        "{name}: the web process must honour $PORT: neither the Procfile line ({web:?}) \
         nor the app's code reads PORT"
    );
    let verbatim: Vec<globset::GlobMatcher> = spec(name)
        .get("files")
        .and_then(|f| f.get("verbatim"))
        .and_then(|v| v.as_array())
        .map(|globs| {
            globs
                .iter()
                .map(|g| {
                    globset::Glob::new(g.as_str().unwrap())
                        .unwrap()
                        .compile_matcher()
                })
                .collect()
        })
        .unwrap_or_default();
    for path in out.files(dir) {
        assert!(
            !path.ends_with(".tera") || verbatim.iter().any(|g| g.is_match(&path)),
            "{name}: {path} kept its .tera suffix"
        );
    }
    assert!(
        !out.files(dir).iter().any(|p| p == "template.toml"),
        "{name}: template.toml is not copied"
    );
    assert_eq!(
        out.mode(dir),
        0o755,
        "the project directory is an ordinary one"
    );
    assert_eq!(out.top_level(), [dir], "nothing else beside the project");

    let snapshot = format!(
        "{dir}/ (mode, path)\n{}\naddon-manifest.json (secrets masked)\n{}\n",
        out.tree(dir),
        serde_json::to_string_pretty(&mask_secrets(manifest)).unwrap()
    );
    // A missing or changed snapshot fails; outside CI insta also writes a `.snap.new` to
    // review (`cargo insta review`, or `INSTA_UPDATE=always cargo test` to accept).
    insta::assert_snapshot!(name, snapshot);
}

#[test]
fn create_sinatra() {
    create_embedded("sinatra");
}

#[test]
fn create_node() {
    create_embedded("node");
}

#[test]
fn create_clojure() {
    create_embedded("clojure");
}

#[test]
fn create_rust_axum() {
    create_embedded("rust-axum");
}

#[test]
fn every_embedded_template_has_a_test_above() {
    // A template added to templates/ must get a create_<name> test and a snapshot.
    let source = include_str!("create.rs");
    for name in TEMPLATES {
        let test = format!("fn create_{}()", name.replace('-', "_"));
        assert!(source.contains(&test), "missing {test}");
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(repo().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("template.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, TEMPLATES);
}

#[test]
fn id_flag_wins_over_the_directory_name() {
    let out = Test::new()
        .args(["create", "p", "--template", "sinatra", "--no-input"])
        .args(["--id", "custom-id"])
        .changes(["p"])
        .run();
    let manifest = out.json("p/addon-manifest.json");
    assert_eq!(manifest["id"], "custom-id");
    assert_eq!(manifest["api"]["config_vars"], json!(["CUSTOM_ID_URL"]));
    assert_eq!(dotenv(&out.read("p/.env"))["HEROKU_USERNAME"], "custom-id");
}

#[test]
fn id_comes_from_the_last_component_of_the_directory() {
    for (dir, id) in [
        ("work/Fancy_Name.v2", "fancy-name-v2"),
        ("My Addon", "my-addon"),
        ("42 things!", "things"),
    ] {
        let out = Test::new()
            .mkdir("work")
            .args(["create", dir, "--template", "node", "--no-input"])
            .run();
        let manifest = out.json(format!("{dir}/addon-manifest.json"));
        assert_eq!(manifest["id"], id, "{dir}");
    }
}

#[test]
fn a_directory_name_without_a_slug_needs_the_id_flag() {
    Test::new()
        .args(["create", "日本", "--template", "node", "--no-input"])
        .status(2)
        .stderr_contains("--id")
        .unchanged()
        .run();
}

#[test]
fn addon_flags_shape_the_manifest() {
    let out = Test::new()
        .args(["create", "p", "--template", "node", "--no-input"])
        .args(["--name", "Pretty", "--regions", "us,eu", "--sso", "get"])
        .args(["--port", "6000"])
        .run();
    let m = out.json("p/addon-manifest.json");
    assert_eq!(m["name"], "Pretty");
    assert_eq!(m["api"]["regions"], json!(["us", "eu"]));
    assert_eq!(m["api"]["test"], "http://localhost:6000/");
    assert_eq!(m["api"]["production"], "https://yourapp.com/");
}

#[test]
fn without_sso_leaves_the_salt_out_of_manifest_and_env() {
    let out = Test::new()
        .args([
            "create",
            "p",
            "--template",
            "node",
            "--no-input",
            "--without-sso",
        ])
        .run();
    let m = out.json("p/addon-manifest.json");
    assert!(m["api"].get("sso_salt").is_none(), "{m:#}");
    assert_eq!(dotenv(&out.read("p/.env"))["SSO_SALT"], "");
}

#[test]
fn invalid_addon_flags_write_nothing() {
    for (flag, value) in [("--id", "Bad Id"), ("--regions", "mars"), ("--port", "0")] {
        Test::new()
            .args([
                "create",
                "p",
                "--template",
                "node",
                "--no-input",
                flag,
                value,
            ])
            .status(2)
            .stderr_contains(flag)
            .unchanged()
            .run();
    }
}

#[test]
fn each_create_has_fresh_secrets() {
    let password = |out: &Output| out.json("p/addon-manifest.json")["api"]["password"].clone();
    let args = ["create", "p", "--template", "node", "--no-input"];
    let a = Test::new().args(args).run();
    let b = Test::new().args(args).run();
    assert_ne!(password(&a), password(&b));
}

// ---------------------------------------------------------------------------------------
// Never touching what exists

#[test]
fn a_non_empty_directory_is_refused_without_force_and_left_intact() {
    let blob: &[u8] = &[0, 159, 146, 150, 255];
    let out = Test::new()
        .write("p/mine.txt", "keep me\n")
        .write("p/sub/data.bin", blob)
        .args(["create", "p", "--template", "node", "--no-input"])
        .status(2)
        .stderr_contains("p already exists and is not empty")
        .stderr_contains("--force")
        .stdout("")
        .unchanged()
        .run();
    assert_eq!(out.read("p/mine.txt"), "keep me\n");
    assert_eq!(out.bytes("p/sub/data.bin"), blob);
    assert_eq!(out.top_level(), ["p"], "no .kensa-* leftovers");
}

#[test]
fn a_file_in_the_way_is_refused_without_force() {
    Test::new()
        .write("p", "a file, not a directory")
        .args(["create", "p", "--template", "node", "--no-input"])
        .status(2)
        .stderr_contains("--force")
        .unchanged()
        .run();
}

#[test]
fn force_writes_the_template_into_a_non_empty_directory_and_keeps_the_rest() {
    let out = Test::new()
        .write("p/mine.txt", "old\n")
        .write("p/sub/old.txt", "old\n")
        .args(["create", "p", "--template", "node", "--no-input", "--force"])
        .changes(["p"])
        .run();
    assert_eq!(out.read("p/mine.txt"), "old\n");
    assert_eq!(out.read("p/sub/old.txt"), "old\n");
    assert!(out.exists("p/package.json"));
    assert!(out.exists("p/addon-manifest.json"));
    assert_eq!(
        out.top_level(),
        ["p"],
        "no .kensa-old-* or .kensa-new-* left"
    );
}

#[test]
fn an_existing_empty_directory_is_filled() {
    let out = Test::new()
        .mkdir("p")
        .args(["create", "p", "--template", "node", "--no-input"])
        .changes(["p"])
        .run();
    assert!(out.exists("p/package.json"));
    assert_eq!(out.top_level(), ["p"]);
}

#[test]
fn a_symlinked_target_is_refused() {
    let test = Test::new().mkdir("real");
    symlink(test.path().join("real"), test.path().join("link")).unwrap();
    test.args([
        "create",
        "link",
        "--template",
        "node",
        "--no-input",
        "--force",
    ])
    .status(2)
    .stderr_contains("symbolic link")
    .unchanged()
    .run();
}

#[test]
fn a_missing_parent_directory_is_an_error_that_leaves_nothing() {
    Test::new()
        .args(["create", "no/such/p", "--template", "node", "--no-input"])
        .status(2)
        .stderr_contains("does not exist")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Dry run

#[test]
fn dry_run_lists_what_a_real_run_writes_and_writes_nothing() {
    for name in TEMPLATES {
        let args = ["create", "p", "--template", name, "--no-input"];
        let dry = Test::new()
            .args(args)
            .arg("--dry-run")
            .stdout_contains("nothing written")
            .stderr("")
            .unchanged()
            .run();
        let real = Test::new().args(args).run();
        let files = real.files("p");
        let listed: Vec<&str> = dry
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(listed, files, "{name}:\n{}", dry.stdout);
        assert!(
            dry.stdout.contains(&format!("({} files)", files.len())),
            "{}",
            dry.stdout
        );
        for line in dry.stdout.lines().skip(1) {
            let path = line.rsplit(' ').next().unwrap();
            let mode = format!("{:o}", real.mode(format!("p/{path}")));
            assert!(line.trim_start().starts_with(&mode), "{name}: {line}");
        }
    }
}

#[test]
fn dry_run_with_a_local_template_writes_nothing() {
    local_template(Test::new())
        .args(["create", "out", "--template", "./tpl", "--dry-run"])
        .stdout_contains("README.md")
        .stdout_contains("bin/run")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Non-interactive use with values missing

#[test]
fn without_a_terminal_missing_values_are_listed_once_with_their_flags() {
    for no_input in [false, true] {
        let mut test = Test::new().arg("create");
        if no_input {
            test = test.arg("--no-input");
        }
        let out = test
            .status(2)
            .stdout("")
            .stderr_contains("missing required values")
            .stderr_contains("template: --template NAME")
            .stderr_contains("project directory: the DIR argument")
            .unchanged()
            .run();
        for name in TEMPLATES {
            assert!(out.stderr.contains(name), "{name} in\n{}", out.stderr);
        }
        assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
    }
}

#[test]
fn only_the_missing_values_are_listed() {
    let out = Test::new()
        .args(["create", "p"])
        .status(2)
        .stderr_contains("--template")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("DIR"), "{}", out.stderr);

    let out = Test::new()
        .args(["create", "--template", "node"])
        .status(2)
        .stderr_contains("DIR")
        .unchanged()
        .run();
    assert!(
        !out.stderr.contains("template: --template"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_variable_without_default_is_listed_with_its_set_flag() {
    Test::new()
        .write(
            "tpl/template.toml",
            "description = \"d\"\n[variables.region_code]\nregex = \"^[a-z]+$\"\n",
        )
        .write("tpl/a.txt.tera", "{{ region_code }}")
        .args(["create", "--template", "./tpl"])
        .status(2)
        .stderr_contains("region_code: --set region_code=VALUE")
        .stderr_contains("project directory")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// A local template directory

const SPEC: &str = r#"
description = "A local template for tests"

[variables.workers]
type = "integer"
default = 2
regex = "^[1-9]$"
help = "worker processes (1-9)"

[variables.debug]
type = "boolean"
default = false

[variables.greeting]
type = "string"
default = "hello"
regex = "^[a-z]+$"

[files]
verbatim = ["raw/**"]
executable = ["bin/*"]

[commands]
install = "make deps"
"#;

/// Not UTF-8, with a NUL and something that looks like tera: copied, never rendered.
const BLOB: &[u8] = b"\xff\xfe\x00\x80{{ id }}\xc3\x28";
const NOTES: &str = "Mustache-style {{ id }} and {% raw %} stay as they are here.\n";

/// Writes `tpl/`: a template directory that exercises every rule of the contract.
fn local_template(test: Test) -> Test {
    test.write("tpl/template.toml", SPEC)
        .write(
            "tpl/README.md.tera",
            "# {{ name }}\n\
             id={{ id }} project={{ project_name }} port={{ port }} sso={{ sso_method }}\n\
             var={{ config_var }} prefix={{ config_vars_prefix }} regions={{ regions | join(sep=\",\") }}\n\
             workers={{ workers }} debug={{ debug }} greeting={{ greeting }}\n",
        )
        .write("tpl/notes.txt", NOTES)
        .write("tpl/blob.bin", BLOB)
        .write("tpl/bin/run", "#!/bin/sh\necho run\n")
        .write("tpl/bin/setup.tera", "#!/bin/sh\necho {{ id }}\n")
        .write("tpl/raw/page.html.tera", "{{ not_a_variable }}\n")
        .write("tpl/src/{{ id }}/main.txt.tera", "module {{ id }}\n")
        .write("tpl/.gitignore", ".env\n")
        .write("tpl/.git/HEAD", "ref: refs/heads/main\n")
        .write("tpl/.git/hooks/bad.tera", "{{ would fail to render")
}

#[test]
fn a_local_template_directory_follows_the_contract() {
    let out = local_template(Test::new())
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .stdout_contains("Created out from the ./tpl template (13 files)")
        .stdout_contains("make deps")
        .stdout_contains("heroku local web")
        .changes(["out"])
        .run();
    assert_eq!(
        out.tree("out"),
        "\
0600 .env
0644 .gitignore
0644 .kensa/.gitignore
0644 .kensa/answers.toml
0644 .kensa/pristine.json.gz
0644 README.md
0600 addon-manifest.json
0755 bin/run
0755 bin/setup
0644 blob.bin
0644 notes.txt
0644 raw/page.html.tera
0644 src/out/main.txt
"
    );
    assert_eq!(
        out.read("out/README.md"),
        "# Out\n\
         id=out project=out port=5001 sso=post\n\
         var=OUT_URL prefix=OUT regions=us\n\
         workers=2 debug=false greeting=hello\n"
    );
    assert_eq!(out.bytes("out/blob.bin"), BLOB);
    assert_eq!(out.read("out/notes.txt"), NOTES);
    assert_eq!(out.read("out/raw/page.html.tera"), "{{ not_a_variable }}\n");
    assert_eq!(out.read("out/bin/setup"), "#!/bin/sh\necho out\n");
    assert_eq!(out.read("out/bin/run"), "#!/bin/sh\necho run\n");
    assert_eq!(out.read("out/src/out/main.txt"), "module out\n");
    // The template itself is untouched.
    assert!(out.exists("tpl/README.md.tera"));
}

#[test]
fn a_template_path_given_without_dot_slash_prefix_is_a_path_when_it_has_a_slash() {
    let out = local_template(Test::new())
        .mkdir("x")
        .args(["create", "out", "--template", "x/../tpl", "--no-input"])
        .run();
    assert!(out.exists("out/README.md"));
}

#[test]
fn a_directory_without_template_toml_is_not_a_template() {
    Test::new()
        .write("tpl/README.md", "hi")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("./tpl is not a template directory")
        .stderr_contains("template.toml")
        .unchanged()
        .run();
    Test::new()
        .args(["create", "out", "--template", "./nowhere", "--no-input"])
        .status(2)
        .stderr_contains("./nowhere")
        .unchanged()
        .run();
}

#[test]
fn a_bad_template_toml_is_reported() {
    Test::new()
        .write("tpl/template.toml", "description = \"d\"\nsurprise = 1\n")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("template.toml")
        .stderr_contains("surprise")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Template variables: --set and --values-file

fn readme_vars(out: &Output) -> String {
    out.read("out/README.md").lines().last().unwrap().to_owned()
}

#[test]
fn set_fills_typed_variables() {
    let out = local_template(Test::new())
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args([
            "--set",
            "workers=7",
            "--set",
            "debug=true",
            "--set",
            "greeting=howdy",
        ])
        .run();
    assert_eq!(readme_vars(&out), "workers=7 debug=true greeting=howdy");
}

#[test]
fn values_file_json_fills_typed_variables() {
    let out = local_template(Test::new())
        .write(
            "v.json",
            r#"{"workers": 3, "debug": true, "greeting": "hey"}"#,
        )
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args(["--values-file", "v.json"])
        .run();
    assert_eq!(readme_vars(&out), "workers=3 debug=true greeting=hey");
}

#[test]
fn values_file_toml_fills_typed_variables() {
    let out = local_template(Test::new())
        .write("v.toml", "workers = 4\ndebug = true\ngreeting = \"yo\"\n")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args(["--values-file", "v.toml"])
        .run();
    assert_eq!(readme_vars(&out), "workers=4 debug=true greeting=yo");
}

#[test]
fn set_wins_over_the_values_file() {
    let out = local_template(Test::new())
        .write("v.toml", "workers = 4\ngreeting = \"yo\"\n")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args(["--values-file", "v.toml", "--set", "workers=9"])
        .run();
    assert_eq!(readme_vars(&out), "workers=9 debug=false greeting=yo");
}

#[test]
fn embedded_template_variables_can_be_set() {
    let out = Test::new()
        .args(["create", "p", "--template", "node", "--no-input"])
        .args(["--set", "node_version=22"])
        .run();
    assert!(out.read("p/package.json").contains("22"));
    Test::new()
        .args(["create", "p", "--template", "node", "--no-input"])
        .args(["--set", "node_version=latest"])
        .status(2)
        .stderr_contains("node_version")
        .unchanged()
        .run();
}

/// Invalid values from every source: exit 2 naming the variable, and nothing written.
#[test]
fn invalid_values_from_every_source_name_the_variable() {
    // (file to write, arguments after `create out --template ./tpl`, expected in stderr)
    type Case<'a> = (Option<(&'a str, &'a str)>, &'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            None,
            &["--set", "workers=12"],
            &["workers", "does not match"],
        ),
        (
            None,
            &["--set", "workers=many"],
            &["workers", "not an integer"],
        ),
        (None, &["--set", "debug=maybe"], &["debug", "not a boolean"]),
        (
            None,
            &["--set", "greeting=Hello"],
            &["greeting", "does not match"],
        ),
        (None, &["--set", "colour=red"], &["colour", "no variable"]),
        (None, &["--set", "workers"], &["--set", "KEY=VALUE"]),
        (
            Some(("v.json", r#"{"workers": "many"}"#)),
            &["--values-file", "v.json"],
            &["workers", "not an integer"],
        ),
        (
            Some(("v.json", r#"{"workers": 0}"#)),
            &["--values-file", "v.json"],
            &["workers", "does not match"],
        ),
        (
            Some(("v.json", r#"{"debug": 1}"#)),
            &["--values-file", "v.json"],
            &["debug", "not a boolean"],
        ),
        (
            Some(("v.json", r#"{"greeting": 5}"#)),
            &["--values-file", "v.json"],
            &["greeting", "not a string"],
        ),
        (
            Some(("v.json", r#"{"colour": "red"}"#)),
            &["--values-file", "v.json"],
            &["colour", "--values-file"],
        ),
        (
            Some(("v.json", r#"{"workers": "#)),
            &["--values-file", "v.json"],
            &["--values-file", "v.json", "not valid JSON"],
        ),
        (
            Some(("v.json", "[1, 2]")),
            &["--values-file", "v.json"],
            &["--values-file", "table"],
        ),
        (
            Some(("v.toml", "workers = 10\n")),
            &["--values-file", "v.toml"],
            &["workers", "does not match"],
        ),
        (
            Some(("v.toml", "debug = \"perhaps\"\n")),
            &["--values-file", "v.toml"],
            &["debug", "not a boolean"],
        ),
        (
            Some(("v.toml", "greeting = true\n")),
            &["--values-file", "v.toml"],
            &["greeting", "not a string"],
        ),
        (
            Some(("v.toml", "colour = \"red\"\n")),
            &["--values-file", "v.toml"],
            &["colour", "--values-file"],
        ),
        (
            Some(("v.toml", "workers = \n")),
            &["--values-file", "v.toml"],
            &["--values-file", "v.toml"],
        ),
        (
            None,
            &["--values-file", "absent.json"],
            &["--values-file", "absent.json"],
        ),
    ];
    for (file, args, needles) in cases {
        let mut test = local_template(Test::new());
        if let Some((path, text)) = file {
            test = test.write(path, text);
        }
        test = test
            .args(["create", "out", "--template", "./tpl", "--no-input"])
            .args(*args)
            .status(2)
            .stdout("")
            .unchanged();
        for needle in *needles {
            test = test.stderr_contains(needle);
        }
        test.run();
    }
}

#[test]
fn every_bad_value_is_reported_at_once() {
    local_template(Test::new())
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args([
            "--set",
            "workers=0",
            "--set",
            "debug=maybe",
            "--set",
            "colour=red",
        ])
        .status(2)
        .stderr_contains("workers")
        .stderr_contains("debug")
        .stderr_contains("colour")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Paths that would leave the project

fn traversal_template(test: Test) -> Test {
    test.write(
        "tpl/template.toml",
        "description = \"paths from variables\"\n[variables.where]\ndefault = \"inside\"\n",
    )
    .write("tpl/{{ where }}", "escaped!\n")
    .write("tpl/README.md", "fine\n")
}

#[test]
fn the_path_variable_works_when_it_stays_inside() {
    let out = traversal_template(Test::new())
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .args(["--set", "where=deep/er/file.txt"])
        .run();
    assert_eq!(out.read("out/deep/er/file.txt"), "escaped!\n");
}

#[test]
fn a_rendered_path_that_leaves_the_project_is_rejected_and_nothing_is_written() {
    for (value, why) in [
        ("../escape", "would leave the project"),
        ("a/../../escape", "would leave the project"),
        ("sub/../../../escape", "would leave the project"),
        ("..", "would leave the project"),
        ("addon-manifest.json", "written by kensa"),
        (".env", "written by kensa"),
    ] {
        // The temp dir is the target's parent: `unchanged` sees anything written beside it;
        // `../../escape` from the target would land beside the temp dir itself.
        let test = traversal_template(Test::new());
        let outside = test.path().parent().unwrap().join("escape");
        let existed = outside.exists();
        test.args(["create", "out", "--template", "./tpl", "--no-input"])
            .arg(format!("--set=where={value}"))
            .stdout("")
            .stderr_contains("{{ where }}")
            .stderr_contains(value)
            .stderr_contains(why)
            .unchanged()
            .run_failing();
        assert_eq!(outside.exists(), existed, "{}", outside.display());
    }
}

#[test]
fn a_rendered_absolute_path_is_rejected_and_nothing_is_written() {
    let test = traversal_template(Test::new());
    let absolute = test.path().join("absolute-escape");
    let value = absolute.to_str().unwrap().to_owned();
    let out = test
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .arg(format!("--set=where={value}"))
        .stderr_contains(&value)
        .stderr_contains("is absolute")
        .unchanged()
        .run_failing();
    assert!(!out.exists("absolute-escape"));
}

#[test]
fn a_template_file_whose_own_name_renders_to_dot_dot_is_rejected() {
    Test::new()
        .write("tpl/template.toml", "description = \"d\"\n")
        .write("tpl/{{ \"..\" }}/escape.txt", "escaped!\n")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .stderr_contains("../escape.txt")
        .stderr_contains("leave the project")
        .unchanged()
        .run_failing();
}

// ---------------------------------------------------------------------------------------
// Render failures

#[test]
fn render_failures_are_all_reported_and_leave_nothing() {
    let out = Test::new()
        .write("tpl/template.toml", "description = \"broken\"\n")
        .write("tpl/a-undefined.txt.tera", "hello {{ nobody_set_this }}\n")
        .write("tpl/b-syntax.txt.tera", "{% if %}\n")
        .write("tpl/c-fine.txt.tera", "fine {{ id }}\n")
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stdout("")
        .stderr_contains("rendering failed for 2 files; nothing was written")
        .stderr_contains("a-undefined.txt.tera")
        .stderr_contains("nobody_set_this")
        .stderr_contains("b-syntax.txt.tera")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("c-fine"), "{}", out.stderr);
    // The syntax error carries tera's own cause, not only "failed to parse".
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("b-syntax.txt.tera"))
        .unwrap();
    assert!(line.len() > "  b-syntax.txt.tera: ".len() + 20, "{line}");
}

#[test]
fn a_tera_file_that_is_not_utf8_is_a_render_failure() {
    Test::new()
        .write("tpl/template.toml", "description = \"d\"\n")
        .write("tpl/bad.txt.tera", BLOB)
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("bad.txt.tera")
        .stderr_contains("UTF-8")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Unknown templates

#[test]
fn an_unknown_template_name_lists_the_available_ones() {
    let out = Test::new()
        .args(["create", "p", "--template", "django", "--no-input"])
        .status(2)
        .stdout("")
        .stderr_contains("unknown template \"django\"")
        .unchanged()
        .run();
    let available = TEMPLATES.join(", ");
    assert!(out.stderr.contains(&available), "{}", out.stderr);
}

#[test]
fn messages_are_plain_text_without_a_terminal() {
    let out = Test::new()
        .args(["create", "p", "--template", "django"])
        .status(2)
        .run();
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{:?}", out.stderr);
}

/// The manifest a create writes is one kensa accepts: a JSON object with the v3 keys.
#[test]
fn the_created_manifest_parses_as_an_object() {
    let out = Test::new()
        .args(["create", "p", "--template", "rust-axum", "--no-input"])
        .run();
    let m: Value = out.json("p/addon-manifest.json");
    assert_eq!(m["api"]["version"], "3");
    assert_eq!(m["api"]["requires"], json!([]));
    assert_eq!(m["api"]["regions"], json!(["us"]));
}

// ---------------------------------------------------------------------------------------
// The first hour (issue 15): what create and init tell a newcomer.

/// The directory holding the kensa under test, for a `PATH` on which `kensa` is it.
fn kensa_dir() -> String {
    crate::harness::kensa_bin()
        .parent()
        .unwrap()
        .display()
        .to_string()
}

/// Issue 15: the next steps ended with `kensa test all` although `kensa` was not on the
/// PATH yet (run through `cargo run`). They print the command that works: the binary's
/// full path, and how to install it; `kensa` once it is installed.
#[test]
fn regression_next_steps_named_kensa_when_it_was_not_on_the_path() {
    let out = Test::new()
        .args(["create", "my-addon", "--template", "node", "--no-input"])
        .run();
    let bin = crate::harness::kensa_bin().canonicalize().unwrap();
    assert!(
        out.stdout
            .contains(&format!("\n  {} test all\n", bin.display())),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("cargo install --path . --locked"),
        "{}",
        out.stdout
    );

    let path = format!("{}:{}", kensa_dir(), std::env::var("PATH").unwrap());
    let out = Test::new()
        .env("PATH", &path)
        .args(["create", "my-addon", "--template", "node", "--no-input"])
        .run();
    assert!(
        out.stdout.contains("\n  kensa test all\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("cargo install"), "{}", out.stdout);
    // The second terminal starts anywhere: it gets the project's full path.
    let project = out.path("my-addon");
    assert!(
        out.stdout.contains(&format!(
            "Then, in another terminal:\n  cd {}\n",
            project.display()
        )),
        "{}",
        out.stdout
    );
}

/// Issue 15: `init` told the user port 4567 and `create` 5000. One default port, stated
/// once (5001: `heroku local`'s default, free of macOS's AirPlay receiver on 5000).
#[test]
fn regression_init_and_create_named_different_ports() {
    let base = "http://localhost:5001/heroku/resources";
    let init = Test::new()
        .args(["init", "--no-input"])
        .stdout_contains("test URLs on http://localhost:5001")
        .stdout_contains("start your service on port 5001")
        .run();
    assert_eq!(
        init.json("addon-manifest.json")["api"]["test"]["base_url"],
        base
    );
    let foreman = Test::new().args(["init", "--no-input", "--foreman"]).run();
    assert_eq!(
        foreman.json("addon-manifest.json")["api"]["test"]["base_url"],
        base
    );
    let create = Test::new()
        .args(["create", "p", "--template", "sinatra", "--no-input"])
        .stdout_contains("port 5001")
        .run();
    assert_eq!(
        create.json("p/addon-manifest.json")["api"]["test"]["base_url"],
        base
    );
}

/// Every file a template renders names the local port through `{{ port }}`: rendered
/// with `--port 5123` it is the default rendering with 5001 replaced by 5123 (secrets
/// aside), and neither its README nor its Procfile names another stack's default port.
#[test]
fn templates_follow_the_port() {
    let stale = regex::Regex::new(
        r"(localhost|127\.0\.0\.1):(5000|4567)\b|PORT:-(5000|4567)|-p (5000|4567)\b",
    )
    .unwrap();
    for name in TEMPLATES {
        let default = Test::new()
            .args(["create", "p", "--template", name, "--no-input"])
            .run();
        let moved = Test::new()
            .args([
                "create",
                "p",
                "--template",
                name,
                "--no-input",
                "--port",
                "5123",
            ])
            .run();
        let files = default.files("p");
        assert_eq!(files, moved.files("p"), "{name}");
        let mut mentions = 0;
        // .kensa/ records the answers (the port among them): kensa's, not the template's.
        for file in files
            .iter()
            .filter(|f| *f != ".env" && !f.starts_with(".kensa/"))
        {
            let a = String::from_utf8_lossy(&default.bytes(format!("p/{file}"))).into_owned();
            let b = String::from_utf8_lossy(&moved.bytes(format!("p/{file}"))).into_owned();
            mentions += b.matches("5123").count();
            if file == "addon-manifest.json" {
                let (a, b) = (
                    default.json("p/addon-manifest.json"),
                    moved.json("p/addon-manifest.json"),
                );
                assert_eq!(
                    a["api"]["test"].to_string().replace("5001", "5123"),
                    b["api"]["test"].to_string(),
                    "{name}"
                );
                continue;
            }
            assert_eq!(
                a,
                b.replace("5123", "5001"),
                "{name}: {file} does not follow --port"
            );
            // What a newcomer reads and runs; code and tests may use any port as data.
            if ["README.md", "Procfile"].contains(&file.as_str()) {
                assert!(
                    !stale.is_match(&a),
                    "{name}: {file} names another default port:\n{a}"
                );
            }
        }
        assert!(
            mentions > 2,
            "{name}: the port appears in no rendered file but the manifest"
        );
    }
}
