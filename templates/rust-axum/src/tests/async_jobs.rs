//! Asynchronous provisioning (v3) as persisted jobs, against a fake Heroku on loopback:
//! the flow, retries, restarts in mid-flow, token refresh and tokens encrypted at rest.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::fake_heroku::FakeHeroku;
use super::*;
use crate::config::CONFIG_VAR;
use crate::heroku::API_ACCEPT;
use crate::jobs::{self, Kind, Step};
use crate::plans::ASYNC;

fn async_body(callback_url: &str, uuid: &str, code: &str) -> Value {
    json!({
        "uuid": uuid,
        "name": "acme-inc-async",
        "plan": ASYNC,
        "region": "amazon-web-services::us-east-1",
        "callback_url": callback_url,
        "oauth_grant": {"code": code, "expires_at": "2030-01-01T00:00:00Z", "type": "authorization_code"},
        "options": {},
    })
}

/// Provisions `uuid` on the async plan: the 202's id.
async fn accepted(service: &Service, fake: &FakeHeroku, uuid: &str) -> String {
    let reply = service
        .provision(async_body(&fake.callback_url(uuid), uuid, "code-1"))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let body = reply.json();
    assert!(body.get("config").is_none(), "no config in a 202: {body}");
    assert!(body["message"].is_string());
    reply.id()
}

/// Provisions `uuid` on the async plan and waits until it is provisioned.
async fn provisioned_async(service: &Service, fake: &FakeHeroku, uuid: &str) -> String {
    let id = accepted(service, fake, uuid).await;
    service.wait_state(&id, State::Provisioned).await;
    id
}

async fn job(service: &Service, id: &str, kind: Kind) -> jobs::Job {
    jobs::find(service.db(), id, kind)
        .await
        .unwrap()
        .expect("a job")
}

#[tokio::test]
async fn the_async_plan_answers_202_then_exchanges_sets_config_and_marks_provisioned() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let service = Service::start(&db).await;
        let uuid = "uuid-async-1";
        let id = provisioned_async(&service, &fake, uuid).await;
        assert_eq!(
            fake.paths(),
            [
                "/oauth/token".to_owned(),
                format!("/addons/{uuid}/config"),
                format!("/addons/{uuid}/actions/provision")
            ]
        );

        // 1. The grant exchange: a form POST to the callback's origin (loopback).
        let exchange = &fake.calls_to("/oauth/token")[0];
        assert_eq!(exchange.method, Method::POST);
        assert_eq!(
            exchange.header(header::CONTENT_TYPE),
            "application/x-www-form-urlencoded"
        );
        let form = exchange.form();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "code-1");
        assert_eq!(form["client_secret"], CLIENT_SECRET);

        // 2. The config: the credentials URL, with the issued token and the API's version.
        let config = &fake.calls_to(&format!("/addons/{uuid}/config"))[0];
        assert_eq!(config.method, Method::PATCH);
        assert_eq!(config.header(header::AUTHORIZATION), "Bearer tok-1");
        assert_eq!(config.header(header::ACCEPT), API_ACCEPT);
        let sent: Value = serde_json::from_str(&config.body).unwrap();
        let url = sent["config"][0]["value"].as_str().unwrap().to_owned();
        assert_eq!(sent["config"][0]["name"], CONFIG_VAR);
        assert!(url.starts_with(&format!("http://{id}:")), "{url}");

        // 3. The provision action, same headers.
        let done = &fake.calls_to(&format!("/addons/{uuid}/actions/provision"))[0];
        assert_eq!(done.method, Method::POST);
        assert_eq!(done.header(header::AUTHORIZATION), "Bearer tok-1");
        assert_eq!(done.header(header::ACCEPT), API_ACCEPT);

        let job = job(&service, &id, Kind::Provision).await;
        assert_eq!(job.step, Step::Done);
        let tokens = job.tokens(&service.state.settings.cipher).unwrap().unwrap();
        assert_eq!(tokens.access_token, "tok-1");
        assert_eq!(tokens.refresh_token.as_deref(), Some("ref-1"));

        // A replay once done: the same resource, with the config set through the API.
        let again = service
            .provision(async_body(&fake.callback_url(uuid), uuid, "code-1"))
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.id(), id);
        assert_eq!(again.json()["config"][CONFIG_VAR], url.as_str());
        assert_eq!(
            fake.calls_to("/oauth/token").len(),
            1,
            "a replay exchanges nothing"
        );
    }
}

