//! v3 asynchronous provisioning (docs/protocol.md#asynchronous-provisioning) against the
//! stub provider in its asynchronous mode: a correct provider passes, and each way of getting the flow wrong
//! fails its named check with the reason, in bounded time (a short `--async-timeout`, and
//! the runner's hang guard).

use std::fs;
use std::time::Duration;

use crate::harness::{self, Run, Sim};
use crate::stub::{Addon, Misbehaviour, CLIENT_SECRET};

/// For runs where kensa must wait a callback out: short, to keep the suite fast, and still
/// long for the stub's other callbacks (milliseconds on loopback).
const TIMEOUT: &str = "2";
const TIMEOUT_SECS: Duration = Duration::from_secs(2);
/// For runs where every callback comes: kensa stops waiting as soon as they have, so this
/// only needs to stay under the hang guard, and leaves a busy CI machine all the room.
const ROOMY: &str = "15";

/// What the end of a run says of refused calls to kensa's fake Heroku.
const CALLS: &str = "every call to Heroku was accepted";

/// The three checks of the flow, in the section after the provision's.
const FLOW: [&str; 3] = [
    "grant code exchanged",
    "config set through the API",
    "provision marked done",
];

fn sim_with(misbehaviours: &[Misbehaviour]) -> Sim {
    let sim = Sim::new(Addon::v3());
    for m in misbehaviours {
        sim.stub.misbehave(m.clone());
    }
    sim
}

/// `kensa test provision --plan async --async-timeout 2` against a stub misbehaving so.
fn provision_async(misbehaviours: &[Misbehaviour]) -> (Sim, Run) {
    provision_async_within(TIMEOUT, misbehaviours)
}

fn provision_async_within(timeout: &str, misbehaviours: &[Misbehaviour]) -> (Sim, Run) {
    let sim = sim_with(misbehaviours);
    let run = sim.json(&[
        "test",
        "provision",
        "--plan",
        "async",
        "--async-timeout",
        timeout,
    ]);
    sim.stub.settle();
    (sim, run)
}

/// `kensa test all --async-timeout 2` against a stub whose every provision is asynchronous.
fn all_async(misbehaviours: &[Misbehaviour]) -> (Sim, Run) {
    let sim = sim_with(misbehaviours);
    sim.stub.always_async();
    let run = sim.json(&["test", "all", "--async-timeout", TIMEOUT]);
    sim.stub.settle();
    (sim, run)
}

/// The calls the stub made to this URL suffix, as their statuses.
fn statuses(sim: &Sim, suffix: &str) -> Vec<u16> {
    sim.stub
        .callbacks_to(suffix)
        .iter()
        .map(|c| c.status)
        .collect()
}

/// The statuses of the token exchanges of the first provision's grant code.
fn first_exchanges(sim: &Sim) -> Vec<u16> {
    let request = sim.received("POST", "/heroku/resources")[0].json();
    let code = request["oauth_grant"]["code"].as_str().unwrap();
    sim.stub
        .callbacks()
        .iter()
        .filter(|c| c.code.as_deref() == Some(code))
        .map(|c| c.status)
        .collect()
}

