//! `kensa test …` and `kensa run` against the in-process stub provider (`stub.rs`): a
//! correct provider passes in every manifest shape and API version, what kensa sends is
//! what the protocol says, the report formats parse, and the exit codes hold. The checks
//! one misbehaving provider each makes fail live in `simulator_checks.rs`.

use std::fs;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use crate::harness::junit::{num, parse_junit};
use crate::harness::{keys, v1_warning, Sim, MANIFEST};
use crate::stub::{Addon, Misbehaviour, Recorded, Shape, Stub, Version, PASSWORD, SALT};

fn all_combinations() -> Vec<Addon> {
    let mut out = Vec::new();
    for shape in [Shape::Urls, Shape::Root] {
        for version in [Version::V3, Version::V1] {
            out.push(Addon::new(shape, version));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// A correct provider passes, in both shapes and both versions.

fn correct_provider_passes(addon: Addon) {
    let sim = Sim::new(addon.clone());
    let run = sim.test_all();
    run.warns_only(&v1_warning(&addon));
    let sso = match addon.shape {
        Shape::Urls => "SSO POST",
        Shape::Root => "SSO GET",
    };
    let sections: Vec<String> = run.report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    let url = sim.resources_url();
    assert_eq!(
        sections,
        [
            format!("manifest {MANIFEST}"),
            format!("POST {url}"),
            format!("PUT {url}/res-1"),
            match addon.shape {
                Shape::Urls => format!("{sso} {}/sso/login", sim.stub.url()),
                Shape::Root => format!("{sso} {url}/res-1"),
            },
            format!("DELETE {url}/res-1"),
        ],
        "{}",
        run.listing()
    );
    for name in [
        "an unknown request field is accepted",
        "response",
        "answered within 3 s",
        "valid JSON",
        "id",
        "config is an object",
        "config keys are declared",
        "every declared config var is returned",
        "config values are strings",
        "config URLs are valid",
        "wrong credentials get 401",
        "no credentials get 401",
        "same uuid gives the same resource",
        "a new uuid gives a new id",
        "an unknown plan gets 422 with a message",
        "extra resources are deprovisioned",
    ] {
        run.status_of("POST", name, "pass", "");
    }
    // The heroku_id check is for v1 only: v3 sends no heroku_id.
    match addon.version {
        Version::V1 => {
            run.status_of("POST", "id is not derived from heroku_id", "pass", "");
        }
        Version::V3 => assert!(
            run.checks().iter().all(|c| !c.name.contains("heroku_id")),
            "{}",
            run.listing()
        ),
    }
    for name in [
        "wrong token gets 403",
        "timestamp 6 minutes old gets 403",
        "timestamp 6 minutes ahead gets 403",
        "good token logs in",
        "heroku-nav-data cookie is set",
        "Heroku layout",
    ] {
        run.status_of("SSO", name, "pass", "");
    }
    for kind in ["PUT", "DELETE"] {
        for name in [
            "wrong credentials get 401",
            "no credentials get 401",
            "answered within 3 s",
        ] {
            run.status_of(kind, name, "pass", "");
        }
    }
    // Without --plan kensa changes to a plan the add-on does not have: refusing it is right.
    run.status_of("PUT", "response", "skip", "rightly refused")
        .status_of("PUT", "an unknown plan gets 422 with a message", "pass", "")
        .status_of("PUT", "a change to the current plan is a no-op", "pass", "")
        .status_of("DELETE", "response", "pass", "")
        .status_of("DELETE", "a second DELETE gets 2xx, 404 or 410", "pass", "")
        .status_of(
            "DELETE",
            "provisioning the deprovisioned uuid again gets 410",
            "pass",
            "",
        );
    // Everything kensa provisioned, the extra resources included, is gone.
    assert_eq!(sim.stub.live(), Vec::<String>::new());
    assert_eq!(run.report["resource"], Value::Null);
}

#[test]
fn correct_provider_passes_with_object_urls_v3() {
    correct_provider_passes(Addon::new(Shape::Urls, Version::V3));
}

#[test]
fn correct_provider_passes_with_object_urls_v1() {
    correct_provider_passes(Addon::new(Shape::Urls, Version::V1));
}

#[test]
fn correct_provider_passes_with_root_url_v3() {
    correct_provider_passes(Addon::new(Shape::Root, Version::V3));
}

#[test]
fn correct_provider_passes_with_root_url_v1() {
    correct_provider_passes(Addon::new(Shape::Root, Version::V1));
}

#[test]
fn correct_provider_passes_with_log_input_and_syslog_drain() {
    let addon = Addon::v3().requiring("log_input").requiring("syslog_drain");
    let sim = Sim::new(addon);
    let run = sim.test_all();
    run.passes()
        .status_of("POST", "log_drain_url", "pass", "")
        // The stub writes a line to the app's logs after provisioning; kensa's log sink
        // took it, framed as logplex wants it.
        .status_of("calls", "log posts are framed for logplex", "pass", "")
        .status_of(
            "calls",
            "log posts name the add-on in User-Agent",
            "pass",
            "",
        );
    // One line per resource the stub made (the provision's, and the new uuid's).
    let name = run.check("calls", "log posts are framed for logplex").name;
    assert!(
        name.starts_with("log posts are framed for logplex (") && !name.contains("(0 "),
        "{name}"
    );
    let body = sim.received("POST", "/heroku/resources")[0].json();
    let uuid = body["uuid"].as_str().unwrap();
    // Heroku's log_input_url carries its credentials; kensa's points at its log sink.
    let log_input_url = body["log_input_url"].as_str().unwrap();
    assert!(
        log_input_url.starts_with(&format!("http://token:t.{uuid}@127.0.0.1:"))
            && log_input_url.ends_with("/logs"),
        "{body}"
    );
    assert!(
        body["log_drain_token"]
            .as_str()
            .is_some_and(|t| t.contains(uuid)),
        "{body}"
    );
}

#[test]
fn bare_test_is_test_all() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["test"]);
    run.passes();
    assert_eq!(
        run.section_kinds(),
        ["manifest", "POST", "PUT", "SSO", "DELETE"]
    );
    assert!(sim.stub.live().is_empty());
}

#[test]
fn human_output_has_the_old_kensa_shape() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "all"]);
    out.status(0)
        .stdout_has(&format!("Testing manifest {MANIFEST}\n"))
        .stdout_has("  Check id is a non-blank string [PASS]\n")
        .stdout_has(&format!("Testing POST {}\n", sim.resources_url()))
        .stdout_has("  Check response [PASS]\n")
        .stdout_has("  Check no credentials get 401 [PASS]\n")
        .stdout_has(&format!("Testing SSO POST {}/sso/login\n", sim.stub.url()))
        .stdout_has("  Check good token logs in [PASS]\n")
        .stdout_has(&format!("Testing DELETE {}/res-1\n", sim.resources_url()));
    // The plan change went to kensa's made-up plan, so the real change is skipped.
    assert!(
        out.stdout.contains("\nkensa: ") && out.stdout.contains(" checks passed, 1 skipped\n"),
        "{out}"
    );
    assert!(
        !out.stdout.contains('\x1b'),
        "no colour off a terminal:\n{out}"
    );
    assert!(
        !out.stdout.contains("Provisioned resource"),
        "test all leaves nothing behind:\n{out}"
    );
}

