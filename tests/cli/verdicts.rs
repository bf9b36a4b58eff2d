//! Issue 16, "verdicts a provider can trust", against the in-process stub provider: every
//! rule checked since, each with a provider that keeps it and one that breaks it; severity
//! and `--strict`; the fake Heroku's identity service, Platform API and log sink; and the
//! calls kensa makes exactly as Heroku makes them. A defect the issue names is pinned by a
//! test named `regression_…` after it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{Run, Sim};
use crate::stub::{Addon, Misbehaviour, CLIENT_SECRET};

const CALLS: &str = "every call to Heroku was accepted";
/// Long enough for every callback the stub makes; kensa stops waiting when they came.
const ROOMY: &str = "15";

fn sim_with(addon: Addon, misbehaviours: &[Misbehaviour]) -> Sim {
    let sim = Sim::new(addon);
    for m in misbehaviours {
        sim.stub.misbehave(m.clone());
    }
    sim
}

/// `kensa test all` (plus `args`) against a v3 stub misbehaving so.
fn all(misbehaviours: &[Misbehaviour], args: &[&str]) -> (Sim, Run) {
    let sim = sim_with(Addon::v3(), misbehaviours);
    let mut all = vec!["test", "all"];
    all.extend_from_slice(args);
    let run = sim.json(&all);
    sim.stub.settle();
    (sim, run)
}

/// `kensa test all` against a stub whose every provision is asynchronous.
fn all_async(misbehaviours: &[Misbehaviour], args: &[&str]) -> (Sim, Run) {
    let sim = sim_with(Addon::v3(), misbehaviours);
    sim.stub.always_async();
    let mut all = vec!["test", "all", "--async-timeout", ROOMY];
    all.extend_from_slice(args);
    let run = sim.json(&all);
    sim.stub.settle();
    (sim, run)
}

// ---------------------------------------------------------------------------------------
// Requests exactly as Heroku sends them.

#[test]
fn a_provider_refusing_an_unknown_field_fails() {
    let (_, run) = all(&[Misbehaviour::RejectsUnknownFields], &[]);
    run.fails_only(&[(
        "POST",
        "an unknown request field is accepted",
        "refused with the field `kensa_undocumented_field` (422: {\"message\":\"unknown field kensa_undocumented_field\"}) and accepted without it",
    )]);
    // The provision went ahead with the request it accepted.
    run.status_of("POST", "response", "pass", "");
}

// ---------------------------------------------------------------------------------------
// Plans.

/// Regression: `test all` changed the plan to `foo`, which the add-on does not have, and a
/// provider refusing it with 422 and a message failed; that refusal is right.
#[test]
fn regression_refusing_kensas_made_up_plan_failed() {
    let (_, run) = all(&[], &[]);
    run.passes()
        .status_of("PUT", "an unknown plan gets 422 with a message", "pass", "")
        .status_of("PUT", "response", "skip", "tests a real change");
}

#[test]
fn accepting_any_plan_only_warns() {
    let (sim, run) = all(&[Misbehaviour::AcceptsAnyPlan], &[]);
    run.warns_only(&[
        (
            "POST",
            "an unknown plan gets 422 with a message",
            "the plan \"kensa-no-such-plan\" was accepted (201)",
        ),
        (
            "PUT",
            "an unknown plan gets 422 with a message",
            "the made-up plan \"foo\" was accepted (200)",
        ),
    ]);
    // The change went through, so it counts as the change.
    run.status_of("PUT", "response", "pass", "");
    // The resource the unknown plan made was deprovisioned again.
    assert!(sim.stub.live().is_empty(), "{:?}", sim.stub.live());
}

#[test]
fn an_unknown_plan_refused_without_a_message_warns() {
    let (_, run) = all(&[Misbehaviour::UnknownPlanWithoutMessage], &[]);
    run.warns_only(&[
        (
            "POST",
            "an unknown plan gets 422 with a message",
            "got 422 without a JSON `message` for the user",
        ),
        (
            "PUT",
            "an unknown plan gets 422 with a message",
            "got 422 without a JSON `message` for the user",
        ),
    ]);
}