#[tokio::test]
async fn concurrent_copies_make_one_resource_and_one_job() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        // The first exchange fails once, so the job is still running while copies arrive.
        fake.fail("/oauth/token", 503, 1);
        let service = std::sync::Arc::new(Service::start(&db).await);
        let uuid = "uuid-async-2";
        let copies: Vec<_> = (0..16)
            .map(|_| {
                let (service, body) = (
                    service.clone(),
                    async_body(&fake.callback_url(uuid), uuid, "code-2"),
                );
                tokio::spawn(async move { service.provision(body).await })
            })
            .collect();
        let mut ids = Vec::new();
        for copy in copies {
            let reply = copy.await.unwrap();
            assert!(
                reply.status.is_success(),
                "{} {}",
                reply.status,
                reply.text()
            );
            ids.push(reply.id());
        }
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        service.wait_state(&ids[0], State::Provisioned).await;
        assert_eq!(service.count("resources").await, 1);
        assert_eq!(service.count("jobs").await, 1);
        assert_eq!(
            fake.calls_to("/oauth/token").len(),
            2,
            "one failure, one retry"
        );
        assert_eq!(fake.calls_to(&format!("/addons/{uuid}/config")).len(), 1);
        assert_eq!(
            fake.calls_to(&format!("/addons/{uuid}/actions/provision"))
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn steps_are_retried_on_5xx_and_429_honouring_retry_after() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let uuid = "uuid-async-3";
        let config = format!("/addons/{uuid}/config");
        fake.fail("/oauth/token", 503, 2);
        fake.fail_with(&config, 429, 1, Some(1));
        fake.fail(&format!("/addons/{uuid}/actions/provision"), 502, 2);
        let service = Service::start(&db).await;
        provisioned_async(&service, &fake, uuid).await;

        assert_eq!(fake.calls_to("/oauth/token").len(), 3);
        assert!(
            fake.calls_to("/oauth/token")
                .iter()
                .all(|c| c.form()["code"] == "code-1")
        );
        assert_eq!(fake.calls_to(&config).len(), 2);
        assert_eq!(
            fake.calls_to(&format!("/addons/{uuid}/actions/provision"))
                .len(),
            3
        );
        assert_eq!(
            fake.calls_to(&config)[1].header(header::AUTHORIZATION),
            "Bearer tok-1"
        );
        // Retry-After: 1 was honoured (the backoff alone is 10 ms).
        let paths = fake.paths();
        let first = paths.iter().position(|p| *p == config).unwrap();
        assert_eq!(paths[first + 1], config, "nothing else in between");
        assert_timed_apart(&fake, &config, Duration::from_secs(1));
    }
}

/// The first two requests to `path` came at least `gap` apart (a lower bound: it cannot
/// fail because the machine is slow).
fn assert_timed_apart(fake: &FakeHeroku, path: &str, gap: Duration) {
    let calls = fake.calls_to(path);
    let apart = calls[1].at.duration_since(calls[0].at);
    assert!(
        apart >= gap,
        "{path}: tried again after {apart:?}, before {gap:?}"
    );
}

#[tokio::test]
async fn too_many_failures_fail_the_job_and_the_resource() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        fake.fail("/oauth/token", 502, u32::MAX);
        let service = Service::start(&db).await;
        let uuid = "uuid-async-4";
        let id = accepted(&service, &fake, uuid).await;
        service.wait_state(&id, State::Failed).await;
        assert_eq!(fake.calls_to("/oauth/token").len(), 3, "max_attempts tries");
        let job = job(&service, &id, Kind::Provision).await;
        assert_eq!(job.step, Step::Failed);
        assert!(
            job.last_error.as_deref().unwrap().contains("502"),
            "{:?}",
            job.last_error
        );
        // A replay of a failed one answers 202 with the same id, and starts nothing.
        let again = service
            .provision(async_body(&fake.callback_url(uuid), uuid, "c"))
            .await;
        assert_eq!((again.status, again.id()), (StatusCode::ACCEPTED, id));
        assert_eq!(fake.calls_to("/oauth/token").len(), 3);
    }
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let uuid = "uuid-async-5";
        fake.fail(&format!("/addons/{uuid}/config"), 401, u32::MAX);
        let service = Service::start(&db).await;
        let id = accepted(&service, &fake, uuid).await;
        service.wait_state(&id, State::Failed).await;
        assert_eq!(
            fake.paths(),
            ["/oauth/token".to_owned(), format!("/addons/{uuid}/config")]
        );
    }
}