#[test]
fn colour_only_when_asked_off_a_terminal() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["--color", "always", "test", "manifest"]);
    out.status(0);
    assert!(out.stdout.contains("\x1b["), "{out}");
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["--color", "never", "test", "manifest"]);
    assert!(!out.stdout.contains('\x1b'), "{out}");
}

#[test]
fn human_output_indents_failure_details() {
    let sim = Sim::new(Addon::v3());
    sim.stub
        .misbehave(Misbehaviour::ProvisionAcceptsWrongPassword);
    let out = sim.kensa(&["test", "all"]);
    out.status(1)
        .stdout_has(&format!("Testing POST {}\n", sim.resources_url()))
        .stdout_has("  Check response [PASS]\n")
        .stdout_has(
            "  Check wrong credentials get 401 [FAIL]\n    ! expected 401, got 201: the provider accepted a request with a wrong password\n",
        )
        .stdout_has("  Check no credentials get 401 [PASS]\n")
        .stdout_has("kensa: 1 check failed, ");
    assert!(sim.stub.live().is_empty(), "{:?}", sim.stub.live());
}

// ---------------------------------------------------------------------------------------
// What kensa sends.

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[test]
fn v3_provision_sends_the_v3_body_and_headers() {
    let sim = Sim::new(Addon::v3());
    sim.json(&[
        "test",
        "provision",
        "--foo",
        "bar",
        "--size=2",
        "--fast",
        "--region-name",
        "x y",
    ])
    .passes();
    let posts = sim.received("POST", "/heroku/resources");
    let first = &posts[0];
    assert_eq!(
        first.header("authorization"),
        Some(basic("stubby", PASSWORD).as_str())
    );
    // Regression: kensa added an `application/json` fallback that hid a provider's 406.
    assert_eq!(
        first.header("accept"),
        Some("application/vnd.heroku-addons+json; version=3"),
        "the v3 Accept header alone"
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    let body = first.json();
    let uuid = body["uuid"].as_str().expect("uuid");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{uuid}");
    assert!(
        body["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{body}"
    );
    assert_eq!(body["plan"], "test");
    assert!(
        body["region"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    // Heroku's callback for this resource (kensa may point it at a loopback fake).
    let callback = body["callback_url"].as_str().expect("callback_url");
    assert!(
        url::Url::parse(callback).is_ok() && callback.ends_with(&format!("/addons/{uuid}")),
        "{callback}"
    );
    let grant = &body["oauth_grant"];
    assert!(
        grant["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert_eq!(grant["type"], "authorization_code");
    // In the format of Heroku's documented example, 2016-03-03T18:01:31-0800.
    let expires = grant["expires_at"].as_str().expect("expires_at");
    let shape = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-0800$").unwrap();
    assert!(shape.is_match(expires), "expires_at {expires:?}");
    // An unknown field rides along, which a provider must ignore.
    assert!(body.get("kensa_undocumented_field").is_some(), "{body}");
    assert_eq!(
        body["options"],
        json!({"foo": "bar", "size": "2", "fast": "true", "region-name": "x y"})
    );
    assert!(
        body.get("heroku_id").is_none(),
        "v3 sends no heroku_id: {body}"
    );
    // No log fields without the features that need them.
    assert!(body.get("log_input_url").is_none() && body.get("log_drain_token").is_none());

    // The redelivery is the very same body; the next provision is a new uuid; then one
    // for a plan the add-on does not have.
    assert_eq!(
        posts.len(),
        6,
        "provision, 2 auth checks, redelivery, new uuid, unknown plan"
    );
    let authed: Vec<&Recorded> = posts
        .iter()
        .filter(|r| r.basic() == Some(("stubby".into(), PASSWORD.into())))
        .collect();
    assert_eq!(authed.len(), 4);
    assert_eq!(authed[1].json(), body, "a redelivery repeats the request");
    assert_ne!(authed[2].json()["uuid"], body["uuid"]);
    assert_eq!(authed[3].json()["plan"], "kensa-no-such-plan");
    let wrong: Vec<&Recorded> = posts
        .iter()
        .filter(|r| r.basic().is_some_and(|(_, p)| p != PASSWORD))
        .collect();
    assert_eq!(wrong.len(), 1);
    assert_eq!(wrong[0].basic().unwrap().0, "stubby");
    assert_eq!(
        posts
            .iter()
            .filter(|r| r.header("authorization").is_none())
            .count(),
        1
    );
}

#[test]
fn v1_provision_sends_the_v1_body() {
    let sim = Sim::new(Addon::v1());
    let run = sim.json(&["test", "provision", "--foo", "bar"]);
    run.warns_only(&v1_warning(&sim.addon));
    let first = &sim.received("POST", "/heroku/resources")[0];
    assert_eq!(first.header("accept"), Some("application/json"));
    assert_eq!(
        first.header("authorization"),
        Some(basic("stubby", PASSWORD).as_str())
    );
    let body = first.json();
    let heroku_id = body["heroku_id"].as_str().expect("heroku_id");
    assert!(
        heroku_id.starts_with("app") && heroku_id.contains("@"),
        "{heroku_id}"
    );
    for key in ["logplex_token", "callback_url", "region", "uuid"] {
        assert!(
            body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key} in {body}"
        );
    }
    assert_eq!(body["plan"], "test");
    assert_eq!(body["options"], json!({"foo": "bar"}));
    assert!(body.get("oauth_grant").is_none(), "{body}");
    // `test provision` leaves the resource in place and says so.
    assert_eq!(sim.stub.live(), ["res-1"]);
    assert_eq!(run.report["resource"]["id"], "res-1");
    assert_eq!(run.report["resource"]["uuid"], body["uuid"]);
}

#[test]
fn test_provision_names_the_resource_left_behind() {
    let sim = Sim::new(Addon::v3());
    sim.kensa(&["test", "provision"])
        .status(0)
        .stdout_has("Provisioned resource res-1 (uuid ")
        .stdout_has("`kensa test deprovision res-1` removes it");
    assert_eq!(sim.stub.live(), ["res-1"]);
}

#[test]
fn sso_sends_every_parameter_with_valid_tokens() {
    for shape in [Shape::Urls, Shape::Root] {
        let sim = Sim::new(Addon::new(shape, Version::V3));
        sim.test_all().passes();
        let uuid = sim.received("POST", "/heroku/resources")[0].json()["uuid"]
            .as_str()
            .unwrap()
            .to_owned();
        let sso: Vec<Recorded> = match shape {
            Shape::Urls => sim.received("POST", "/sso/login"),
            Shape::Root => sim.received("GET", "/heroku/resources/res-1"),
        };
        assert_eq!(sso.len(), 4, "wrong token, old, future, good");
        let good = &sso[3];
        assert!(
            good.header("authorization").is_none(),
            "no Basic auth on SSO"
        );
        if shape == Shape::Urls {
            assert_eq!(
                good.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
        }
        let p = good.params();
        let ts: i64 = p["timestamp"].parse().unwrap();
        assert!((kensa::sso::now() - ts).abs() < 60, "a fresh timestamp");
        // v3: the v3 parameters and tokens, as Heroku sends them to v3 add-ons; not v1's.
        assert!(!p.contains_key("id") && !p.contains_key("token"), "{p:?}");
        assert_eq!(p["resource_id"], uuid);
        assert_eq!(
            p["resource_token"],
            kensa::sso::resource_token(&uuid, SALT, ts)
        );
        assert_eq!(
            p["user_scoped_resource_token"],
            kensa::sso::user_scoped_token(&uuid, SALT, ts, &p["user_id"], &p["email"])
        );
        assert!(p["email"].contains('@'));
        assert!(!p["user_id"].is_empty());
        assert!(!p["app"].is_empty());
        assert_eq!(p["context_app"], p["app"]);
        let nav: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(&p["nav-data"])
                .expect("nav-data is unpadded base64url"),
        )
        .expect("nav-data is JSON");
        assert_eq!(nav["appname"], json!(p["app"]));

        // The bad requests: another salt, then 6 minutes back and ahead.
        let wrong = sso[0].params();
        assert_ne!(
            wrong["resource_token"],
            kensa::sso::resource_token(&uuid, SALT, wrong["timestamp"].parse().unwrap())
        );
        let old: i64 = sso[1].params()["timestamp"].parse().unwrap();
        let ahead: i64 = sso[2].params()["timestamp"].parse().unwrap();
        assert!((ts - old - 360).abs() <= 5, "{ts} {old}");
        assert!((ahead - ts - 360).abs() <= 5, "{ts} {ahead}");
        assert_eq!(
            sso[1].params()["resource_token"],
            kensa::sso::resource_token(&uuid, SALT, old),
            "the old request is otherwise valid"
        );

        // The redirect was followed with the cookies set.
        let page = sim.received("GET", "/");
        assert_eq!(page.len(), 1);
        let cookie = page[0].header("cookie").unwrap_or_default();
        assert!(cookie.contains("stub_session="), "{cookie}");
        assert!(
            cookie.contains(&format!("heroku-nav-data={}", p["nav-data"])),
            "{cookie}"
        );
    }
}

/// Regression: `test sso <id>` on a v3 manifest sent only v1's `id` and `token`, which
/// Heroku does not send to v3 add-ons, so a correct v3 provider refused every request (and
/// the "gets 403" checks passed for nothing).
#[test]
fn regression_test_sso_on_v3_sent_only_the_v1_id_and_token() {
    let uuid = "01234567-89ab-cdef-0123-456789abcdef";
    // With --uuid: the v3 parameters and tokens, and no v1 ones.
    let sim = Sim::new(Addon::v3());
    sim.stub.seed("res-42", Some(uuid));
    sim.json(&["test", "sso", "res-42", "--uuid", uuid])
        .passes();
    let good = sim.received("POST", "/sso/login").pop().unwrap().params();
    let ts: i64 = good["timestamp"].parse().unwrap();
    assert_eq!(good["resource_id"], uuid);
    assert_eq!(
        good["resource_token"],
        kensa::sso::resource_token(uuid, SALT, ts)
    );
    assert!(
        !good.contains_key("id") && !good.contains_key("token"),
        "{good:?}"
    );
    assert_eq!(sim.stub.live(), ["res-42"], "test sso deletes nothing");

    // Without one, and no resource kensa remembers: exit 2 saying how to give it.
    let sim = Sim::new(Addon::v3());
    sim.stub.seed("res-42", Some(uuid));
    sim.kensa(&["test", "sso", "res-42"])
        .status(2)
        .stderr_has("--uuid <uuid>")
        .stderr_has("kensa test provision");
    assert!(sim.stub.requests().is_empty());
}

/// `test sso <id>` after `test provision` takes the uuid kensa remembered in
/// `.kensa/last-resource.json` beside the manifest, and says which resource it used.
#[test]
fn test_sso_uses_the_resource_kensa_provisioned_last() {
    let sim = Sim::new(Addon::v3());
    let provisioned = sim.json(&["test", "provision"]);
    provisioned.passes();
    let uuid = provisioned.report["resource"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = sim.path().join(".kensa/last-resource.json");
    let state: Value = serde_json::from_str(&fs::read_to_string(&last).unwrap()).unwrap();
    assert_eq!(state["id"], "res-1");
    assert_eq!(state["uuid"], uuid.as_str());
    assert_eq!(state["plan"], "test");
    assert!(state["manifest"].as_str().unwrap().ends_with(MANIFEST));
    let run = sim.json(&["test", "sso", "res-1"]);
    run.passes();
    run.outcome
        .stderr_has(&format!("Using uuid {uuid} for res-1"));
    let good = sim.received("POST", "/sso/login").pop().unwrap().params();
    assert_eq!(good["resource_id"], uuid);
    // Another id is not the remembered resource.
    sim.kensa(&["test", "sso", "res-9"])
        .status(2)
        .stderr_has("the last resource kensa provisioned against this manifest is res-1");
    // Deprovisioning it forgets it.
    sim.json(&["test", "deprovision", "res-1"]).passes();
    assert!(!last.exists());
}

/// v1 sign-on stays v1: `id` and `token`, no uuid needed.
#[test]
fn standalone_sso_on_v1_sends_the_v1_id_and_token() {
    let sim = Sim::new(Addon::v1());
    sim.stub.seed("res-42", None);
    sim.json(&["test", "sso", "res-42"])
        .warns_only(&v1_warning(&sim.addon));
    let good = sim.received("POST", "/sso/login").pop().unwrap().params();
    let ts: i64 = good["timestamp"].parse().unwrap();
    assert_eq!(good["id"], "res-42");
    assert_eq!(good["token"], kensa::sso::v1_token("res-42", SALT, ts));
    assert!(!good.contains_key("resource_id"), "{good:?}");
}

#[test]
fn standalone_deprovision_and_planchange() {
    let sim = Sim::new(Addon::v3());
    sim.stub.seed("res-7", None);
    let run = sim.json(&["test", "planchange", "res-7", "premium"]);
    run.passes();
    assert_eq!(run.section_kinds(), ["manifest", "PUT"]);
    let put = sim.received("PUT", "/heroku/resources/res-7");
    assert_eq!(
        put.len(),
        4,
        "two bad credentials, the change, the same plan again"
    );
    assert_eq!(put[2].json()["plan"], "premium");
    assert_eq!(put[3].json()["plan"], "premium");
    assert_eq!(
        put[2].header("authorization"),
        Some(basic("stubby", PASSWORD).as_str())
    );
    assert_eq!(sim.stub.plan_of("res-7").as_deref(), Some("premium"));

    let run = sim.json(&["test", "deprovision", "res-7"]);
    run.passes();
    assert_eq!(run.section_kinds(), ["manifest", "DELETE"]);
    assert!(sim.stub.live().is_empty());

    // An unknown id: the provider's 404 is a failure of the deprovision.
    sim.json(&["test", "deprovision", "res-7"]).fails_only(&[(
        "DELETE",
        "response",
        "expected 200 or 204, got 404",
    )]);
}

#[test]
fn plan_flag_sets_the_provision_plan_and_the_change_target() {
    // Defaults: provision "test", plan change to "foo".
    let sim = Sim::new(Addon::v3());
    sim.test_all().passes();
    assert_eq!(
        sim.received("POST", "/heroku/resources")[0].json()["plan"],
        "test"
    );
    // Two with bad credentials, the change, and the current plan again (a no-op).
    let puts = sim.received("PUT", "/heroku/resources/res-1");
    assert_eq!(puts[2].json()["plan"], "foo");
    assert_eq!(
        puts[3].json()["plan"],
        "test",
        "the plan the resource is still on"
    );
    assert_eq!(
        puts[2].json()["uuid"],
        sim.received("POST", "/heroku/resources")[0].json()["uuid"],
        "the plan change names the resource's uuid"
    );

    // `all --plan bar`: still provisions "test", changes to "bar".
    let sim = Sim::new(Addon::v3());
    sim.json(&["test", "all", "--plan", "bar"]).passes();
    assert_eq!(
        sim.received("POST", "/heroku/resources")[0].json()["plan"],
        "test"
    );
    let puts = sim.received("PUT", "/heroku/resources/res-1");
    assert_eq!(puts[2].json()["plan"], "bar");
    assert_eq!(puts[3].json()["plan"], "bar", "the same plan again");

    // `provision --plan premium`: provisions "premium".
    let sim = Sim::new(Addon::v3());
    sim.json(&["test", "provision", "--plan", "premium"])
        .passes();
    // Every provision asks for it, but the one checking that a made-up plan is refused.
    assert!(sim
        .received("POST", "/heroku/resources")
        .iter()
        .all(|r| r.json()["plan"] == "premium" || r.json()["plan"] == "kensa-no-such-plan"));
    assert_eq!(sim.stub.plan_of("res-1").as_deref(), Some("premium"));
}

#[test]
fn v1_plan_change_sends_heroku_id() {
    let sim = Sim::new(Addon::v1());
    sim.test_all().warns_only(&v1_warning(&sim.addon));
    let heroku_id = sim.received("POST", "/heroku/resources")[0].json()["heroku_id"].clone();
    let put = sim.received("PUT", "/heroku/resources/res-1")[2].clone();
    assert_eq!(put.json()["heroku_id"], heroku_id);
    assert_eq!(put.json()["plan"], "foo");
}

/// Regression: a v1 `test planchange <id> <plan>` run alone sent no `heroku_id` (only
/// `test all` did), so a v1 provider that requires it answered 500.
#[test]
fn regression_a_v1_planchange_alone_sent_no_heroku_id() {
    let sim = Sim::new(Addon::v1());
    sim.stub.seed("res-7", None);
    sim.json(&["test", "planchange", "res-7", "premium"])
        .warns_only(&v1_warning(&sim.addon));
    let put = sim.received("PUT", "/heroku/resources/res-7")[2].json();
    let heroku_id = put["heroku_id"].as_str().expect("heroku_id");
    assert!(
        heroku_id.starts_with("app") && heroku_id.ends_with("@kensa.heroku.com"),
        "{put}"
    );
}

#[test]
fn verbose_prints_requests_without_secrets() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "all", "--verbose"]);
    out.status(0)
        .stderr_has(&format!("> POST {}", sim.resources_url()))
        .stderr_has("> Authorization: Basic stubby:********")
        .stderr_has("< 201")
        .stderr_has(&format!("> DELETE {}/res-1", sim.resources_url()))
        .stderr_has("< 204");
    let encoded = STANDARD.encode(format!("stubby:{PASSWORD}"));
    for secret in [PASSWORD, SALT, encoded.as_str()] {
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "{secret} leaked\n{out}"
        );
    }
    // Without --verbose, stderr stays quiet.
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "all"]);
    out.status(0);
    assert_eq!(out.stderr, "", "{out}");
}