#[test]
fn with_plan_the_change_is_real_and_must_succeed() {
    let (sim, run) = all(&[], &["--plan", "premium"]);
    run.passes()
        .status_of("PUT", "response", "pass", "")
        .status_of("PUT", "valid JSON", "pass", "");
    assert!(
        run.checks()
            .iter()
            .all(|c| c.name != "an unknown plan gets 422 with a message" || c.kind == "POST"),
        "{}",
        run.listing()
    );
    let puts = sim.received("PUT", "/heroku/resources/res-1");
    assert_eq!(puts[2].json()["plan"], "premium");
}

#[test]
fn a_change_to_the_current_plan_failing_warns() {
    let (_, run) = all(&[Misbehaviour::SamePlanFails], &[]);
    run.warns_only(&[(
        "PUT",
        "a change to the current plan is a no-op",
        "a change to \"test\", the plan the resource is on, got 500",
    )]);
}

#[test]
fn an_async_plan_change_is_followed_by_the_config_update() {
    let (sim, run) = all_async(&[Misbehaviour::AsyncPlanChange], &["--plan", "premium"]);
    run.passes()
        .status_of("PUT", "response", "pass", "")
        .status_of("PUT", "a 202 plan change updates the config", "pass", "")
        .status_of("PUT", "config keys are declared", "pass", "");
    let uuid = sim.received("POST", "/heroku/resources")[0].json()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // The flow's PATCH, then the plan change's.
    let patches: Vec<u16> = sim
        .stub
        .callbacks_to(&format!("/addons/{uuid}/config"))
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(patches, [200, 200]);
}

#[test]
fn an_async_plan_change_without_the_config_update_warns() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::AsyncPlanChangeNeverUpdates]);
    sim.stub.always_async();
    let run = sim.json(&["test", "all", "--plan", "premium", "--async-timeout", "2"]);
    sim.stub.settle();
    run.warns_only(&[(
        "PUT",
        "a 202 plan change updates the config",
        "answered 202 but never called PATCH http://127.0.0.1:",
    )]);
}

// ---------------------------------------------------------------------------------------
// Deprovisioning.

#[test]
fn a_second_delete_answered_500_fails() {
    let (_, run) = all(&[Misbehaviour::RepeatDeleteFails], &[]);
    run.fails_only(&[(
        "DELETE",
        "a second DELETE gets 2xx, 404 or 410",
        "the second DELETE of the same resource got 500",
    )]);
}

#[test]
fn provisioning_a_deprovisioned_uuid_again_warns_and_is_cleaned_up() {
    let (sim, run) = all(&[Misbehaviour::RecreatesDeprovisioned], &[]);
    run.warns_only(&[(
        "DELETE",
        "provisioning the deprovisioned uuid again gets 410",
        "got 200 and made a resource; answer 410 Gone; kensa deprovisioned res-1 again",
    )]);
    assert!(sim.stub.live().is_empty(), "{:?}", sim.stub.live());
    // The very request of the first provision, sent again.
    let posts = sim.received("POST", "/heroku/resources");
    assert_eq!(posts.last().unwrap().json(), posts[0].json());
}

// ---------------------------------------------------------------------------------------
// Asynchronous provisioning.

#[test]
fn a_202_with_config_warns() {
    let sim = sim_with(
        Addon::v3(),
        &[Misbehaviour::Provision202, Misbehaviour::ConfigOn202],
    );
    let run = sim.json(&["test", "provision", "--async-timeout", "1"]);
    run.status_of(
        "POST",
        "a 202 answer carries no config",
        "warn",
        "the 202 answer carries `config`",
    );
    // A correct 202 carries none.
    let sim = Sim::new(Addon::v3());
    sim.stub.always_async();
    let run = sim.json(&["test", "provision"]);
    sim.stub.settle();
    run.passes()
        .status_of("POST", "a 202 answer carries no config", "pass", "");
}

// ---------------------------------------------------------------------------------------
// The fake identity service.