#[tokio::test]
async fn network_errors_are_retried_then_fail_the_resource() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        // A port nobody listens on any more.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let service = Service::start(&db).await;
        let callback = format!("http://127.0.0.1:{port}/addons/uuid-async-6");
        let reply = service
            .provision(async_body(&callback, "uuid-async-6", "c"))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        service.wait_state(&reply.id(), State::Failed).await;
        let job = job(&service, &reply.id(), Kind::Provision).await;
        assert_eq!(job.attempts, 3);
    }
}

#[tokio::test]
async fn the_exchange_goes_to_heroku_identity_url_when_set() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let identity = FakeHeroku::start().await;
        let api = FakeHeroku::start().await;
        let base = format!("{}/", identity.base);
        let service = Service::with(&db, |s| s.identity_url = Some(base)).await;
        let uuid = "uuid-async-7";
        provisioned_async(&service, &api, uuid).await;
        assert_eq!(identity.paths(), ["/oauth/token"]);
        assert_eq!(
            identity.calls_to("/oauth/token")[0].form()["client_secret"],
            CLIENT_SECRET
        );
        assert_eq!(
            api.paths(),
            [
                format!("/addons/{uuid}/config"),
                format!("/addons/{uuid}/actions/provision")
            ]
        );
    }
}

#[tokio::test]
async fn a_job_accepted_by_a_process_that_died_is_done_by_the_next() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let uuid = "uuid-async-8";
        // Killed right after answering 202: its worker never ran.
        let first = Service::without_worker(&db, |_| {}).await;
        let id = accepted(&first, &fake, uuid).await;
        drop(first);
        assert!(fake.paths().is_empty());

        let second = Service::start(&db).await;
        second.wait_state(&id, State::Provisioned).await;
        assert_eq!(fake.calls_to("/oauth/token").len(), 1);
        assert_eq!(job(&second, &id, Kind::Provision).await.step, Step::Done);
    }
}

#[tokio::test]
async fn the_delay_holds_the_job_and_a_restart_during_it_resumes() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let uuid = "uuid-async-9";
        let first = Service::with(&db, |s| s.async_delay = Duration::from_secs(1)).await;
        let started = Instant::now();
        let id = accepted(&first, &fake, uuid).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            fake.paths().is_empty(),
            "nothing before ASYNC_DELAY_SECONDS"
        );
        drop(first);

        let second = Service::start(&db).await;
        second.wait_state(&id, State::Provisioned).await;
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_crash_after_the_grant_exchange_resumes_without_exchanging_again() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let uuid = "uuid-async-10";
        let config = format!("/addons/{uuid}/config");
        fake.hang(&config);
        let first = Service::start(&db).await;
        let id = accepted(&first, &fake, uuid).await;
        fake.wait_for(&config).await;
        // Killed while setting the config, after the grant (which works once) was exchanged.
        drop(first);
        fake.unhang(&config);
        let probe = Service::without_worker(&db, |_| {}).await;
        assert_eq!(
            job(&probe, &id, Kind::Provision).await.step,
            Step::GrantExchanged
        );

        let second = Service::start(&db).await;
        second.wait_state(&id, State::Provisioned).await;
        assert_eq!(
            fake.calls_to("/oauth/token").len(),
            1,
            "the grant is never exchanged twice"
        );
        assert_eq!(fake.calls_to(&config).len(), 2);
        assert_eq!(
            fake.calls_to(&config)[1].header(header::AUTHORIZATION),
            "Bearer tok-1"
        );
    }
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_before_each_later_call() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        // Every token it issues is already expired.
        fake.expires_in(0);
        let service = Service::start(&db).await;
        let uuid = "uuid-async-11";
        let id = provisioned_async(&service, &fake, uuid).await;
        let exchanges = fake.calls_to("/oauth/token");
        assert_eq!(
            exchanges.len(),
            3,
            "the grant, then one refresh before each API call"
        );
        assert_eq!(exchanges[0].form()["grant_type"], "authorization_code");
        let refresh = exchanges[1].form();
        assert_eq!(refresh["grant_type"], "refresh_token");
        assert_eq!(refresh["refresh_token"], "ref-1");
        assert_eq!(refresh["client_secret"], CLIENT_SECRET);
        assert_eq!(exchanges[2].form()["refresh_token"], "ref-2");
        let config = &fake.calls_to(&format!("/addons/{uuid}/config"))[0];
        assert_eq!(config.header(header::AUTHORIZATION), "Bearer tok-2");
        let done = &fake.calls_to(&format!("/addons/{uuid}/actions/provision"))[0];
        assert_eq!(done.header(header::AUTHORIZATION), "Bearer tok-3");
        let tokens = job(&service, &id, Kind::Provision)
            .await
            .tokens(&service.state.settings.cipher)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                tokens.access_token.as_str(),
                tokens.refresh_token.as_deref()
            ),
            ("tok-3", Some("ref-3"))
        );
    }
}