fn uuid_of_first_provision(sim: &Sim) -> String {
    sim.received("POST", "/heroku/resources")[0].json()["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// A correct asynchronous provider.

#[test]
fn a_correct_async_provider_passes_test_provision() {
    let sim = sim_with(&[]);
    let run = sim.json(&["test", "provision", "--plan", "async"]);
    sim.stub.settle();
    run.passes();
    run.status_of("POST", "response", "pass", "");
    for name in FLOW.into_iter().chain([
        "config keys are declared",
        "config values are strings",
        "config URLs are valid",
    ]) {
        run.status_of("async", name, "pass", "");
    }
    // A 202 carries no config, so none is checked in the provision answer itself.
    assert!(
        run.checks()
            .iter()
            .all(|c| c.kind != "POST" || !c.name.starts_with("config")),
        "{}",
        run.listing()
    );
    // The callbacks went where the provision request said, and each was accepted.
    let request = sim.received("POST", "/heroku/resources")[0].json();
    let uuid = request["uuid"].as_str().unwrap();
    let callback_url = request["callback_url"].as_str().unwrap();
    assert!(
        callback_url.starts_with("http://127.0.0.1:") && callback_url.ends_with(uuid),
        "{callback_url}"
    );
    assert_eq!(request["oauth_grant"]["type"], "authorization_code");
    let code = request["oauth_grant"]["code"].as_str().unwrap();
    let mine: Vec<(String, u16)> = sim
        .stub
        .callbacks()
        .into_iter()
        .filter(|c| c.url.starts_with(callback_url) || c.code.as_deref() == Some(code))
        .map(|c| (format!("{} {}", c.method, c.url), c.status))
        .collect();
    let origin = callback_url.split("/addons/").next().unwrap();
    assert_eq!(
        mine,
        [
            (format!("POST {origin}/oauth/token"), 200),
            (format!("PATCH {callback_url}/config"), 200),
            (format!("POST {callback_url}/actions/provision"), 200),
        ]
    );
    // Every call the stub made was accepted: 3 provisions (the resource, a new uuid, …)
    // exchanged once each; the redelivery of the first did not start a second flow.
    assert!(
        sim.stub.callbacks().iter().all(|c| c.status == 200),
        "{:?}",
        sim.stub.callbacks()
    );
    assert_eq!(statuses(&sim, "/oauth/token"), [200, 200]);
    // The extra resource (new uuid) was deprovisioned asynchronously, the reported one is left.
    assert_eq!(statuses(&sim, "/actions/deprovision"), [200]);
    assert_eq!(sim.stub.live(), ["res-1"]);
    // Nowhere near the 60 s default: kensa stops waiting once the provider is done.
    assert!(
        run.outcome.elapsed < Duration::from_secs(15),
        "{}",
        run.outcome
    );
}

#[test]
fn a_correct_async_provider_passes_test_all_with_async_deprovision() {
    let sim = sim_with(&[]);
    sim.stub.always_async();
    let run = sim.test_all();
    sim.stub.settle();
    run.passes();
    assert_eq!(
        run.section_kinds(),
        ["manifest", "POST", "async", "PUT", "SSO", "DELETE", "calls"],
        "{}",
        run.listing()
    );
    // Every call the provider made to kensa's fake Heroku was accepted.
    run.status_of("calls", CALLS, "pass", "").status_of(
        "calls",
        "Platform API calls ask for version 3",
        "pass",
        "",
    );
    for name in FLOW {
        run.status_of("async", name, "pass", "");
    }
    run.status_of("DELETE", "response", "pass", "").status_of(
        "DELETE",
        "deprovision marked done",
        "pass",
        "",
    );
    // The main resource and the extra one: both deprovisioned, both reported back.
    assert_eq!(statuses(&sim, "/actions/deprovision"), [200, 200]);
    let uuid = uuid_of_first_provision(&sim);
    assert_eq!(
        sim.stub
            .callbacks_to(&format!("/addons/{uuid}/actions/deprovision"))
            .len(),
        1
    );
    assert!(sim.stub.live().is_empty());
}

#[test]
fn async_flag_with_a_correct_async_provider_passes() {
    let sim = sim_with(&[]);
    sim.stub.always_async();
    let run = sim.json(&["test", "all", "--async"]);
    run.passes();
    for name in FLOW {
        run.status_of("async", name, "pass", "");
    }
    sim.stub.settle();
    assert!(sim.stub.live().is_empty());
}

#[test]
fn run_gets_the_config_set_through_the_api() {
    let sim = sim_with(&[]);
    sim.stub.always_async();
    let out = sim.kensa(&["run", "--", "sh", "-c", "echo \"$STUBBY_URL\" > out.txt"]);
    out.status(0);
    // The 202 carried no config: this value can only have come through PATCH …/config.
    let written = fs::read_to_string(sim.path().join("out.txt")).unwrap();
    assert_eq!(
        written.trim_end(),
        format!("http://127.0.0.1:{}/resources/res-1", sim.stub.port())
    );
    let uuid = uuid_of_first_provision(&sim);
    assert_eq!(statuses(&sim, &format!("/addons/{uuid}/config")), [200]);
    sim.stub.settle();
    assert!(sim.stub.live().is_empty());
}

// ---------------------------------------------------------------------------------------
// Providers that get the flow wrong: each fails its check with the reason.

#[test]
fn a_provider_that_never_calls_back_fails_at_the_timeout() {
    let (sim, run) = provision_async(&[Misbehaviour::NeverCallsBack]);
    run.fails_only(&[
        (
            "async",
            "grant code exchanged",
            "never exchanged oauth_grant.code",
        ),
        ("async", "config set through the API", "no config was set"),
        ("async", "provision marked done", "never called POST"),
    ]);
    for name in FLOW {
        run.status_of("async", name, "fail", "within 2 s (--async-timeout)");
    }
    assert!(run.outcome.elapsed >= TIMEOUT_SECS, "{}", run.outcome);
    assert!(run.outcome.elapsed < harness::TIMEOUT, "{}", run.outcome);
    assert!(sim.stub.callbacks().is_empty());
}

#[test]
fn async_flag_with_a_provider_that_answers_200_and_never_calls_back_fails() {
    // A synchronous provider: --async says the flow is expected anyway.
    let sim = sim_with(&[]);
    let run = sim.json(&["test", "provision", "--async", "--async-timeout", TIMEOUT]);
    run.fails_only(&[
        ("async", "grant code exchanged", "--async-timeout"),
        ("async", "config set through the API", "--async-timeout"),
        ("async", "provision marked done", "never called POST"),
    ]);
    run.status_of("POST", "response", "pass", "");
    assert!(run.outcome.elapsed >= TIMEOUT_SECS, "{}", run.outcome);
}

#[test]
fn undeclared_config_set_through_the_api_fails() {
    let (_, run) = provision_async_within(ROOMY, &[Misbehaviour::UndeclaredConfigKey]);
    run.fails_only(&[(
        "async",
        "config keys are declared",
        "OTHER_URL not declared in api.config_vars (STUBBY_URL)",
    )]);
    run.status_of("async", "config set through the API", "pass", "");
}

#[test]
fn a_non_string_config_value_set_through_the_api_fails() {
    let (_, run) = provision_async_within(ROOMY, &[Misbehaviour::NonStringConfig]);
    run.fails_only(&[(
        "async",
        "config values are strings",
        "STUBBY_URL is a number",
    )]);
}

#[test]
fn a_wrong_bearer_token_fails_with_the_401() {
    let (sim, run) = provision_async(&[Misbehaviour::WrongBearerToken]);
    let why = "PATCH /addons/<uuid>/config got 401: missing or unknown Bearer token";
    run.fails_only(&[
        ("async", "config set through the API", why),
        ("async", "provision marked done", why),
        ("calls", CALLS, why),
    ]);
    run.status_of("async", "grant code exchanged", "pass", "");
    let uuid = uuid_of_first_provision(&sim);
    assert_eq!(statuses(&sim, &format!("/addons/{uuid}/config")), [401]);
}

#[test]
fn exchanging_the_code_twice_fails_with_the_400() {
    let (sim, run) = provision_async(&[Misbehaviour::ExchangesCodeTwice]);
    let why = "POST /oauth/token got 400: the grant code was already exchanged";
    run.fails_only(&[
        ("async", "config set through the API", why),
        ("async", "provision marked done", why),
        (
            "calls",
            CALLS,
            "POST /oauth/token got 400: the grant code was already exchanged",
        ),
    ]);
    // The first exchange did succeed; what failed is using the second answer.
    run.status_of("async", "grant code exchanged", "pass", "");
    assert_eq!(first_exchanges(&sim), [200, 400]);
}

#[test]
fn skipping_the_provision_action_fails() {
    let (_, run) = provision_async(&[Misbehaviour::SkipsProvisionAction]);
    run.fails_only(&[(
        "async",
        "provision marked done",
        "never called POST http://127.0.0.1:",
    )]);
    run.status_of(
        "async",
        "provision marked done",
        "fail",
        "/actions/provision",
    )
    .status_of("async", "provision marked done", "fail", "--async-timeout")
    .status_of("async", "config set through the API", "pass", "");
}

/// Regression: kensa's fake refused (400) Platform API calls without the version 3
/// `Accept`, failing the flow; whether Heroku refuses them was never confirmed, and the
/// header is advice (docs/protocol.md row 48): the calls are served, and kensa warns.
#[test]
fn regression_the_fake_refused_platform_api_calls_without_version_3() {
    let (_, run) = provision_async_within(ROOMY, &[Misbehaviour::NoVersionHeader]);
    run.warns_only(&[(
        "calls",
        "Platform API calls ask for version 3",
        "called without Accept: application/vnd.heroku+json; version=3: PATCH /addons/",
    )]);
    for name in FLOW {
        run.status_of("async", name, "pass", "");
    }
}

#[test]
fn api_calls_to_the_wrong_addon_path_fail_with_the_404() {
    // The provider builds the URL from its own id instead of using callback_url.
    let (sim, run) = provision_async(&[Misbehaviour::WrongAddonPath]);
    assert_eq!(statuses(&sim, "/addons/res-1/config")[0], 404);
    let why = "PATCH /addons/res-1/config got 404";
    run.fails_only(&[
        ("async", "config set through the API", why),
        ("async", "provision marked done", why),
        ("calls", CALLS, why),
    ]);
}

// ---------------------------------------------------------------------------------------
// The client secret: kensa checks it when it knows it.

#[test]
fn a_wrong_client_secret_fails_when_kensa_has_it_from_the_environment() {
    let sim = sim_with(&[Misbehaviour::WrongClientSecret]);
    let run = sim.json_env(
        &[("HEROKU_CLIENT_SECRET", CLIENT_SECRET)],
        &[
            "test",
            "provision",
            "--plan",
            "async",
            "--async-timeout",
            TIMEOUT,
        ],
    );
    let why = "POST /oauth/token got 401: invalid client_secret";
    run.fails_only(&[
        ("async", "grant code exchanged", why),
        ("async", "config set through the API", why),
        ("async", "provision marked done", why),
        ("calls", CALLS, why),
    ]);
    sim.stub.settle();
    assert_eq!(first_exchanges(&sim), [401]);

    // The right secret passes.
    let sim = sim_with(&[]);
    let run = sim.json_env(
        &[("HEROKU_CLIENT_SECRET", CLIENT_SECRET)],
        &["test", "provision", "--plan", "async"],
    );
    run.passes();
}

#[test]
fn a_wrong_client_secret_fails_when_kensa_has_it_from_the_env_file() {
    let sim = sim_with(&[]);
    sim.stub.client_secret("what-the-provider-thinks");
    sim.write(
        ".env",
        format!("PORT=5000\nHEROKU_CLIENT_SECRET=\"{CLIENT_SECRET}\"\n"),
    );
    let run = sim.json(&[
        "test",
        "provision",
        "--plan",
        "async",
        "--async-timeout",
        TIMEOUT,
    ]);
    run.status_of("async", "grant code exchanged", "fail", "401")
        .status_of(
            "async",
            "grant code exchanged",
            "fail",
            "invalid client_secret",
        );

    // The same .env, and a provider that sends that secret, passes.
    let sim = sim_with(&[]);
    sim.write(".env", format!("HEROKU_CLIENT_SECRET={CLIENT_SECRET}\n"));
    sim.json(&["test", "provision", "--plan", "async"]).passes();
}

#[test]
fn the_environment_wins_over_the_env_file() {
    let sim = sim_with(&[]);
    sim.write(".env", "HEROKU_CLIENT_SECRET=from-the-file\n");
    let run = sim.json_env(
        &[("HEROKU_CLIENT_SECRET", CLIENT_SECRET)],
        &["test", "provision", "--plan", "async"],
    );
    run.passes();
}

#[test]
fn without_a_known_secret_any_non_empty_one_is_accepted() {
    // kensa cannot tell a wrong secret from a right one it was not given.
    let (_, run) = provision_async_within(ROOMY, &[Misbehaviour::WrongClientSecret]);
    run.passes();
}

// ---------------------------------------------------------------------------------------
// Asynchronous deprovision.

#[test]
fn an_async_delete_that_never_calls_back_fails() {
    let (sim, run) = all_async(&[Misbehaviour::DeprovisionNeverCallsBack]);
    run.fails_only(&[(
        "DELETE",
        "deprovision marked done",
        "answered 202 but never called POST http://127.0.0.1:",
    )]);
    run.status_of(
        "DELETE",
        "deprovision marked done",
        "fail",
        "/actions/deprovision",
    )
    .status_of(
        "DELETE",
        "deprovision marked done",
        "fail",
        "--async-timeout",
    );
    // The extra resource's cleanup waited too, and says why it is unsure.
    run.status_of(
        "POST",
        "extra resources are deprovisioned",
        "warn",
        "never called actions/deprovision",
    );
    assert!(sim.stub.callbacks_to("/actions/deprovision").is_empty());
    assert!(run.outcome.elapsed < harness::TIMEOUT, "{}", run.outcome);
}

/// Regression: a redelivered provision that exchanges the grant again (the provider set
/// the resource up a second time) passed, since it answered the same id; that second
/// exchange is the evidence of a second resource, and the refused call is reported.
#[test]
fn regression_a_redelivery_that_provisions_again_passed_on_its_id() {
    let sim = sim_with(&[Misbehaviour::ExchangesAgainOnRedelivery]);
    sim.stub.always_async();
    let run = sim.json(&["test", "all", "--async-timeout", ROOMY]);
    sim.stub.settle();
    run.fails_only(&[
        (
            "POST",
            "same uuid gives the same resource",
            "answered the same id res-1, but the provider provisioned again: its grant code was exchanged 2 times",
        ),
        (
            "calls",
            CALLS,
            "POST /oauth/token got 400: the grant code was already exchanged",
        ),
    ]);
}

#[test]
fn a_refusal_during_provisioning_is_not_blamed_on_deprovisioning() {
    // Exchanging the used code again on a redelivery is refused (400); when the DELETE's
    // callback then never comes, that is what the deprovision check must say.
    let (_, run) = all_async(&[
        Misbehaviour::ExchangesAgainOnRedelivery,
        Misbehaviour::DeprovisionNeverCallsBack,
    ]);
    run.fails_only(&[
        (
            "DELETE",
            "deprovision marked done",
            "answered 202 but never called POST",
        ),
        (
            "POST",
            "same uuid gives the same resource",
            "provisioned again",
        ),
        ("calls", CALLS, "already exchanged"),
    ]);
    let message = run.check("DELETE", "deprovision marked done").message;
    assert!(
        !message.as_deref().unwrap_or_default().contains("oauth"),
        "{message:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Concurrent redelivery of an asynchronous provision.

#[test]
fn concurrent_redelivery_of_an_async_provision_makes_one_resource() {
    let sim = sim_with(&[]);
    let run = sim.json(&["test", "provision", "--plan", "async", "--redeliver", "5"]);
    sim.stub.settle();
    run.passes()
        .status_of("POST", "5 concurrent deliveries all answer", "pass", "")
        .status_of(
            "POST",
            "5 concurrent deliveries make one resource",
            "pass",
            "",
        )
        .status_of("POST", "extra resources are deprovisioned", "pass", "");
    for name in FLOW {
        run.status_of("async", name, "pass", "");
    }
    // One flow per uuid (the resource, a new uuid, the redelivered one): one exchange each.
    assert_eq!(statuses(&sim, "/oauth/token"), [200, 200, 200]);
    assert_eq!(statuses(&sim, "/actions/deprovision"), [200, 200]);
    assert_eq!(
        sim.stub.live(),
        ["res-1"],
        "only the reported resource is left"
    );
    // Which `test deprovision` removes (its 202 is accepted; with no uuid, nothing to wait for).
    sim.json(&["test", "deprovision", "res-1"]).passes();
    sim.stub.settle();
    assert!(sim.stub.live().is_empty());
}

#[test]
fn concurrent_redelivery_catches_a_racy_async_provider() {
    let sim = sim_with(&[Misbehaviour::RacyProvision]);
    let run = sim.json(&["test", "provision", "--plan", "async", "--redeliver", "5"]);
    sim.stub.settle();
    // One delivery at a time it is idempotent; five at once it is not.
    run.fails_only(&[
        (
            "POST",
            "5 concurrent deliveries make one resource",
            "one uuid sent 5 times at once made",
        ),
        // Each copy started a flow of its own with the one grant code: refused but once.
        ("calls", CALLS, "the grant code was already exchanged"),
    ]);
    run.status_of("POST", "same uuid gives the same resource", "pass", "")
        .status_of("POST", "extra resources are deprovisioned", "pass", "");
    assert_eq!(sim.stub.live(), ["res-1"], "every copy was deprovisioned");
}

#[test]
fn concurrent_redelivery_catches_a_racy_sync_provider() {
    let sim = sim_with(&[Misbehaviour::RacyProvision]);
    let run = sim.json(&["test", "provision", "--redeliver", "5"]);
    run.fails_only(&[(
        "POST",
        "5 concurrent deliveries make one resource",
        "make provisioning idempotent on uuid",
    )]);
    assert_eq!(sim.stub.live(), ["res-1"], "every copy was deprovisioned");
}

#[test]
fn async_failures_read_well_in_human_output() {
    let sim = sim_with(&[Misbehaviour::SkipsProvisionAction]);
    let out = sim.kensa(&[
        "test",
        "provision",
        "--plan",
        "async",
        "--async-timeout",
        TIMEOUT,
    ]);
    out.status(1)
        .stdout_has("async provisioning callbacks to http://127.0.0.1:")
        .stdout_has("Check provision marked done [FAIL]")
        .stdout_has("(--async-timeout)");
    sim.stub.settle();
}
