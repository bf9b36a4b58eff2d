//! The last resource (`.kensa/last-resource.json`): `kensa test provision` remembers what
//! it left in place; `test sso|planchange|deprovision` and `kensa sso` without an id use
//! it and say which; a passing `test deprovision` forgets it.

use std::os::unix::fs::PermissionsExt;

use crate::harness::Sim;
use crate::stub::Addon;

#[test]
fn commands_without_an_id_use_the_last_resource_and_say_which() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["test", "provision"]);
    run.passes();
    let id = run.report["resource"]["id"].as_str().unwrap().to_owned();
    let uuid = run.report["resource"]["uuid"].as_str().unwrap().to_owned();
    let file = sim.path().join(".kensa/last-resource.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let sso = sim.json(&["test", "sso"]);
    sso.passes();
    assert!(
        sso.outcome.stderr.contains(&format!(
            "Using the last resource provisioned against addon-manifest.json: {id}, uuid {uuid}"
        )),
        "{}",
        sso.outcome
    );
    let params = sim.received("POST", "/sso/login").pop().unwrap().params();
    assert_eq!(
        params["resource_id"], uuid,
        "v3 SSO gets the remembered uuid"
    );
    assert!(!params.contains_key("id"), "v3 sends no v1 id: {params:?}");

    // An explicit id that is the last resource's also gets its uuid.
    sim.json(&["test", "sso", &id]).passes();
    let params = sim.received("POST", "/sso/login").pop().unwrap().params();
    assert_eq!(params["resource_id"], uuid);

    sim.json(&["test", "planchange", "premium"]).passes();
    assert_eq!(sim.stub.plan_of(&id).as_deref(), Some("premium"));

    sim.kensa(&["sso", "--no-browser", "--timeout", "1"])
        .stderr_has(&format!(
            "Using the last resource provisioned against addon-manifest.json: {id}"
        ));

    sim.json(&["test", "deprovision"]).passes();
    assert!(sim.stub.live().is_empty());
    assert!(!file.exists(), "a deprovisioned resource is forgotten");
    sim.kensa(&["test", "sso"])
        .status(2)
        .stderr_has("kensa test provision");
}

#[test]
fn a_broken_state_file_is_an_input_error_naming_it() {
    let sim = Sim::new(Addon::v3());
    std::fs::create_dir(sim.path().join(".kensa")).unwrap();
    sim.write(".kensa/last-resource.json", "{not json");
    sim.kensa(&["test", "sso"])
        .status(2)
        .stderr_has(".kensa/last-resource.json is not valid kensa state");
}