#[tokio::test]
async fn tokens_grant_and_credentials_are_never_stored_in_clear() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        // Held at the config step, so the grant code is still stored when looked at.
        let uuid = "uuid-async-12";
        fake.hang("/oauth/token");
        let service = Service::start(&db).await;
        let id = accepted(&service, &fake, uuid).await;
        fake.wait_for("/oauth/token").await;
        let job_columns = [
            "grant_code_sealed",
            "access_token_sealed",
            "refresh_token_sealed",
            "callback_url",
            "identity_url",
        ];
        let during = stored_text(service.db(), "jobs", &job_columns).await;
        assert!(during.iter().all(|v| !v.contains("code-1")), "{during:?}");
        fake.unhang("/oauth/token");
        service.wait_state(&id, State::Provisioned).await;

        let resource_columns = ["token_hash", "token_sealed", "base_url"];
        let mut stored = stored_text(service.db(), "jobs", &job_columns).await;
        stored.extend(stored_text(service.db(), "resources", &resource_columns).await);
        let sent: Value =
            serde_json::from_str(&fake.calls_to(&format!("/addons/{uuid}/config"))[0].body)
                .unwrap();
        let url = sent["config"][0]["value"].as_str().unwrap().to_owned();
        let credential = url
            .rsplit_once('@')
            .unwrap()
            .0
            .rsplit_once(':')
            .unwrap()
            .1
            .to_owned();
        for secret in ["tok-1", "ref-1", "code-1", credential.as_str()] {
            assert!(
                stored.iter().all(|v| !v.contains(secret)),
                "{secret} in clear: {stored:?}"
            );
        }
        let job = job(&service, &id, Kind::Provision).await;
        assert!(job.access_token_sealed.is_some() && job.grant_code_sealed.is_none());
    }
}

