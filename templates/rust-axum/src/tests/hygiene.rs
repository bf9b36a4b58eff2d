//! What a client may send that it should not: every answer is a JSON 4xx.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use super::*;
use crate::error::BODY_LIMIT;

#[tokio::test]
async fn malformed_json_gets_400_and_the_wrong_shape_422() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        for body in ["{not json", "", "{\"plan\": \"test\"", "\u{0}"] {
            let reply = service.send(api("POST", "/heroku/resources", body)).await;
            reply.assert_error(StatusCode::BAD_REQUEST);
        }
        for body in [
            json!({"uuid": "u"}),
            json!({"plan": 7}),
            json!([1]),
            json!("plan"),
        ] {
            service
                .provision(body)
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY);
        }
        assert_eq!(service.count("resources").await, 0);
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_with_a_json_message() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let mut body = v3_body("uuid-1");
        body["options"] = json!({ "padding": "x".repeat(BODY_LIMIT) });
        service
            .provision(body)
            .await
            .assert_error(StatusCode::PAYLOAD_TOO_LARGE);
        let form = format!("id=x&timestamp=1&token={}", "a".repeat(BODY_LIMIT));
        let sso = Request::post("/sso/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        service
            .send(sso)
            .await
            .assert_error(StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(service.count("resources").await, 0);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        service
            .send(get("/nowhere", ""))
            .await
            .assert_error(StatusCode::NOT_FOUND);
        let patch = Request::patch("/heroku/resources")
            .body(Body::empty())
            .unwrap();
        service
            .send(patch)
            .await
            .assert_error(StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn a_form_that_is_not_one_gets_a_json_4xx() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let sso = Request::post("/sso/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let reply = service.send(sso).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        assert!(reply.json()["message"].is_string());
    }
}
