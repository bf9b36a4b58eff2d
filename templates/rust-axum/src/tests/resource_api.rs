//! The API behind the config var, used with the credentials it carries.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::*;

/// `GET /api/resource` as an app would call it with the config var's URL.
fn call(config_url: &str) -> Request<Body> {
    let rest = config_url.split_once("://").unwrap().1;
    let (userinfo, _) = rest.split_once('@').unwrap();
    let (user, password) = userinfo.split_once(':').unwrap();
    Request::get("/api/resource")
        .header(header::AUTHORIZATION, basic(user, password))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_config_var_opens_the_resource_api_and_calls_are_counted() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        for n in 1..=3 {
            let reply = service.send(call(&url)).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            assert_eq!(
                reply.json(),
                json!({
                    "id": id,
                    "plan": "test",
                    "status": "provisioned",
                    "limits": {"api_calls": 1000},
                    "usage": {"api_calls": n},
                })
            );
        }
    }
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        let (_, other) = service.provisioned("uuid-2").await;
        let other_token = other
            .rsplit_once('@')
            .unwrap()
            .0
            .rsplit_once(':')
            .unwrap()
            .1;
        let requests = [
            Request::get("/api/resource").body(Body::empty()).unwrap(),
            Request::get("/api/resource")
                .header(header::AUTHORIZATION, basic(&id, "0".repeat(64).as_str()))
                .body(Body::empty())
                .unwrap(),
            // Another resource's token does not open this one.
            Request::get("/api/resource")
                .header(header::AUTHORIZATION, basic(&id, other_token))
                .body(Body::empty())
                .unwrap(),
            Request::get("/api/resource")
                .header(header::AUTHORIZATION, basic("nobody", "x"))
                .body(Body::empty())
                .unwrap(),
            Request::get("/api/resource")
                .header(header::AUTHORIZATION, "Bearer x")
                .body(Body::empty())
                .unwrap(),
        ];
        for request in requests {
            let reply = service.send(request).await;
            reply.assert_error(StatusCode::UNAUTHORIZED);
            assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
        }
        assert_eq!(service.send(call(&url)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn plan_change_changes_the_limits() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        let uri = format!("/heroku/resources/{id}");
        service
            .send(api("PUT", &uri, r#"{"plan": "premium"}"#))
            .await;
        let reply = service.send(call(&url)).await;
        assert_eq!(reply.json()["plan"], "premium");
        assert_eq!(reply.json()["limits"], json!({"api_calls": 1_000_000}));
    }
}

#[tokio::test]
async fn a_used_up_plan_gets_429_until_upgraded() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        sqlx::query("UPDATE resources SET api_calls = 999 WHERE id = $1")
            .bind(&id)
            .execute(service.db())
            .await
            .unwrap();
        assert_eq!(
            service.send(call(&url)).await.json()["usage"]["api_calls"],
            1000
        );
        service
            .send(call(&url))
            .await
            .assert_error(StatusCode::TOO_MANY_REQUESTS);
        let uri = format!("/heroku/resources/{id}");
        service
            .send(api("PUT", &uri, r#"{"plan": "premium"}"#))
            .await;
        assert_eq!(service.send(call(&url)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn deprovisioning_revokes_the_credentials() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, url) = service.provisioned("uuid-1").await;
        assert_eq!(service.send(call(&url)).await.status, StatusCode::OK);
        service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        service
            .send(call(&url))
            .await
            .assert_error(StatusCode::UNAUTHORIZED);
    }
}
