//! Single sign-on, the session cookie and the dashboard.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::sso::{sha1_hex, sha256_hex, unix_now};

fn nav_data() -> String {
    URL_SAFE_NO_PAD.encode(r#"{"addon":"My <Addon>","appname":"my-app","addons":[]}"#)
}

fn v1_sso(id: &str, timestamp: i64) -> String {
    let token = sha1_hex(&format!("{id}:{SALT}:{timestamp}"));
    format!(
        "id={id}&token={token}&timestamp={timestamp}&nav-data={}&email=u%40example.com",
        nav_data()
    )
}

fn v3_sso(uuid: &str, timestamp: i64) -> String {
    let resource_token = sha1_hex(&format!("{uuid}:{SALT}:{timestamp}"));
    let user_token = sha256_hex(&format!("{uuid}:{SALT}:{timestamp}:user-1:u@example.com"));
    format!(
        "resource_id={uuid}&resource_token={resource_token}&user_scoped_resource_token={user_token}\
         &timestamp={timestamp}&user_id=user-1&email=u%40example.com&app=my-app&context_app=my-app\
         &nav-data={}",
        nav_data()
    )
}

fn sso_post(form: String) -> Request<Body> {
    Request::post("/sso/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

/// Follows a successful SSO reply to the dashboard and checks what it shows.
async fn assert_logged_in(service: &Service, reply: &Reply, id: &str) {
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(reply.headers[header::LOCATION], "/");
    let nav = reply
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("heroku-nav-data="))
        .unwrap();
    assert!(
        nav.starts_with(&format!("heroku-nav-data={}; Path=/", nav_data())),
        "{nav}"
    );

    let page = service.send(get("/", &reply.cookie_header())).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(r#"<div id="heroku-header">"#), "{html}");
    assert!(
        html.contains("My &lt;Addon&gt;"),
        "add-on name, escaped: {html}"
    );
    assert!(html.contains("my-app"), "app name: {html}");
    assert!(
        html.contains(id) && html.contains("test"),
        "resource and plan: {html}"
    );
}

#[tokio::test]
async fn sso_with_a_v1_token_by_get_and_post() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let uri = format!("/heroku/resources/{id}?{}", v1_sso(&id, unix_now()));
        let by_get = service.send(get(&uri, "")).await;
        assert_logged_in(&service, &by_get, &id).await;
        let by_post = service.send(sso_post(v1_sso(&id, unix_now()))).await;
        assert_logged_in(&service, &by_post, &id).await;
    }
}

#[tokio::test]
async fn sso_with_v3_resource_tokens_by_post_and_get() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let by_post = service.send(sso_post(v3_sso("uuid-1", unix_now()))).await;
        assert_logged_in(&service, &by_post, &id).await;
        // Legacy GET carrying v3 parameters: found by resource_id.
        let uri = format!("/heroku/resources/{id}?{}", v3_sso("uuid-1", unix_now()));
        let by_get = service.send(get(&uri, "")).await;
        assert_logged_in(&service, &by_get, &id).await;
    }
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_and_secure_behind_https() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let plain = service.send(sso_post(v1_sso(&id, unix_now()))).await;
        let session = plain.cookies()[0].to_owned();
        assert!(session.starts_with("addon-session="), "{session}");
        assert!(
            session.contains("; HttpOnly") && session.contains("; SameSite=Lax"),
            "{session}"
        );
        assert!(
            !session.contains("Secure"),
            "plain http cannot keep a Secure cookie: {session}"
        );

        let mut request = sso_post(v1_sso(&id, unix_now()));
        request
            .headers_mut()
            .insert("x-forwarded-proto", "https".parse().unwrap());
        let forwarded = service.send(request).await;
        for cookie in forwarded.cookies() {
            assert!(cookie.ends_with("; Secure"), "{cookie}");
        }
        assert!(forwarded.cookies()[0].contains("; HttpOnly"));
    }
}

#[tokio::test]
async fn sso_refuses_wrong_tokens() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let ts = unix_now();
        let forms = [
            format!("id={id}&token={}&timestamp={ts}", "0".repeat(40)),
            format!("id={id}&timestamp={ts}"),
            // Right resource token, wrong user-scoped token.
            v3_sso("uuid-1", ts).replace("user_id=user-1", "user_id=user-2"),
            // Right v1 token, wrong resource token.
            format!(
                "{}&resource_id=uuid-1&resource_token={}",
                v1_sso(&id, ts),
                "0".repeat(40)
            ),
        ];
        for form in forms {
            let reply = service.send(sso_post(form.clone())).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
            assert!(reply.cookies().is_empty());
        }
    }
}