/// Regression: kensa's fake identity service refused a grant exchange sent as a query
/// string with an empty body, as Heroku's example add-on sends it and Heroku's identity
/// service accepts it, failing a correct provider three times over.
#[test]
fn regression_the_fake_refused_a_grant_exchange_sent_as_a_query() {
    let (sim, run) = all_async(&[Misbehaviour::ExchangeAsQuery], &[]);
    run.passes().status_of("calls", CALLS, "pass", "");
    assert!(sim
        .stub
        .callbacks()
        .iter()
        .filter(|c| c.url.contains("/oauth/token"))
        .all(|c| c.status == 200));
}

#[test]
fn short_lived_tokens_are_refreshed_by_a_correct_provider() {
    let (sim, run) = all_async(
        &[Misbehaviour::DeprovisionCallbackDelay(
            Duration::from_millis(1500),
        )],
        &["--token-ttl", "1"],
    );
    run.passes()
        .status_of("calls", "expired access tokens are refreshed", "pass", "")
        .status_of("DELETE", "deprovision marked done", "pass", "");
    assert!(sim
        .stub
        .callbacks()
        .iter()
        .any(|c| c.url.ends_with("/oauth/token") && c.code.is_none() && c.status == 200));
}

#[test]
fn a_provider_that_never_refreshes_fails_with_token_ttl() {
    // The refused callback ends kensa's wait for it.
    let (_, run) = all_async(
        &[
            Misbehaviour::DeprovisionCallbackDelay(Duration::from_millis(1500)),
            Misbehaviour::NeverRefreshes,
        ],
        &["--token-ttl", "1"],
    );
    let expired = "the access token has expired: get a new one with grant_type=refresh_token";
    run.fails_only(&[
        (
            "calls",
            "expired access tokens are refreshed",
            "call(s) used an access token after it expired",
        ),
        ("calls", CALLS, expired),
        ("DELETE", "deprovision marked done", expired),
    ]);
}

// ---------------------------------------------------------------------------------------
// Every call accounted for.

/// Regression: a refused call to Heroku (here a grant exchange with the wrong client
/// secret) went unreported when provisioning answered 200: only the asynchronous flow
/// looked at the fake's refusals.
#[test]
fn regression_a_refused_call_passed_when_provisioning_answered_200() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::SyncExchangeWrongSecret]);
    let run = sim.json_env(
        &[("HEROKU_CLIENT_SECRET", CLIENT_SECRET)],
        &["test", "provision"],
    );
    run.fails_only(&[(
        "calls",
        CALLS,
        "POST /oauth/token got 401: invalid client_secret",
    )]);
    // Counted in words that agree ("2 of 2 calls were refused" before).
    run.status_of("calls", CALLS, "fail", "all 2 calls were refused: POST");
    run.status_of("POST", "response", "pass", "");
    // A synchronous provider that exchanges its grant rightly passes.
    let sim = sim_with(Addon::v3(), &[Misbehaviour::SyncExchange]);
    sim.json_env(
        &[("HEROKU_CLIENT_SECRET", CLIENT_SECRET)],
        &["test", "provision"],
    )
    .passes()
    .status_of("calls", CALLS, "pass", "");
}

/// Regression: a provider whose id *is* the uuid passed "same uuid gives the same id" on a
/// redelivery while it provisioned a second resource; its second grant exchange is the
/// evidence.
#[test]
fn regression_a_provider_whose_id_is_the_uuid_passed_while_provisioning_twice() {
    let (_, run) = all(
        &[
            Misbehaviour::IdIsUuid,
            Misbehaviour::NotIdempotent,
            Misbehaviour::SyncExchange,
        ],
        &[],
    );
    run.fails_only(&[
        (
            "POST",
            "same uuid gives the same resource",
            "but the provider provisioned again: its grant code was exchanged 2 times",
        ),
        ("calls", CALLS, "the grant code was already exchanged"),
    ]);
}

#[test]
fn a_provider_reads_its_add_on_app_config_and_attachments() {
    let (sim, run) = all_async(&[Misbehaviour::ReadsPlatformApi], &[]);
    run.passes().status_of("calls", CALLS, "pass", "");
    let reads: Vec<(String, u16)> = sim
        .stub
        .callbacks()
        .iter()
        .filter(|c| c.method == "GET")
        .map(|c| (c.url.clone(), c.status))
        .collect();
    // Its add-on, config and attachments, and its app, for each asynchronous resource.
    assert!(reads.len() >= 4, "{reads:?}");
    assert!(reads.iter().all(|(_, s)| *s == 200), "{reads:?}");
    assert!(reads.iter().any(|(u, _)| u.contains("/apps/")), "{reads:?}");
}

