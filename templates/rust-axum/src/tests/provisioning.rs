//! Provision, plan change and deprovision as Heroku calls them.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::*;
use crate::config::CONFIG_VAR;
use crate::crypto::sha256_hex;

/// `http://<id>:<token>@localhost:5000/api/resource` → (id, token).
fn credentials(config_url: &str) -> (String, String) {
    let rest = config_url.strip_prefix("http://").expect("an http URL");
    let (userinfo, host) = rest.split_once('@').expect("credentials in the URL");
    assert_eq!(host, "localhost:5000/api/resource");
    let (id, token) = userinfo.split_once(':').unwrap();
    (id.to_owned(), token.to_owned())
}

#[tokio::test]
async fn provision_answers_201_with_credentials_in_the_config_var() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let reply = service.provision(v3_body("uuid-1")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let body = reply.json();
        let id = body["id"].as_str().unwrap();
        let url = body["config"][CONFIG_VAR].as_str().unwrap();
        let (user, token) = credentials(url);
        assert_eq!(user, id);
        assert_eq!(token.len(), 64, "256 random bits, hex");
        assert!(body["message"].is_string());
        assert_eq!(body["config"].as_object().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn credentials_are_stored_hashed_and_encrypted_never_in_clear() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        let (_, token) = credentials(&url);
        let resource = resources::find(service.db(), &id).await.unwrap().unwrap();
        assert_eq!(
            resource.token_hash.as_deref(),
            Some(sha256_hex(&token).as_str())
        );
        let columns = [
            "id",
            "uuid",
            "plan",
            "state",
            "base_url",
            "token_hash",
            "token_sealed",
        ];
        for value in stored_text(service.db(), "resources", &columns).await {
            assert!(!value.contains(&token), "the credential in clear: {value}");
        }
    }
}

#[tokio::test]
async fn a_v1_body_is_accepted_and_its_id_is_never_derived_from_heroku_id() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let body = json!({"heroku_id": "app123@heroku.com", "plan": "test", "region": "us",
            "callback_url": "https://api.heroku.com/vendor/apps/app123@heroku.com",
            "logplex_token": "t", "options": {}});
        let reply = service.provision(body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert!(!reply.id().contains("123"));
    }
}

#[tokio::test]
async fn the_same_uuid_again_gives_the_same_resource_and_credentials() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let first = service.provision(v3_body("uuid-1")).await;
        let again = service.provision(v3_body("uuid-1")).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["id"], first.json()["id"]);
        assert_eq!(again.json()["config"], first.json()["config"]);
        assert_eq!(service.count("resources").await, 1);
    }
}

#[tokio::test]
async fn sixteen_concurrent_copies_make_one_resource_and_get_one_answer() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = std::sync::Arc::new(Service::start(&db).await);
        let copies: Vec<_> = (0..16)
            .map(|_| {
                let service = service.clone();
                tokio::spawn(async move { service.provision(v3_body("uuid-16")).await })
            })
            .collect();
        let mut answers = Vec::new();
        for copy in copies {
            let reply = copy.await.unwrap();
            assert!(
                reply.status.is_success(),
                "{} {}",
                reply.status,
                reply.text()
            );
            answers.push(reply.json());
        }
        let configs: Vec<_> = answers.iter().map(|a| (&a["id"], &a["config"])).collect();
        assert!(configs.iter().all(|c| *c == configs[0]), "{configs:?}");
        assert_eq!(service.count("resources").await, 1);
    }
}

#[tokio::test]
async fn another_uuid_or_none_gives_a_new_resource() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (a, _) = service.provisioned("uuid-a").await;
        let (b, _) = service.provisioned("uuid-b").await;
        assert_ne!(a, b);
        let c = service.provision(json!({"plan": "test"})).await;
        let d = service.provision(json!({"plan": "test"})).await;
        assert_eq!(
            (c.status, d.status),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        assert_ne!(c.id(), d.id());
    }
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_with_a_challenge() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let body = v3_body("uuid-1").to_string();
        let requests = [
            Request::post("/heroku/resources")
                .header(header::AUTHORIZATION, basic(USER, "nope"))
                .body(Body::from(body.clone())),
            Request::post("/heroku/resources")
                .header(header::AUTHORIZATION, basic("someone", PASSWORD))
                .body(Body::from(body.clone())),
            Request::post("/heroku/resources").body(Body::from(body)),
            Request::put("/heroku/resources/x")
                .header(header::AUTHORIZATION, "Basic %%%")
                .body(Body::empty()),
            Request::delete("/heroku/resources/x").body(Body::empty()),
        ];
        for request in requests {
            let reply = service.send(request.unwrap()).await;
            reply.assert_error(StatusCode::UNAUTHORIZED);
            let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(challenge.starts_with("Basic realm=\""), "{challenge}");
        }
        assert_eq!(service.count("resources").await, 0);
    }
}