#[tokio::test]
async fn deprovisioning_answers_202_then_calls_actions_deprovision() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let service = Service::start(&db).await;
        let uuid = "uuid-async-13";
        let id = provisioned_async(&service, &fake, uuid).await;
        let uri = format!("/heroku/resources/{id}");
        let reply = service.send(api("DELETE", &uri, "")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(reply.json()["message"].is_string());
        assert_eq!(
            service.state_of(&id).await,
            Some(State::Deprovisioned),
            "at once"
        );
        service
            .send(api("DELETE", &uri, ""))
            .await
            .assert_error(StatusCode::GONE);

        let call = fake
            .wait_for(&format!("/addons/{uuid}/actions/deprovision"))
            .await;
        assert_eq!(call.method, Method::POST);
        assert_eq!(call.header(header::AUTHORIZATION), "Bearer tok-1");
        assert_eq!(call.header(header::ACCEPT), API_ACCEPT);
        assert_eq!(
            fake.calls_to("/oauth/token").len(),
            1,
            "a valid token is not refreshed"
        );
        eventually("the deprovision job to be done", || async {
            (job(&service, &id, Kind::Deprovision).await.step == Step::Done).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_deprovisioning() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let service = Service::start(&db).await;
        let uuid = "uuid-async-14";
        let id = provisioned_async(&service, &fake, uuid).await;
        // Months later: the access token has long expired.
        sqlx::query("UPDATE jobs SET access_token_expires_at = 0 WHERE resource_id = $1")
            .bind(&id)
            .execute(service.db())
            .await
            .unwrap();
        let reply = service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        let call = fake
            .wait_for(&format!("/addons/{uuid}/actions/deprovision"))
            .await;
        let refresh = fake.calls_to("/oauth/token")[1].form();
        assert_eq!(refresh["grant_type"], "refresh_token");
        assert_eq!(refresh["refresh_token"], "ref-1");
        assert_eq!(call.header(header::AUTHORIZATION), "Bearer tok-2");
    }
}

#[tokio::test]
async fn an_async_resource_without_a_token_deprovisions_at_once() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        fake.fail("/oauth/token", 400, u32::MAX);
        let service = Service::start(&db).await;
        let id = accepted(&service, &fake, "uuid-async-15").await;
        service.wait_state(&id, State::Failed).await;
        let reply = service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            fake.paths(),
            ["/oauth/token"],
            "Heroku is not called without a token"
        );
    }
}

#[tokio::test]
async fn deprovisioned_while_provisioning_stops_the_job() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        fake.hang("/oauth/token");
        let service = Service::start(&db).await;
        let uuid = "uuid-async-16";
        let id = accepted(&service, &fake, uuid).await;
        fake.wait_for("/oauth/token").await;
        let reply = service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "no token yet to call Heroku with"
        );
        fake.unhang("/oauth/token");
        eventually("the provision job to stop", || async {
            (job(&service, &id, Kind::Provision).await.step == Step::Failed).then_some(())
        })
        .await;
        assert_eq!(service.state_of(&id).await, Some(State::Deprovisioned));
        assert!(fake.calls_to(&format!("/addons/{uuid}/config")).is_empty());
    }
}

#[tokio::test]
async fn the_async_plan_needs_v3_fields_and_a_client_secret() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let callback = "http://127.0.0.1:9/addons/u";
        for body in [
            json!({"plan": ASYNC, "uuid": "u"}),
            json!({"plan": ASYNC, "uuid": "u", "callback_url": callback}),
            json!({"plan": ASYNC, "uuid": "u", "callback_url": callback, "oauth_grant": "code"}),
            json!({"plan": ASYNC, "uuid": "u", "callback_url": callback, "oauth_grant": {"code": ""}}),
            json!({"plan": ASYNC, "callback_url": callback, "oauth_grant": {"code": "c"}}),
            json!({"plan": ASYNC, "uuid": "u", "callback_url": 7, "oauth_grant": {"code": "c"}}),
        ] {
            let reply = service.provision(body.clone()).await;
            reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        }
        let no_secret = Service::with(&db, |s| s.client_secret = None).await;
        let reply = no_secret.provision(async_body(callback, "u", "c")).await;
        reply.assert_error(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(service.count("resources").await, 0);
        assert_eq!(service.count("jobs").await, 0);
    }
}

#[tokio::test]
async fn other_plans_never_call_heroku() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let fake = FakeHeroku::start().await;
        let service = Service::start(&db).await;
        let mut body = async_body(&fake.callback_url("uuid-sync"), "uuid-sync", "c");
        body["plan"] = json!("test");
        let reply = service.provision(body).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let delete = service
            .send(api(
                "DELETE",
                &format!("/heroku/resources/{}", reply.id()),
                "",
            ))
            .await;
        assert_eq!(delete.status, StatusCode::NO_CONTENT);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            fake.paths().is_empty(),
            "Heroku is never called for a synchronous plan"
        );
        assert_eq!(service.count("jobs").await, 0);
    }
}