// ---------------------------------------------------------------------------------------
// Report formats.

#[test]
fn json_document_has_the_documented_shape() {
    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::PlanChangeStatus(422));
    let run = sim.json(&["test", "all", "--plan", "premium"]);
    let doc = &run.report;
    assert_eq!(
        keys(doc),
        [
            "kensa_version",
            "manifest",
            "target",
            "passed",
            "error",
            "strict",
            "resource",
            "summary",
            "sections"
        ]
    );
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(doc["strict"], false);
    assert_eq!(doc["kensa_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["manifest"], MANIFEST);
    assert_eq!(doc["target"], "test");
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["resource"], Value::Null);

    let checks = run.checks();
    let count = |s: &str| checks.iter().filter(|c| c.status == s).count();
    let summary = &doc["summary"];
    assert_eq!(keys(summary), ["total", "pass", "fail", "warn", "skip"]);
    assert_eq!(summary["total"], checks.len());
    for status in ["pass", "fail", "warn", "skip"] {
        assert_eq!(summary[status], count(status), "{status}");
    }
    assert_eq!(summary["fail"], 1);
    for section in doc["sections"].as_array().unwrap() {
        assert_eq!(keys(section), ["id", "name", "duration_ms", "checks"]);
        assert!(section["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
        for check in section["checks"].as_array().unwrap() {
            assert_eq!(
                keys(check),
                [
                    "id",
                    "name",
                    "status",
                    "severity",
                    "message",
                    "duration_ms",
                    "request",
                    "rule",
                    "source"
                ]
            );
            // Each check carries its rule and where it comes from (issue 16).
            let def = kensa::registry::find(check["id"].as_str().unwrap()).unwrap();
            assert_eq!(check["severity"], def.severity.label());
            assert_eq!(check["rule"], def.rule);
            assert_eq!(keys(&check["source"]), ["protocol", "row", "heroku"]);
            assert_eq!(check["source"]["row"], def.row);
            assert!(check["source"]["protocol"]
                .as_str()
                .unwrap()
                .starts_with("docs/protocol.md#"));
            assert!(check["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
            let status = check["status"].as_str().unwrap();
            assert!(["pass", "fail", "warn", "skip"].contains(&status));
            assert_eq!(check["message"].is_null(), status == "pass", "{check}");
            let request = &check["request"];
            if !request.is_null() {
                assert_eq!(keys(request), ["method", "url"]);
            }
        }
    }
    let failed = run.check("PUT", "response");
    assert_eq!(
        failed.check["request"],
        json!({"method": "PUT", "url": format!("{}/res-1", sim.resources_url())})
    );
    assert!(failed
        .message
        .unwrap()
        .contains("expected 2xx for the plan \"premium\" kensa sent, got 422"));
    let manifest_check = run.check("manifest", "id is a non-blank string");
    assert_eq!(manifest_check.check["request"], Value::Null);
    let provision = run.check("POST", "response");
    assert_eq!(provision.check["request"]["method"], "POST");
    assert_eq!(provision.check["request"]["url"], sim.resources_url());
    // Even a failed plan change deprovisions.
    assert!(sim.stub.live().is_empty());
}

#[test]
fn json_resource_names_what_test_provision_left() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["test", "provision"]);
    run.passes();
    let uuid = sim.received("POST", "/heroku/resources")[0].json()["uuid"].clone();
    assert_eq!(
        run.report["resource"],
        json!({"id": "res-1", "uuid": uuid, "plan": "test"})
    );
}

#[test]
fn json_production_target() {
    // A closed loopback port as production: the calls fail at once, and nothing leaves
    // this machine.
    let addon = Addon::v3();
    let stub = Stub::start(&addon);
    let closed = crate::stub::closed_port();
    let manifest =
        addon.manifest_with_production(stub.port(), &format!("https://127.0.0.1:{closed}"));
    let sim = Sim::with_manifest(addon, stub, &manifest);
    let run = sim.json(&["test", "all", "--production"]);
    assert_eq!(run.report["target"], "production");
    let run = sim.json(&["test", "manifest"]);
    assert_eq!(run.report["target"], "test");
}

#[test]
fn junit_output_parses_with_a_suite_per_section_and_a_case_per_check() {
    let sim = Sim::new(Addon::v3());
    sim.stub
        .misbehave(Misbehaviour::SsoAcceptsWrongToken)
        .misbehave(Misbehaviour::PageWithoutHeader);
    let out = sim.kensa(&["test", "all", "--format", "junit"]);
    out.status(1);
    assert!(out.stdout.starts_with("<?xml"), "{out}");
    let doc = parse_junit(&out.stdout);

    // The same run as JSON, for the expected sections and checks.
    let sim2 = Sim::new(Addon::v3());
    sim2.stub
        .misbehave(Misbehaviour::SsoAcceptsWrongToken)
        .misbehave(Misbehaviour::PageWithoutHeader);
    let run = sim2.test_all();
    let sections = run.report["sections"].as_array().unwrap();

    assert_eq!(doc.suites.len(), sections.len());
    let total: usize = doc.suites.iter().map(|s| s.cases.len()).sum();
    assert_eq!(num(&doc.root, "tests"), total);
    assert_eq!(total, run.checks().len());
    let failures: usize = doc
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.failure.is_some())
        .count();
    assert_eq!(num(&doc.root, "failures"), failures);
    assert_eq!(failures, 1);
    assert_eq!(num(&doc.root, "errors"), 0);
    // The plan change to kensa's made-up plan skips the real change.
    assert_eq!(num(&doc.root, "skipped"), 1);
    for (suite, section) in doc.suites.iter().zip(sections) {
        // Suites are named by the section's stage: no URL, port or uuid; the title with
        // its URL is a property.
        assert_eq!(suite.attrs["name"], section["id"].as_str().unwrap());
        assert_eq!(
            suite.properties["title"].split_whitespace().next(),
            section["name"].as_str().unwrap().split_whitespace().next()
        );
        assert_eq!(num(&suite.attrs, "tests"), suite.cases.len());
        assert_eq!(
            num(&suite.attrs, "failures"),
            suite.cases.iter().filter(|c| c.failure.is_some()).count()
        );
        let names: Vec<&str> = suite
            .cases
            .iter()
            .map(|c| c.attrs["name"].as_str())
            .collect();
        // Testcases are named by check id, classed by stage: no URL or uuid in either.
        let expected: Vec<&str> = section["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected);
        for case in &suite.cases {
            assert_eq!(
                case.attrs["classname"],
                format!("kensa.{}", section["id"].as_str().unwrap())
            );
            assert!(case.attrs["time"].parse::<f64>().is_ok());
            // Each testcase carries its severity, rule and source.
            let def = kensa::registry::find(&case.attrs["name"]).unwrap();
            assert_eq!(case.properties["severity"], def.severity.label());
            assert_eq!(case.properties["rule"], def.rule);
            assert!(
                case.properties["source"].starts_with("docs/protocol.md#"),
                "{:?}",
                case.properties
            );
        }
    }
    let sso = doc
        .suites
        .iter()
        .find(|s| s.attrs["name"] == "sso")
        .expect("an SSO suite");
    let wrong = sso
        .cases
        .iter()
        .find(|c| c.attrs["name"] == "sso.wrong-token")
        .unwrap();
    let (failure, text) = wrong.failure.as_ref().expect("a <failure>");
    assert!(
        failure["message"].contains("expected 403, got 302"),
        "{failure:?}"
    );
    assert_eq!(failure["type"], "requirement");
    assert!(text.contains("a wrong token"), "{text}");
    let layout = sso
        .cases
        .iter()
        .find(|c| c.attrs["name"] == "sso.heroku-header")
        .unwrap();
    assert!(layout.failure.is_none());
    assert!(
        layout
            .system_out
            .as_deref()
            .is_some_and(|t| t.starts_with("warning (advice):") && t.contains("heroku-header")),
        "{layout:?}"
    );
}

#[test]
fn junit_for_a_passing_run_has_no_failures() {
    let sim = Sim::new(Addon::new(Shape::Root, Version::V3));
    let out = sim.kensa(&["test", "all", "--format", "junit"]);
    out.status(0);
    let doc = parse_junit(&out.stdout);
    assert_eq!(num(&doc.root, "failures"), 0);
    assert!(num(&doc.root, "tests") > 20);
    assert!(doc
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .all(|c| c.failure.is_none()));
    assert_eq!(
        doc.suites
            .iter()
            .map(|s| s.attrs["name"].as_str())
            .collect::<Vec<_>>(),
        ["manifest", "provision", "planchange", "sso", "deprovision"]
    );
}

/// Regression: JUnit testsuites were named by their section's title, which carries the
/// provider's URL (a random port here) and kensa's uuids, so CI could not follow a suite
/// from one run to the next.
#[test]
fn regression_junit_names_changed_from_run_to_run() {
    let names = || {
        let sim = Sim::new(Addon::v3());
        let out = sim.kensa(&["test", "all", "--format", "junit"]);
        out.status(0);
        let doc = parse_junit(&out.stdout);
        doc.suites
            .iter()
            .map(|s| {
                let cases: Vec<String> = s
                    .cases
                    .iter()
                    .map(|c| format!("{}/{}", c.attrs["classname"], c.attrs["name"]))
                    .collect();
                (s.attrs["name"].clone(), cases)
            })
            .collect::<Vec<_>>()
    };
    let (first, second) = (names(), names());
    assert_eq!(first, second);
    for (suite, cases) in &first {
        assert!(
            !suite.contains("127.0.0.1") && !suite.contains(':'),
            "{suite}"
        );
        for case in cases {
            assert!(!case.contains("127.0.0.1"), "{case}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Exit codes and usage errors.

#[test]
fn usage_errors_exit_2_and_reach_no_provider() {
    let sim = Sim::new(Addon::v3());
    sim.kensa(&["test", "bogus"]).status(2).stderr_has("bogus");
    // Without an id and with no resource remembered, each says how to give one.
    for args in [
        vec!["test", "deprovision"],
        vec!["test", "planchange", "premium"],
        vec!["test", "sso"],
        vec!["sso"],
    ] {
        sim.kensa(&args)
            .status(2)
            .stderr_has("no resource id given, and kensa remembers none");
    }
    sim.kensa(&["test", "planchange"])
        .status(2)
        .stderr_has("<PLAN>");
    sim.kensa(&["test", "provision", "stray"])
        .status(2)
        .stderr_has("stray");
    sim.kensa(&["test", "all", "--timeout", "0"]).status(2);
    sim.kensa(&["test", "all", "--format", "yaml"]).status(2);
    sim.kensa(&["run"]).status(2);
    sim.kensa(&["test", "-f", "missing.json", "all"])
        .status(2)
        .stderr_has("cannot read manifest missing.json");
    assert!(sim.stub.requests().is_empty());
}

#[test]
fn malformed_manifest_exits_2_with_file_line_and_column() {
    let sim = Sim::new(Addon::v3());
    sim.write("bad.json", "{\n  \"id\": \"stubby\",\n  \"api\": {,}\n}\n");
    let out = sim.kensa(&["test", "all", "-f", "bad.json"]);
    out.status(2).stderr_has("bad.json:3:11:");
    assert!(out.stdout.is_empty(), "{out}");
    sim.write("array.json", "[1, 2]");
    sim.kensa(&["test", "all", "-f", "array.json"])
        .status(2)
        .stderr_has("must be a JSON object");
    sim.kensa(&["run", "-f", "bad.json", "--", "true"])
        .status(2)
        .stderr_has("bad.json:3:11:");
    assert!(sim.stub.requests().is_empty());
}

#[test]
fn a_failing_manifest_rule_stops_the_rest() {
    let addon = Addon::v3();
    let stub = Stub::start(&addon);
    let mut manifest = addon.manifest(stub.port());
    manifest["api"]["regions"] = json!([]);
    let sim = Sim::with_manifest(addon, stub, &manifest);
    for args in [
        vec!["test", "all"],
        vec!["test", "provision"],
        vec!["test", "sso", "res-1"],
        vec!["test", "deprovision", "res-1"],
        vec!["run", "--", "true"],
    ] {
        let run = sim.json(&args);
        run.fails_only(&[(
            "manifest",
            "api.regions lists at least one region",
            "is empty",
        )]);
        assert_eq!(run.section_kinds(), ["manifest"], "{args:?}");
    }
    assert!(
        sim.stub.requests().is_empty(),
        "no request reached the provider"
    );
}

#[test]
fn manifest_rules_each_fail_by_name() {
    let addon = Addon::v3();
    let port = crate::stub::closed_port();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/id",
            json!("Not A Slug"),
            "id is a slug",
            "not a valid slug",
        ),
        ("/api/password", json!(""), "api.password is set", "empty"),
        (
            "/api/production/base_url",
            json!("http://stubby.example.com/heroku/resources"),
            "production URLs use https",
            "api.production.base_url",
        ),
        (
            "/api/config_vars",
            json!(["OTHER_URL"]),
            "config vars start with the prefix",
            "STUBBY_",
        ),
    ];
    for (pointer, value, name, needle) in cases {
        let mut manifest = addon.manifest(port);
        *manifest.pointer_mut(pointer).unwrap() = value;
        let stub = Stub::start(&addon);
        let sim = Sim::with_manifest(addon.clone(), stub, &manifest);
        sim.json(&["test", "manifest"])
            .fails_only(&[("manifest", name, needle)]);
    }
    // A region kensa does not know is advice: Heroku adds regions.
    let mut manifest = addon.manifest(port);
    manifest["api"]["regions"] = json!(["us", "mars"]);
    let sim = Sim::with_manifest(addon.clone(), Stub::start(&addon), &manifest);
    sim.json(&["test", "manifest"]).warns_only(&[(
        "manifest",
        "api.regions are regions kensa knows",
        "mars",
    )]);
    let mut manifest = addon.manifest(port);
    manifest["api"]["username"] = json!("stubby");
    let sim = Sim::with_manifest(addon.clone(), Stub::start(&addon), &manifest);
    sim.json(&["test", "manifest"]).fails_only(&[(
        "manifest",
        "api.username is not used",
        "deprecated",
    )]);
}

#[test]
fn without_sso_salt_test_sso_fails_clearly() {
    let sim = Sim::new(Addon::v3().without_salt());
    sim.stub.seed("res-1", None);
    let run = sim.json(&["test", "sso", "res-1"]);
    run.fails_only(&[("SSO", "sso_salt is set", "no api.sso_salt")]);
    assert!(sim.stub.requests().is_empty());
}

#[test]
fn without_sso_salt_test_all_runs_the_rest() {
    let sim = Sim::new(Addon::v3().without_salt());
    let run = sim.test_all();
    // The rest runs, in full.
    for kind in ["POST", "DELETE"] {
        run.status_of(kind, "response", "pass", "");
    }
    run.status_of("PUT", "response", "skip", "made-up plan");
    assert!(sim.stub.live().is_empty());
    assert!(sim.received("POST", "/sso/login").is_empty());
    // The issue: "sso (when the manifest has an sso_salt)": without one, `all` skips
    // SSO rather than failing.
    run.passes();
    for c in run.checks().iter().filter(|c| c.kind == "SSO") {
        assert_eq!(c.status, "skip", "{}", run.listing());
    }
}

#[test]
fn production_uses_the_production_urls() {
    // Production URLs must be https (a manifest rule), so a plain-http stub cannot stand
    // in for production: the manifest rule is what fails, and nothing is sent.
    let addon = Addon::v3();
    let stub = Stub::start(&addon);
    let manifest = addon.manifest_with_production(stub.port(), &stub.url());
    let sim = Sim::with_manifest(addon, stub, &manifest);
    sim.json(&["test", "all", "--production"]).fails_only(&[(
        "manifest",
        "production URLs use https",
        "must start with https:",
    )]);
    assert!(sim.stub.requests().is_empty());

    // With https production URLs, --production goes there and not to the test URLs.
    let addon = Addon::v3();
    let stub = Stub::start(&addon);
    let closed = crate::stub::closed_port();
    let manifest =
        addon.manifest_with_production(stub.port(), &format!("https://127.0.0.1:{closed}"));
    let sim = Sim::with_manifest(addon, stub, &manifest);
    let run = sim.json(&["test", "all", "--production"]);
    run.fails_only(&[(
        "POST",
        "response",
        &format!("unable to connect to https://127.0.0.1:{closed}/heroku/resources"),
    )]);
    assert!(sim.stub.requests().is_empty());
}

// ---------------------------------------------------------------------------------------
// kensa run.

#[test]
fn run_passes_the_config_to_the_command() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&[
        "run",
        "--",
        "sh",
        "-c",
        "test -n \"$STUBBY_URL\" && echo \"$STUBBY_URL\" > out.txt && echo child-says-hi",
    ]);
    out.status(0)
        .stdout_has("child-says-hi\n")
        .stderr_has("Testing running sh -c")
        .stderr_has("  Check command exits 0 [PASS]");
    let written = fs::read_to_string(sim.path().join("out.txt")).unwrap();
    assert_eq!(
        written.trim_end(),
        format!("http://127.0.0.1:{}/resources/res-1", sim.stub.port())
    );
    // Then plan change and deprovision.
    assert_eq!(
        sim.received("PUT", "/heroku/resources/res-1")[2].json()["plan"],
        "foo"
    );
    assert!(sim.stub.live().is_empty());
}

#[test]
fn run_json_reports_the_command_check() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["run", "--plan", "bar", "--", "sh", "-c", "exit 0"]);
    run.passes()
        .status_of("running", "command exits 0", "pass", "");
    assert_eq!(
        run.section_kinds(),
        ["manifest", "POST", "running", "PUT", "DELETE"]
    );
    assert_eq!(
        sim.received("POST", "/heroku/resources")[0].json()["plan"],
        "test"
    );
    assert_eq!(
        sim.received("PUT", "/heroku/resources/res-1")
            .last()
            .unwrap()
            .json()["plan"],
        "bar"
    );
}