#[test]
fn a_provider_reading_an_app_not_its_own_fails() {
    let (_, run) = all_async(&[Misbehaviour::ReadsOtherApp], &[]);
    run.fails_only(&[(
        "calls",
        CALLS,
        "GET /apps/00000000-0000-0000-0000-000000000000 got 403: app 00000000-0000-0000-0000-000000000000 is not attached to this token's add-on",
    )]);
}

#[test]
fn a_429_is_retried_after_retry_after() {
    let (_, run) = all_async(&[], &["--inject-429"]);
    run.passes()
        .status_of("calls", "a 429 is retried after Retry-After", "pass", "")
        .status_of("calls", CALLS, "pass", "");
}

#[test]
fn a_provider_giving_up_on_a_429_warns() {
    let (_, run) = all_async(&[Misbehaviour::NoRetryOn429], &["--inject-429"]);
    run.status_of(
        "calls",
        "a 429 is retried after Retry-After",
        "warn",
        "got 429 with Retry-After: 1 and was never made again",
    );
}

#[test]
fn a_provider_retrying_a_429_at_once_warns() {
    let (_, run) = all_async(&[Misbehaviour::RetriesTooSoon], &["--inject-429"]);
    run.warns_only(&[(
        "calls",
        "a 429 is retried after Retry-After",
        "wait as long as Retry-After says",
    )]);
}

// ---------------------------------------------------------------------------------------
// The log sink.

#[test]
fn badly_framed_log_lines_fail() {
    let sim = sim_with(
        Addon::v3().requiring("log_input"),
        &[Misbehaviour::BadLogFraming],
    );
    let run = sim.json(&["test", "provision"]);
    run.fails_only(&[(
        "calls",
        "log posts are framed for logplex",
        "does not start with its length in bytes and a space (octet counting, RFC 6587)",
    )]);
}

#[test]
fn log_posts_without_a_user_agent_warn() {
    let sim = sim_with(
        Addon::v3().requiring("log_input"),
        &[Misbehaviour::NoLogUserAgent],
    );
    sim.json(&["test", "provision"]).warns_only(&[(
        "calls",
        "log posts name the add-on in User-Agent",
        "sent a User-Agent not naming the add-on (stubby): ureq/",
    )]);
}

#[test]
fn no_log_lines_are_reported_as_such() {
    let sim = sim_with(
        Addon::v3().requiring("log_input"),
        &[Misbehaviour::LogsNothing],
    );
    let run = sim.json(&["test", "provision"]);
    run.passes().status_of(
        "calls",
        "log posts are framed for logplex",
        "skip",
        "nothing was posted to log_input_url",
    );
    assert_eq!(
        run.check("calls", "log posts are framed for logplex").name,
        "log posts are framed for logplex (0 received)"
    );
}

// ---------------------------------------------------------------------------------------
// Severity: advice warns, --strict fails it, and every output says which.

#[test]
fn strict_fails_advice_and_says_so_in_every_format() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::PageWithoutHeader]);
    sim.test_all()
        .warns_only(&[("SSO", "Heroku layout", "heroku-header")]);
    let run = sim.json(&["test", "all", "--strict"]);
    run.fails_only(&[("SSO", "Heroku layout", "heroku-header")]);
    assert_eq!(run.report["strict"], true);
    let layout = run.check("SSO", "Heroku layout");
    assert_eq!(layout.check["severity"], "advice");

    sim.kensa(&["test", "all", "--strict"])
        .status(1)
        .stdout_has("  Check Heroku layout [FAIL] (advice, failed by --strict)\n")
        .stdout_has("(1 of them advice, failed by --strict)");
    let xml = sim.kensa(&["test", "all", "--strict", "--format", "junit"]);
    let doc = crate::harness::junit::parse_junit(&xml.stdout);
    let case = doc
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .find(|c| c.attrs["name"] == "sso.heroku-header")
        .unwrap();
    assert_eq!(
        case.failure.as_ref().unwrap().0["type"],
        "advice (--strict)"
    );
    assert_eq!(case.properties["severity"], "advice");
}

