//! Issue 13, template contents: `choice`, `multi-choice`, `secret` and computed variables
//! from flags and values files, `[[files.when]]` conditional files and directories, and the
//! user's defaults in `$XDG_CONFIG_HOME/kensa/config.toml`. (The wizard's side is in
//! `wizard.rs`.)

use crate::harness::{dotenv, Test};

const SPEC: &str = r#"description = "every kind of variable"
[variables.database]
type = "choice"
choices = ["postgres", "sqlite"]
default = "postgres"
help = "where resources live"
[variables.features]
type = "multi-choice"
choices = ["async", "logs", "metrics"]
default = ["async"]
[variables.api_token]
type = "secret"
env = "UPSTREAM_TOKEN"
help = "the upstream service's token"
[variables.module]
computed = "{{ id | replace(from='-', to='_') }}"

[[files.when]]
paths = ["src/sso/**", "test/sso.test.js"]
if = "sso"

[[files.when]]
paths = ["db/sqlite.txt"]
if = 'database == "sqlite"'

[[files.when]]
paths = ["metrics"]
if = '"metrics" in features'
"#;

fn template(test: Test) -> Test {
    test.write("tpl/template.toml", SPEC)
        .write(
            "tpl/config.txt.tera",
            "db={{ database }} features={{ features | join(sep=\",\") }} module={{ module }}\n",
        )
        .write("tpl/src/sso/login.js", "// SSO\n")
        .write("tpl/src/app.js", "// app\n")
        .write("tpl/test/sso.test.js.tera", "// test {{ id }}\n")
        .write("tpl/db/sqlite.txt", "sqlite\n")
        .write("tpl/metrics/exporter.txt", "metrics\n")
}

const CREATE: [&str; 7] = [
    "create",
    "p",
    "--template",
    "./tpl",
    "--no-input",
    "--id",
    "kind-test",
];

#[test]
fn choice_multi_choice_secret_and_computed_from_flags() {
    let out = template(Test::new())
        .args(CREATE)
        .args([
            "--set",
            "database=sqlite",
            "--set",
            "features=async,metrics",
            "--set",
            "api_token=tok-123-secret",
        ])
        .run();
    assert_eq!(
        out.read("p/config.txt"),
        "db=sqlite features=async,metrics module=kind_test\n"
    );
    assert_eq!(
        dotenv(&out.read("p/.env"))["UPSTREAM_TOKEN"],
        "tok-123-secret"
    );
    assert_eq!(out.mode("p/.env"), 0o600);
    for file in out.files("p") {
        if file != ".env" {
            let text = String::from_utf8_lossy(&out.bytes(format!("p/{file}"))).into_owned();
            assert!(!text.contains("tok-123-secret"), "the secret is in {file}");
        }
    }
    assert!(!out.stdout.contains("tok-123") && !out.stderr.contains("tok-123"));
}

#[test]
fn the_same_from_a_values_file() {
    let out = template(Test::new())
        .write(
            "values.toml",
            "database = \"sqlite\"\nfeatures = [\"logs\"]\napi_token = \"from-file-token\"\n",
        )
        .args(CREATE)
        .args(["--values-file", "values.toml"])
        .run();
    assert_eq!(
        out.read("p/config.txt"),
        "db=sqlite features=logs module=kind_test\n"
    );
    assert_eq!(
        dotenv(&out.read("p/.env"))["UPSTREAM_TOKEN"],
        "from-file-token"
    );
}

#[test]
fn a_value_outside_the_choices_names_them_and_a_secret_is_never_echoed() {
    let out = template(Test::new())
        .args(CREATE)
        .args([
            "--set",
            "database=mysql",
            "--set",
            "features=async,ftp",
            "--set",
            "api_token=",
            "--set",
            "module=x",
        ])
        .status(2)
        .stderr_contains("\"mysql\" is not one of the choices: postgres, sqlite")
        .stderr_contains("\"ftp\" is not one of the choices: async, logs, metrics")
        .stderr_contains("module is computed")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("api_token: \"\""), "{}", out.stderr);
}

#[test]
fn a_missing_secret_is_listed_with_its_flag() {
    template(Test::new())
        .args(CREATE)
        .status(2)
        .stderr_contains("template variable api_token: --set api_token=VALUE")
        .unchanged()
        .run();
}