#[test]
fn run_with_a_failing_command_still_deprovisions() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["run", "--", "sh", "-c", "exit 3"]);
    run.fails_only(&[("running", "command exits 0", "exited with status 3")]);
    let deletes = sim.received("DELETE", "/heroku/resources/res-1");
    assert!(
        deletes
            .iter()
            .any(|r| r.basic() == Some(("stubby".into(), PASSWORD.into()))),
        "the resource was deprovisioned"
    );
    run.status_of("DELETE", "response", "pass", "");
    assert!(sim.stub.live().is_empty());

    let sim = Sim::new(Addon::v3());
    sim.kensa(&["run", "--", "sh", "-c", "exit 3"])
        .status(1)
        .stderr_has(
            "  Check command exits 0 [FAIL]\n    ! `sh -c 'exit 3'` exited with status 3\n",
        );
    assert!(sim.stub.live().is_empty());
}

#[test]
fn run_with_a_missing_command_fails_clearly_and_deprovisions() {
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["run", "--", "kensa-no-such-command-xyz", "arg"]);
    run.fails_only(&[(
        "running",
        "command exits 0",
        "cannot run `kensa-no-such-command-xyz`: not found",
    )]);
    assert!(sim.stub.live().is_empty());
    assert!(!sim.received("DELETE", "/heroku/resources/res-1").is_empty());
}