#[test]
fn verbose_shows_each_checks_rule_and_source() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "provision", "--verbose"]);
    out.status(0)
        .stdout_has("  Check an unknown request field is accepted [PASS]\n")
        .stdout_has("    requirement rule: A provision request carrying a field no document names is served like one without it.\n")
        .stdout_has("    source: docs/protocol.md#provisioning (row 28); Add-on Partner API Reference <https://devcenter.heroku.com/articles/add-on-partner-api-reference>; `kensa explain provision.unknown-field`\n");
}

// ---------------------------------------------------------------------------------------
// `kensa explain`.

#[test]
fn explain_tells_the_rule_why_fix_source_and_an_example_per_template() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["explain", "sso.stale-timestamp"]);
    out.status(0)
        .stdout_has("sso.stale-timestamp: timestamp 6 minutes old gets 403\n")
        .stdout_has("requirement, fails when broken")
        .stdout_has("Rule: A sign-on whose timestamp is more than 5 minutes old gets 403.")
        .stdout_has("Why: ")
        .stdout_has("Fix: ")
        .stdout_has("Source: docs/protocol.md#single-sign-on (row 61 of the table \"Requirement or advice\"); Add-on Single Sign-on <https://devcenter.heroku.com/articles/add-on-single-sign-on>")
        .stdout_has("Example, node (JavaScript, Express):")
        .stdout_has("Example, sinatra (Ruby):")
        .stdout_has("Example, clojure (Ring, Compojure):")
        .stdout_has("Example, rust-axum (Rust, axum):")
        .stdout_has("MAX_AGE_SECONDS");
    let out = sim.kensa(&["explain"]);
    out.status(0);
    for check in kensa::registry::ALL.iter() {
        assert!(out.stdout.contains(check.id), "{} missing", check.id);
    }
    let json = sim.kensa(&["explain", "provision.idempotent-uuid", "--json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["severity"], "requirement");
    assert_eq!(doc["source"]["row"], 26);
    assert_eq!(doc["examples"].as_array().unwrap().len(), 4);
}

#[test]
fn explain_of_an_unknown_id_suggests_the_closest_and_exits_2() {
    let sim = Sim::new(Addon::v3());
    sim.kensa(&["explain", "sso.stale-timestmp"])
        .status(2)
        .stderr_has("no check \"sso.stale-timestmp\": did you mean `sso.stale-timestamp`");
    sim.kensa(&["explain", "stale-timestamp"])
        .status(2)
        .stderr_has("`sso.stale-timestamp`");
}

// ---------------------------------------------------------------------------------------
// Real manifests: no api.test, --url, KENSA_URL.

fn without_test(sim_addon: &Addon, port: u16) -> Value {
    let mut manifest = sim_addon.manifest(port);
    manifest["api"].as_object_mut().unwrap().remove("test");
    manifest
}

#[test]
fn a_manifest_without_api_test_needs_a_url_and_says_so() {
    let addon = Addon::v3();
    let stub = crate::stub::Stub::start(&addon);
    let port = stub.port();
    let manifest = without_test(&addon, port);
    let sim = Sim::with_manifest(addon, stub, &manifest);
    sim.json(&["test", "manifest"]).passes().status_of(
        "manifest",
        "api.test URLs are valid",
        "skip",
        "--url http://localhost:<port> or KENSA_URL",
    );
    sim.kensa(&["test", "all"])
        .status(2)
        .stderr_has("has no api.test")
        .stderr_has("--url http://localhost:5000")
        .stderr_has("KENSA_URL");
    assert!(sim.stub.requests().is_empty());
    let url = sim.stub.url();
    sim.json(&["test", "all", "--url", &url]).passes();
    sim.json_env(&[("KENSA_URL", &url)], &["test", "all"])
        .passes();
    sim.kensa(&["test", "all", "--url", "localhost:5000"])
        .status(2)
        .stderr_has("--url / KENSA_URL \"localhost:5000\" must be an http(s) URL with a host");
}

/// The flag wins over api.test: the service is where --url says.
#[test]
fn url_replaces_api_test() {
    let addon = Addon::v3();
    let stub = crate::stub::Stub::start(&addon);
    let manifest = addon.manifest(crate::stub::closed_port());
    let url = stub.url();
    let sim = Sim::with_manifest(addon, stub, &manifest);
    sim.json(&["test", "all", "--url", &url]).passes();
    assert!(!sim.received("POST", "/heroku/resources").is_empty());
}

// ---------------------------------------------------------------------------------------
// Output a provider can act on.

#[test]
fn a_refused_login_shows_the_pages_text_and_the_tokens_kensa_sent() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::SsoLoginStatus(403)]);
    let run = sim.test_all();
    let message = run.check("SSO", "good token logs in").message.unwrap();
    assert!(
        message.contains("got 403: the stub was told to refuse"),
        "{message}"
    );
    assert!(
        message.contains("kensa sent resource_token = sha1(\""),
        "{message}"
    );
    assert!(message.contains(":<api.sso_salt>:"), "{message}");
    assert!(
        message.contains("user_scoped_resource_token = sha256(\""),
        "{message}"
    );
    assert!(!message.contains(crate::stub::SALT), "{message}");
}