#[tokio::test]
async fn sso_refuses_stale_future_and_garbage_timestamps() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let stale = service
            .send(sso_post(v1_sso(&id, unix_now() - 6 * 60)))
            .await;
        assert_eq!(stale.status, StatusCode::FORBIDDEN);
        let future = service
            .send(sso_post(v3_sso("uuid-1", unix_now() + 6 * 60)))
            .await;
        assert_eq!(future.status, StatusCode::FORBIDDEN);
        let garbage = format!("id={id}&token=abc&timestamp=yesterday");
        assert_eq!(
            service.send(sso_post(garbage)).await.status,
            StatusCode::FORBIDDEN
        );
        let uri = format!(
            "/heroku/resources/{id}?{}",
            v1_sso(&id, unix_now() - 6 * 60)
        );
        assert_eq!(
            service.send(get(&uri, "")).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn unknown_and_deprovisioned_resources_get_404() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let uri = format!("/heroku/resources/nope?{}", v1_sso("nope", unix_now()));
        assert_eq!(
            service.send(get(&uri, "")).await.status,
            StatusCode::NOT_FOUND
        );
        let reply = service
            .send(sso_post(v3_sso("no-such-uuid", unix_now())))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);

        let (id, _) = service.provisioned("uuid-1").await;
        let session = service.send(sso_post(v1_sso(&id, unix_now()))).await;
        service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        let reply = service.send(sso_post(v3_sso("uuid-1", unix_now()))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let page = service.send(get("/", &session.cookie_header())).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "a session of a deprovisioned resource"
        );
    }
}

#[tokio::test]
async fn the_dashboard_needs_a_valid_session() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let anonymous = service.send(get("/", "")).await;
        assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
        assert!(anonymous.text().contains("log in through Heroku"));
        let forged = service
            .send(get("/", "addon-session=eyJ9.AAAA; heroku-nav-data=x"))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn garbage_nav_data_shows_nothing_but_works() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let ts = unix_now();
        let token = sha1_hex(&format!("{id}:{SALT}:{ts}"));
        let form = format!("id={id}&token={token}&timestamp={ts}&nav-data=%21%21not-json");
        let reply = service.send(sso_post(form)).await;
        assert_eq!(reply.status, StatusCode::FOUND);
        let page = service.send(get("/", &reply.cookie_header())).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.text().contains(r#"<div id="heroku-header"></div>"#),
            "{}",
            page.text()
        );
    }
}

#[tokio::test]
async fn without_a_salt_sso_is_off_and_the_rest_works() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::with(&db, |s| s.sso_salt = None).await;
        let (id, _) = service.provisioned("uuid-1").await;
        // Even a token made with an empty salt: it would be forgeable.
        let ts = unix_now();
        let token = sha1_hex(&format!("{id}::{ts}"));
        let reply = service
            .send(sso_post(format!("id={id}&token={token}&timestamp={ts}")))
            .await;
        reply.assert_error(StatusCode::NOT_FOUND);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("not enabled")
        );
        assert!(reply.cookies().is_empty());
        let uri = format!("/heroku/resources/{id}?id={id}&token={token}&timestamp={ts}");
        service
            .send(get(&uri, ""))
            .await
            .assert_error(StatusCode::NOT_FOUND);
        let delete = service
            .send(api("DELETE", &format!("/heroku/resources/{id}"), ""))
            .await;
        assert_eq!(delete.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    for db in databases().await {
        eprintln!("[{}]", db.label);
        let service = Service::start(&db).await;
        let (id, _) = service.provisioned("uuid-1").await;
        let login = service.send(sso_post(v3_sso("uuid-1", unix_now()))).await;
        drop(service);
        let service = Service::start(&db).await;
        let page = service.send(get("/", &login.cookie_header())).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains(&id));
        let again = service.send(sso_post(v3_sso("uuid-1", unix_now()))).await;
        assert_logged_in(&service, &again, &id).await;
    }
}
