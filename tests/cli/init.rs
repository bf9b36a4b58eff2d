//! `kensa init`: the manifest it writes by default and with each flag, the secrets, and
//! the input it refuses without writing anything.

use serde_json::json;

use crate::harness::{assert_dotenv_matches, assert_secret, dotenv, keys, mask_secrets, Test};

const MANIFEST: &str = "my-addon/addon-manifest.json";

/// `kensa init --no-input <args>` in `<tmp>/my-addon`, expected to succeed.
fn init(args: &[&str]) -> Test {
    Test::new()
        .current_dir("my-addon")
        .args(["init", "--no-input"])
        .args(args)
}

#[test]
fn defaults_write_the_protocol_shape() {
    let out = init(&[])
        .stdout_contains("Wrote addon-manifest.json for my-addon")
        .stdout_contains("http://localhost:5001")
        .stderr("")
        .changes([MANIFEST])
        .run();
    let manifest = out.json(MANIFEST);
    assert_eq!(
        mask_secrets(manifest.clone()),
        json!({
            "id": "my-addon",
            "name": "My Addon",
            "api": {
                "config_vars_prefix": "MY_ADDON",
                "config_vars": ["MY_ADDON_URL"],
                "password": "[password]",
                "sso_salt": "[sso_salt]",
                "regions": ["us"],
                "requires": [],
                "production": {
                    "base_url": "https://yourapp.com/heroku/resources",
                    "sso_url": "https://yourapp.com/sso/login"
                },
                "test": {
                    "base_url": "http://localhost:5001/heroku/resources",
                    "sso_url": "http://localhost:5001/sso/login"
                },
                "version": "3"
            }
        })
    );
    assert_eq!(keys(&manifest), ["id", "name", "api"]);
    assert_eq!(
        keys(&manifest["api"]),
        [
            "config_vars_prefix",
            "config_vars",
            "password",
            "sso_salt",
            "regions",
            "requires",
            "production",
            "test",
            "version"
        ]
    );
    assert_eq!(out.mode(MANIFEST), 0o600);
    assert!(out.read(MANIFEST).ends_with("}\n"), "ends with one newline");
    assert!(!out.exists("my-addon/.env"), "no .env without --foreman");
}

#[test]
fn id_defaults_to_the_directory_name_as_a_slug() {
    let out = Test::new()
        .current_dir("Cool Add-on 2")
        .args(["init", "--no-input"])
        .run();
    let manifest = out.json("Cool Add-on 2/addon-manifest.json");
    assert_eq!(manifest["id"], "cool-add-on-2");
    assert_eq!(manifest["name"], "Cool Add On 2");
    assert_eq!(manifest["api"]["config_vars"], json!(["COOL_ADD_ON_2_URL"]));
}

#[test]
fn no_input_is_the_same_as_a_non_terminal_stdin() {
    // The builder's stdin is never a terminal; without --no-input kensa must not prompt.
    let out = Test::new()
        .current_dir("my-addon")
        .arg("init")
        .changes([MANIFEST])
        .run();
    assert_eq!(out.json(MANIFEST)["id"], "my-addon");
}

#[test]
fn id_flag() {
    let out = init(&["--id", "shiny-db"]).run();
    let m = out.json(MANIFEST);
    assert_eq!(m["id"], "shiny-db");
    assert_eq!(m["name"], "Shiny Db");
    assert_eq!(m["api"]["config_vars_prefix"], "SHINY_DB");
    assert_eq!(m["api"]["config_vars"], json!(["SHINY_DB_URL"]));
}

#[test]
fn name_flag() {
    let out = init(&["--name", "Shiny Database™"]).run();
    let m = out.json(MANIFEST);
    assert_eq!(m["name"], "Shiny Database™");
    assert_eq!(m["id"], "my-addon");
}

#[test]
fn regions_flag() {
    let out = init(&["--regions", "us,eu"]).run();
    assert_eq!(out.json(MANIFEST)["api"]["regions"], json!(["us", "eu"]));
    assert!(out.stdout.contains("regions: us,eu"), "{}", out.stdout);
}

/// Regression (issue 16): `init --regions eu` and Private Space regions without `us` were
/// refused ("must include us"), though Heroku's own tooling writes such manifests and
/// `kensa test manifest` accepts them.
#[test]
fn regression_init_required_us_among_the_regions() {
    for regions in ["eu", "virginia,frankfurt"] {
        let out = init(&["--regions", regions]).run();
        let wanted: Vec<&str> = regions.split(',').collect();
        assert_eq!(out.json(MANIFEST)["api"]["regions"], json!(wanted));
    }
}