#[test]
fn a_styled_refusal_is_shown_as_its_text_without_css() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::SsoLoginStatus(403)]);
    let run = sim.test_all();
    let message = run.check("SSO", "good token logs in").message.unwrap();
    assert!(
        message.contains("got 403: the stub was told to refuse at "),
        "{message}"
    );
    assert!(
        !message.contains("color") && !message.contains("var x") && !message.contains("<p>"),
        "{message}"
    );
}

#[test]
fn a_404_on_every_sign_on_says_the_resource_is_unknown() {
    let sim = Sim::new(Addon::v1());
    let run = sim.json(&["test", "sso", "res-9"]);
    for name in [
        "wrong token gets 403",
        "timestamp 6 minutes old gets 403",
        "good token logs in",
    ] {
        let message = run.check("SSO", name).message.unwrap();
        assert!(
            message.contains("unknown resource id res-9"),
            "{name}: {message}"
        );
    }
}

/// Regression: an answer with an empty (blank) body printed `got 403:   at <url>`.
#[test]
fn regression_an_empty_body_printed_a_dangling_colon() {
    let sim = sim_with(Addon::v3(), &[Misbehaviour::SsoBlankRefusal]);
    let run = sim.test_all();
    let message = run.check("SSO", "good token logs in").message.unwrap();
    assert!(
        message.contains("got 403 with an empty body at http://127.0.0.1:"),
        "{message}"
    );
    assert!(!message.contains(":   at"), "{message}");
}

#[test]
fn connection_refused_says_how_to_start_the_service() {
    let addon = Addon::v3();
    let port = crate::stub::closed_port();
    let sim = Sim::with_manifest(
        addon.clone(),
        crate::stub::Stub::start(&addon),
        &addon.manifest(port),
    );
    sim.write("Procfile", "web: node server.js\nworker: node worker.js\n");
    sim.kensa(&["test", "provision"])
        .status(1)
        .stdout_has(&format!(
            "unable to connect to http://127.0.0.1:{port}/heroku/resources (connection refused): is the service running? Start it as"
        ))
        .stdout_has("says: `node server.js` with its .env loaded");
}

/// Regression: kensa's own flags after `test provision` were taken for provision options:
/// `kensa test provision --foo bar --format json` printed no JSON.
#[test]
fn regression_kensas_own_flags_were_swallowed_as_provision_options() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "provision", "--foo", "bar", "--format", "json"]);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["passed"], true);
    let body = sim.received("POST", "/heroku/resources")[0].json();
    assert_eq!(body["options"], json!({"foo": "bar"}));
    // After `--`, every word is an option, kensa's flags' names included.
    let sim = Sim::new(Addon::v3());
    sim.json(&["test", "provision", "--fast", "--", "--timeout", "9", "--x"])
        .passes();
    let body = sim.received("POST", "/heroku/resources")[0].json();
    assert_eq!(
        body["options"],
        json!({"fast": "true", "timeout": "9", "x": "true"})
    );
}