/// Issue 15: `kensa run -- cmd > out` captured 40 check lines with the command's output.
/// stdout belongs to the command; kensa's report goes to stderr.
#[test]
fn regression_run_mixed_its_report_into_the_commands_stdout() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo one; echo two >&2; echo three",
    ]);
    out.status(0);
    assert_eq!(out.stdout, "one\nthree\n", "{out}");
    for part in [
        "two\n",
        "Testing running sh -c",
        "Check command exits 0 [PASS]",
        "checks passed",
    ] {
        assert!(out.stderr.contains(part), "stderr lacks {part:?}\n{out}");
    }
}

#[test]
fn run_interrupted_by_ctrl_c_still_deprovisions_and_exits_130() {
    // The command sends SIGINT to kensa, its parent, as Ctrl-C in a terminal would (the
    // whole foreground group gets it). Without its handler kensa would die on the spot and
    // leave the resource behind. Once it has cleaned up, it exits 130 like any program
    // Ctrl-C stopped (issue 15: it exited 0 or 1).
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["run", "--", "sh", "-c", "kill -INT $PPID"]);
    assert_eq!(out.code, 130, "{out}");
    assert!(
        sim.received("DELETE", "/heroku/resources/res-1")
            .iter()
            .any(|r| r.basic() == Some(("stubby".into(), PASSWORD.into()))),
        "{out}"
    );
    assert!(sim.stub.live().is_empty(), "{out}");
}