#[test]
fn sso_post_flag_is_the_default_shape() {
    let out = init(&["--sso", "post"]).run();
    let api = &out.json(MANIFEST)["api"];
    assert_eq!(api["test"]["sso_url"], "http://localhost:5001/sso/login");
    assert_secret(api["sso_salt"].as_str().unwrap());
}

#[test]
fn sso_get_writes_legacy_string_urls() {
    let out = init(&["--sso", "get"]).run();
    let api = &out.json(MANIFEST)["api"];
    assert_eq!(api["production"], "https://yourapp.com/");
    assert_eq!(api["test"], "http://localhost:5001/");
    assert_secret(api["sso_salt"].as_str().unwrap());
}

/// The short `-s` and the original Ruby kensa's `--post` write the same shapes as
/// `--sso get` and `--sso post`.
#[test]
fn short_s_and_post_spell_the_sso_shape() {
    let get = init(&["-s", "get"]).run();
    assert_eq!(get.json(MANIFEST)["api"]["test"], "http://localhost:5001/");
    let post = init(&["--post"]).run();
    let api = &post.json(MANIFEST)["api"];
    assert_eq!(api["test"]["sso_url"], "http://localhost:5001/sso/login");
    assert_secret(api["sso_salt"].as_str().unwrap());
    init(&["--post", "-s", "get"])
        .status(2)
        .stderr_contains("--post")
        .unchanged()
        .run();
}

#[test]
fn without_sso_has_no_salt_and_no_sso_url() {
    let out = init(&["--without-sso"]).run();
    let m = out.json(MANIFEST);
    let api = m["api"].as_object().unwrap();
    assert!(!api.contains_key("sso_salt"), "{m:#}");
    assert_eq!(
        api["production"],
        json!({"base_url": "https://yourapp.com/heroku/resources"})
    );
    assert_eq!(
        api["test"],
        json!({"base_url": "http://localhost:5001/heroku/resources"})
    );
    assert!(!out.read(MANIFEST).contains("sso"), "{m:#}");
}

#[test]
fn sso_and_without_sso_conflict() {
    init(&["--sso", "get", "--without-sso"])
        .status(2)
        .stderr_contains("--without-sso")
        .unchanged()
        .run();
}

#[test]
fn foreman_writes_a_private_env_matching_the_manifest_on_the_default_port() {
    let out = init(&["--foreman"])
        .stdout_contains("(mode 0600)")
        .changes([MANIFEST, "my-addon/.env"])
        .run();
    let m = out.json(MANIFEST);
    assert_eq!(
        m["api"]["test"],
        json!({
            "base_url": "http://localhost:5001/heroku/resources",
            "sso_url": "http://localhost:5001/sso/login"
        })
    );
    assert_eq!(out.mode("my-addon/.env"), 0o600);
    let env = out.read("my-addon/.env");
    assert_dotenv_matches(&env, &m);
    assert_eq!(dotenv(&env)["HEROKU_USERNAME"], "my-addon");
}

#[test]
fn foreman_env_goes_beside_a_manifest_given_by_path() {
    let out = init(&["--foreman", "-f", "config/m.json"])
        .mkdir("my-addon/config")
        .changes(["my-addon/config/m.json", "my-addon/config/.env"])
        .run();
    assert_eq!(out.mode("my-addon/config/.env"), 0o600);
    assert_dotenv_matches(
        &out.read("my-addon/config/.env"),
        &out.json("my-addon/config/m.json"),
    );
}

#[test]
fn foreman_refuses_to_replace_an_existing_env() {
    Test::new()
        .write("my-addon/.env", "MINE=1\n")
        .current_dir("my-addon")
        .args(["init", "--no-input", "--foreman"])
        .status(2)
        .stderr_contains(".env already exists")
        .stderr_contains("--force")
        .unchanged()
        .run();
}

#[test]
fn port_flag() {
    let out = init(&["--port", "8080"])
        .stdout_contains("http://localhost:8080")
        .run();
    assert_eq!(
        out.json(MANIFEST)["api"]["test"]["base_url"],
        "http://localhost:8080/heroku/resources"
    );
}

#[test]
fn port_flag_wins_over_foreman() {
    let out = init(&["--foreman", "--port", "3000"]).run();
    assert_eq!(
        out.json(MANIFEST)["api"]["test"]["base_url"],
        "http://localhost:3000/heroku/resources"
    );
}

#[test]
fn filename_flag_short_and_long() {
    for flag in ["-f", "--filename"] {
        let out = init(&[flag, "manifests/addon.json", "--id", "by-path"])
            .mkdir("my-addon/manifests")
            .changes(["my-addon/manifests/addon.json"])
            .run();
        assert_eq!(out.json("my-addon/manifests/addon.json")["id"], "by-path");
        assert!(!out.exists(MANIFEST));
    }
}