#[test]
fn ruby_kensas_flags_work() {
    // -p/--plan.
    let sim = Sim::new(Addon::v3());
    sim.json(&["test", "provision", "-p", "premium"]).passes();
    assert_eq!(
        sim.received("POST", "/heroku/resources")[0].json()["plan"],
        "premium"
    );
    // --without-sso.
    let sim = Sim::new(Addon::v3());
    let run = sim.json(&["test", "all", "--without-sso"]);
    run.passes()
        .status_of("SSO", "single sign-on", "skip", "--without-sso");
    assert!(sim.received("POST", "/sso/login").is_empty());
    // -t/--template (shown without writing: --dry-run), -s/--sso and --post.
    sim.kensa(&["create", "dry", "-t", "sinatra", "--no-input", "--dry-run"])
        .status(0)
        .stdout_has("from the sinatra template");
    for sso in [&["-s", "get"][..], &["--post"]] {
        let mut args = vec!["init", "-f", "ruby-flags.json", "--no-input", "--force"];
        args.extend_from_slice(sso);
        sim.kensa(&args).status(0);
    }
    // -v/--version (-V as clap spells it).
    for flag in ["-v", "-V", "--version"] {
        sim.kensa(&[flag])
            .status(0)
            .stdout_has(concat!("kensa ", env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn manifest_rules_collapse_outside_test_manifest_and_all() {
    let sim = Sim::new(Addon::v3());
    let out = sim.kensa(&["test", "provision"]);
    let rules = kensa::registry::manifest::CHECKS.len();
    out.status(0).stdout_has(&format!(
        "  Check {rules} manifest rules (`kensa test manifest` lists them) [PASS]\n"
    ));
    assert!(!out.stdout.contains("Check id is a slug"), "{out}");
    // Not in `test manifest` and `test all`, nor with --verbose.
    for args in [
        vec!["test", "manifest"],
        vec!["test", "all"],
        vec!["test", "provision", "--verbose"],
    ] {
        let out = sim.kensa(&args);
        out.stdout_has("  Check id is a slug [PASS]\n");
    }
    // A failing rule shows them all.
    let addon = Addon::v3();
    let stub = crate::stub::Stub::start(&addon);
    let mut manifest = addon.manifest(stub.port());
    manifest["api"]["regions"] = json!([]);
    let sim = Sim::with_manifest(addon, stub, &manifest);
    sim.kensa(&["test", "provision"])
        .status(1)
        .stdout_has("  Check id is a slug [PASS]\n")
        .stdout_has("  Check api.regions lists at least one region [FAIL]\n");
}

/// Regression: "name is a string [PASS]" was printed for a manifest without a name.
#[test]
fn regression_a_missing_name_passed_name_is_a_string() {
    let addon = Addon::v3();
    let stub = crate::stub::Stub::start(&addon);
    let mut manifest = addon.manifest(stub.port());
    manifest.as_object_mut().unwrap().remove("name");
    let sim = Sim::with_manifest(addon, stub, &manifest);
    sim.kensa(&["test", "manifest"])
        .status(0)
        .stdout_has("  Check name is a string [SKIP]\n    ! no `name`: Heroku shows the id\n");
    // Regression: collapsed, the skipped rule was counted under [PASS] while the summary
    // said "1 skipped" that no line showed.
    let rules = kensa::registry::manifest::CHECKS.len();
    let out = sim.kensa(&["test", "provision"]);
    out.status(0).stdout_has(&format!(
        "  Check {} manifest rules (1 skipped; `kensa test manifest` lists them) [PASS]\n",
        rules - 1
    ));
}

/// Regression: the summary "4 of 42 checks failed (1 with warnings)" read as if a failed
/// check had warnings.
#[test]
fn regression_the_summary_read_as_if_a_failure_had_warnings() {
    let sim = sim_with(
        Addon::v3(),
        &[
            Misbehaviour::ProvisionAcceptsWrongPassword,
            Misbehaviour::PageWithoutHeader,
        ],
    );
    let out = sim.kensa(&["test", "all"]);
    out.status(1);
    let summary = out.stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("kensa: 1 check failed, ")
            && summary.contains(" passed, 1 warning, 1 skipped"),
        "{summary}"
    );
    assert!(!summary.contains("with warnings"), "{summary}");
}