#[test]
fn conditional_files_and_directories_present() {
    let out = template(Test::new())
        .args(CREATE)
        .args([
            "--set",
            "api_token=t",
            "--set",
            "database=sqlite",
            "--set",
            "features=metrics",
        ])
        .run();
    for present in [
        "p/src/sso/login.js",
        "p/test/sso.test.js",
        "p/db/sqlite.txt",
        "p/metrics/exporter.txt",
        "p/src/app.js",
    ] {
        assert!(out.exists(present), "{present}");
    }
}

#[test]
fn conditional_files_and_directories_absent() {
    let out = template(Test::new())
        .args(CREATE)
        .args(["--set", "api_token=t", "--without-sso"])
        .run();
    for absent in [
        "p/src/sso",
        "p/test/sso.test.js",
        "p/db/sqlite.txt",
        "p/metrics",
    ] {
        assert!(!out.exists(absent), "{absent}");
    }
    assert!(out.exists("p/src/app.js"));
    // What was left out is not in the pristine copy either: update would not add it back.
    assert_eq!(
        out.files("p")
            .iter()
            .filter(|f| f.starts_with("src/") || f.starts_with("test/"))
            .collect::<Vec<_>>(),
        ["src/app.js"]
    );
}

#[test]
fn a_condition_naming_no_variable_is_an_error_not_a_silent_skip() {
    template(Test::new())
        .write(
            "tpl/template.toml",
            "description = \"d\"\n[[files.when]]\npaths = [\"a.txt\"]\nif = \"ssso\"\n",
        )
        .write("tpl/a.txt", "a\n")
        .args(["create", "p", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("[[files.when]] #1 (if = \"ssso\"): no variable ssso")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// The user's defaults

fn with_config(test: Test, config: &str) -> Test {
    test.write("xdg/kensa/config.toml", config)
}

#[test]
fn user_defaults_give_the_template_regions_and_values() {
    let test = template(Test::new());
    let tpl = test.path().join("tpl").display().to_string();
    let config = format!(
        "template = \"{tpl}\"\nregions = [\"us\", \"eu\"]\n[values]\ndatabase = \"sqlite\"\n[templates.\"{tpl}\".values]\nfeatures = [\"logs\", \"metrics\"]\n"
    );
    let test = with_config(test, &config);
    let xdg = test.path().join("xdg");
    let out = test
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["create", "p", "--no-input", "--set", "api_token=t"])
        .run();
    assert_eq!(
        out.read("p/config.txt"),
        "db=sqlite features=logs,metrics module=p\n"
    );
    let manifest: serde_json::Value = out.json("p/addon-manifest.json");
    assert_eq!(manifest["api"]["regions"], serde_json::json!(["us", "eu"]));
}

#[test]
fn flags_win_over_user_defaults() {
    let test = template(Test::new());
    let xdg = test.path().join("xdg");
    let out = with_config(
        test,
        "regions = [\"us\", \"eu\"]\n[values]\ndatabase = \"sqlite\"\n",
    )
    .env("XDG_CONFIG_HOME", &xdg)
    .args(CREATE)
    .args([
        "--set",
        "api_token=t",
        "--set",
        "database=postgres",
        "--regions",
        "us",
    ])
    .run();
    assert!(out.read("p/config.txt").starts_with("db=postgres"));
    let manifest: serde_json::Value = out.json("p/addon-manifest.json");
    assert_eq!(manifest["api"]["regions"], serde_json::json!(["us"]));
}

#[test]
fn the_config_file_is_found_under_home_without_xdg_config_home() {
    let out = template(Test::new())
        .write(".config/kensa/config.toml", "regions = [\"us\", \"eu\"]\n")
        .args(["init", "--no-input"])
        .run();
    let manifest: serde_json::Value = out.json("addon-manifest.json");
    assert_eq!(manifest["api"]["regions"], serde_json::json!(["us", "eu"]));
}

#[test]
fn a_mistake_in_the_config_file_names_it_and_its_line() {
    let test = template(Test::new());
    let xdg = test.path().join("xdg");
    with_config(test, "template = \"node\"\nregoins = [\"us\"]\n")
        .env("XDG_CONFIG_HOME", &xdg)
        .args(CREATE)
        .status(2)
        .stderr_contains("kensa/config.toml")
        .stderr_contains("line 2")
        .unchanged()
        .run();
}