/// Issue 15: the README's `kensa init --port 8080 -f config/addon-manifest.json` failed in
/// a fresh project because `config/` did not exist. init makes the missing directories.
#[test]
fn regression_init_into_a_missing_directory_failed() {
    let out = init(&[
        "--port",
        "8080",
        "-f",
        "config/addon-manifest.json",
        "--force",
    ])
    .stdout_contains("Wrote config/addon-manifest.json")
    .changes(["my-addon/config"])
    .run();
    let m = out.json("my-addon/config/addon-manifest.json");
    assert_eq!(
        m["api"]["test"]["base_url"],
        "http://localhost:8080/heroku/resources"
    );
    let out = init(&["-f", "no/such/dir/m.json"])
        .changes(["my-addon/no"])
        .run();
    assert!(out.json("my-addon/no/such/dir/m.json")["id"].is_string());
}

/// The directories init made are taken away again when the manifest cannot be written
/// after all (here: a file name longer than the file system allows).
#[test]
fn a_failed_init_leaves_no_directories_behind() {
    let long = format!("new/dir/{}.json", "m".repeat(300));
    init(&["-f", &long])
        .stderr_contains("cannot write new/dir/mmm")
        .unchanged()
        .run_failing();
}

#[test]
fn filename_from_the_kensa_manifest_environment_variable() {
    let out = init(&[])
        .env("KENSA_MANIFEST", "from-env.json")
        .changes(["my-addon/from-env.json"])
        .run();
    assert_eq!(out.json("my-addon/from-env.json")["id"], "my-addon");
}

#[test]
fn an_existing_manifest_is_left_byte_identical_without_force() {
    let original = b"{ \"id\": \"hand-written\" }  \n";
    let out = Test::new()
        .write(MANIFEST, original)
        .current_dir("my-addon")
        .args(["init", "--no-input", "--id", "other"])
        .status(2)
        .stderr_contains("addon-manifest.json already exists")
        .stderr_contains("--force")
        .stdout("")
        .unchanged()
        .run();
    assert_eq!(out.bytes(MANIFEST), original);
}

#[test]
fn force_replaces_an_existing_manifest() {
    let first = init(&[]).run();
    let old = first.json(MANIFEST);
    let second = first
        .then()
        .current_dir("my-addon")
        .args(["init", "--no-input", "--force", "--id", "replaced"])
        .changes([MANIFEST])
        .run();
    let new = second.json(MANIFEST);
    assert_eq!(new["id"], "replaced");
    assert_ne!(new["api"]["password"], old["api"]["password"]);
    // The atomic write leaves no temp file beside the manifest.
    assert_eq!(second.files("my-addon"), ["addon-manifest.json"]);
}

#[test]
fn secrets_are_32_alphanumerics_distinct_and_fresh_on_every_run() {
    let secrets = |out: &crate::harness::Output| {
        let m = out.json(MANIFEST);
        let password = m["api"]["password"].as_str().unwrap().to_owned();
        let salt = m["api"]["sso_salt"].as_str().unwrap().to_owned();
        assert_secret(&password);
        assert_secret(&salt);
        assert_ne!(password, salt);
        (password, salt)
    };
    let (p1, s1) = secrets(&init(&[]).run());
    let (p2, s2) = secrets(&init(&[]).run());
    assert_ne!(p1, p2);
    assert_ne!(s1, s2);
    assert_ne!(p1, s2);
    assert_ne!(s1, p2);
}

/// Each of these is refused with exit 2, names the offending flag, and writes nothing.
#[test]
fn invalid_flags_exit_2_naming_the_flag_and_write_nothing() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--id", "My_Addon"], &["--id", "My_Addon", "slug"]),
        (&["--id", "9lives"], &["--id", "9lives"]),
        (&["--id", "a--b"], &["--id"]),
        (&["--id", ""], &["--id"]),
        (&["--name", "  "], &["--name"]),
        (&["--regions", "us,mars"], &["--regions", "mars"]),
        (&["--regions", ""], &["--regions", "at least one"]),
        (&["--port", "0"], &["--port", "0"]),
        (&["--port", "70000"], &["--port", "70000"]),
        (&["--port", "http"], &["--port"]),
        (&["--sso", "saml"], &["--sso", "saml"]),
    ];
    for (args, needles) in cases {
        let mut test = Test::new()
            .current_dir("my-addon")
            .args(["init", "--no-input"])
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
fn invalid_flags_do_not_touch_an_existing_manifest_even_with_force() {
    let original = "{\"id\": \"mine\"}";
    Test::new()
        .write(MANIFEST, original)
        .current_dir("my-addon")
        .args(["init", "--force", "--regions", "mars"])
        .status(2)
        .stderr_contains("--regions")
        .unchanged()
        .run();
}