#[tokio::test]
async fn unknown_plans_get_422_naming_the_plan() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let mut body = v3_body("uuid-1");
        body["plan"] = json!("platinum");
        let reply = service.provision(body).await;
        reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("platinum")
        );
        assert_eq!(service.count("resources").await, 0);

        let (id, _) = service.provisioned("uuid-2").await;
        let uri = format!("/heroku/resources/{id}");
        let reply = service
            .send(api("PUT", &uri, r#"{"plan": "platinum"}"#))
            .await;
        reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("platinum")
        );
        assert_eq!(service.state_of(&id).await, Some(State::Provisioned));
    }
}

#[tokio::test]
async fn plan_change_updates_the_plan_and_the_same_plan_is_a_no_op() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let uri = format!("/heroku/resources/{id}");
        let reply = service
            .send(api("PUT", &uri, r#"{"plan": "premium", "uuid": "uuid-1"}"#))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(reply.json()["message"].is_string());
        let resource = resources::find(service.db(), &id).await.unwrap().unwrap();
        assert_eq!(resource.plan, "premium");

        let same = service
            .send(api("PUT", &uri, r#"{"plan": "premium"}"#))
            .await;
        assert_eq!(same.status, StatusCode::OK);
        assert!(same.json()["message"].as_str().unwrap().contains("Already"));

        service
            .send(api("PUT", &uri, "{oops"))
            .await
            .assert_error(StatusCode::BAD_REQUEST);
        service
            .send(api("PUT", &uri, "{}"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn unknown_ids_get_404() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let put = service
            .send(api(
                "PUT",
                "/heroku/resources/nope",
                r#"{"plan": "premium"}"#,
            ))
            .await;
        put.assert_error(StatusCode::NOT_FOUND);
        let delete = service
            .send(api("DELETE", "/heroku/resources/nope", ""))
            .await;
        delete.assert_error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn deprovision_revokes_keeps_the_row_and_the_uuid_is_gone_for_good() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let uri = format!("/heroku/resources/{id}");
        let reply = service.send(api("DELETE", &uri, "")).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());

        let resource = resources::find(service.db(), &id).await.unwrap().unwrap();
        assert_eq!(resource.state, State::Deprovisioned);
        assert!(
            resource.token_hash.is_none() && resource.token_sealed.is_none(),
            "revoked"
        );

        service
            .send(api("DELETE", &uri, ""))
            .await
            .assert_error(StatusCode::GONE);
        service
            .send(api("PUT", &uri, r#"{"plan": "premium"}"#))
            .await
            .assert_error(StatusCode::GONE);
        service
            .provision(v3_body("uuid-1"))
            .await
            .assert_error(StatusCode::GONE);
        assert_eq!(service.count("resources").await, 1);
    }
}

#[tokio::test]
async fn a_callback_that_is_not_herokus_is_refused_before_anything_is_created() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        for callback in [
            "https://evil.example/addons/uuid-1",
            "http://api.heroku.com/addons/uuid-1",
            "https://api.heroku.com.evil.example/addons/uuid-1",
            "not a url",
        ] {
            let mut body = v3_body("uuid-1");
            body["callback_url"] = json!(callback);
            let reply = service.provision(body).await;
            reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(service.count("resources").await, 0);
        for (uuid, callback) in [
            ("uuid-2", "https://api.heroku.com/addons/uuid-2"),
            ("uuid-3", "http://127.0.0.1:4567/addons/uuid-3"),
            ("uuid-4", "http://localhost:4567/addons/uuid-4"),
        ] {
            let mut body = v3_body(uuid);
            body["callback_url"] = json!(callback);
            assert_eq!(
                service.provision(body).await.status,
                StatusCode::CREATED,
                "{callback}"
            );
        }
    }
}

#[tokio::test]
async fn on_a_dyno_a_loopback_callback_is_refused_before_anything_is_stored() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::with(&db, |settings| settings.on_heroku = true).await;
        let mut body = v3_body("uuid-1");
        body["callback_url"] = json!("http://127.0.0.1:4567/addons/uuid-1");
        service
            .provision(body)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(service.count("resources").await, 0);
        let mut body = v3_body("uuid-2");
        body["callback_url"] = json!("https://api.heroku.com/addons/uuid-2");
        assert_eq!(service.provision(body).await.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn heroku_identity_url_allows_any_callback() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::with(&db, |s| {
            s.identity_url = Some("https://id.example.test".into());
        })
        .await;
        let mut body = v3_body("uuid-1");
        body["callback_url"] = json!("https://api.example.test/addons/uuid-1");
        assert_eq!(service.provision(body).await.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn the_config_var_points_at_the_public_url() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let request = Request::post("/heroku/resources")
            .header(header::AUTHORIZATION, basic(USER, PASSWORD))
            .header(header::HOST, "my-addon.herokuapp.com")
            .header("x-forwarded-proto", "https")
            .body(Body::from(v3_body("uuid-1").to_string()))
            .unwrap();
        let reply = service.send(request).await;
        let url = reply.json()["config"][CONFIG_VAR]
            .as_str()
            .unwrap()
            .to_owned();
        let id = reply.id();
        assert!(url.starts_with(&format!("https://{id}:")), "{url}");
        assert!(
            url.ends_with("@my-addon.herokuapp.com/api/resource"),
            "{url}"
        );

        let service = Service::with(&db, |s| {
            s.public_url = Some("https://addon.example.com".into());
        })
        .await;
        let (_, url) = service.provisioned("uuid-2").await;
        assert!(url.ends_with("@addon.example.com/api/resource"), "{url}");
        assert!(url.starts_with("https://"), "{url}");
    }
}

#[tokio::test]
async fn resources_survive_a_restart() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        drop(service);

        let service = Service::start(&db).await;
        let again = service.provision(v3_body("uuid-1")).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["config"][CONFIG_VAR], url.as_str());
        let uri = format!("/heroku/resources/{id}");
        let change = service
            .send(api("PUT", &uri, r#"{"plan": "premium"}"#))
            .await;
        assert_eq!(change.status, StatusCode::OK);
        drop(service);

        let service = Service::start(&db).await;
        let delete = service.send(api("DELETE", &uri, "")).await;
        assert_eq!(delete.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn migrations_run_once_and_concurrently() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let (a, b) = (
            db::connect(&db.url).await.unwrap(),
            db::connect(&db.url).await.unwrap(),
        );
        let all: Vec<i64> = db::MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(
            db::pending(&a).await.unwrap(),
            all,
            "a new database: all to do"
        );
        let (ra, rb) = tokio::join!(db::migrate(&a), db::migrate(&b));
        // SQLite has no lock for this: one of two concurrent first runs may fail; Postgres waits.
        if db.label == "postgres" {
            ra.unwrap();
            rb.unwrap();
        }
        db::migrate(&a).await.unwrap();
        db::migrate(&a).await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&a)
            .await
            .unwrap();
        assert_eq!(applied, db::MIGRATOR.iter().count() as i64);
        assert!(db::pending(&a).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn on_heroku_the_web_process_refuses_pending_migrations() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let pool = db::connect(&db.url).await.unwrap();
        let all: Vec<i64> = db::MIGRATOR.iter().map(|m| m.version).collect();
        let why = db::prepare(&pool, true).await.unwrap_err();
        assert!(why.contains(&format!("{all:?} are not applied")), "{why}");
        assert!(why.contains("release phase"), "{why}");
        assert_eq!(
            db::pending(&pool).await.unwrap(),
            all,
            "the web process applied nothing"
        );
        db::prepare(&pool, false).await.unwrap();
        assert!(
            db::pending(&pool).await.unwrap().is_empty(),
            "in development it migrates on start"
        );
        db::prepare(&pool, true).await.unwrap();
    }
}