/// Ctrl-C during `kensa test all` (here while the plan change waits for a slow answer):
/// kensa skips what is left, deprovisions what it provisioned, and exits 130 (issue 15:
/// "Ctrl-C exits 130 as elsewhere"; it exited 0 or 1).
#[test]
fn test_all_interrupted_by_ctrl_c_deprovisions_and_exits_130() {
    use crate::stub::Route;
    use std::time::{Duration, Instant};
    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::Slow(
        Route::PlanChange,
        Duration::from_secs(3),
    ));
    let mut cmd = crate::harness::kensa(sim.path());
    cmd.args(["test", "all"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // Once the plan change is under way (the stub holds its answer), press Ctrl-C.
    let deadline = Instant::now() + crate::harness::TIMEOUT;
    while sim.received("PUT", "/heroku/resources/res-1").len() < 3 {
        assert!(Instant::now() < deadline, "no plan change arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = crate::harness::wait(&mut child);
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(
        !sim.received("DELETE", "/heroku/resources/res-1").is_empty(),
        "the resource was deprovisioned"
    );
    assert!(sim.stub.live().is_empty());
}

#[test]
fn run_does_not_run_the_command_when_provisioning_fails() {
    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::ProvisionStatus(503));
    let run = sim.json(&["run", "--", "sh", "-c", "echo ran > ran.txt"]);
    run.fails_only(&[("POST", "response", "got 503")]);
    assert!(!sim.path().join("ran.txt").exists());
    assert_eq!(run.section_kinds(), ["manifest", "POST"]);
}

#[test]
fn run_json_stdout_stays_one_document() {
    // The command's own output must not corrupt `--format json` on stdout: it goes to
    // stderr instead.
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["run", "--", "sh", "-c", "echo not-json"]);
    run.passes();
    assert!(run.outcome.stderr.contains("not-json"), "{}", run.outcome);
}

/// Every combination once more through `kensa run`, the other lifecycle.
#[test]
fn run_passes_in_every_shape_and_version() {
    for addon in all_combinations() {
        let sim = Sim::new(addon.clone());
        let var = addon.url_var();
        sim.kensa(&["run", "--", "sh", "-c", &format!("test -n \"${var}\"")])
            .status(0);
        assert!(sim.stub.live().is_empty(), "{addon:?}");
    }
}
