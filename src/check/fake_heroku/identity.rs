//! `POST /oauth/token`: Heroku's identity service as a provider meets it
//! (docs/protocol.md#1-exchange-the-grant-identity-service). Parameters come from the form
//! body or the query string (Heroku's example add-on sends a query with an empty body);
//! the client secret is a parameter or the password of HTTP Basic auth (RFC 6749
//! §2.3.1). `authorization_code` grants work once, before they expire; `refresh_token`
//! grants give a new access token for the same add-on. The answer has every field
//! Heroku's has, `session_nonce` included.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{Incoming, Outcome, Service, State};

/// The request's parameters: the query string's, then the form body's (which win).
fn parameters(request: &Incoming) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = url::form_urlencoded::parse(request.query.as_bytes())
        .into_owned()
        .collect();
    params.extend(url::form_urlencoded::parse(&request.body).into_owned());
    params
}

/// The password of `Authorization: Basic …`, where OAuth clients may put the secret.
fn basic_password(request: &Incoming) -> Option<String> {
    let encoded = request.header("Authorization")?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    Some(decoded.split_once(':')?.1.to_owned())
}

pub(super) fn token(state: &mut State, request: &Incoming) -> Outcome {
    let params = parameters(request);
    let secret = params
        .get("client_secret")
        .cloned()
        .or_else(|| basic_password(request))
        .unwrap_or_default();
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(state, &params, &secret),
        Some("refresh_token") => refresh(state, &params, &secret),
        Some(other) => refuse(
            None,
            400,
            "unsupported_grant_type",
            &format!("grant_type {other:?}: use authorization_code or refresh_token"),
        ),
        None => refuse(
            None,
            400,
            "invalid_request",
            "no grant_type: send grant_type, code (or refresh_token) and client_secret as a form body or a query string",
        ),
    }
}

fn refuse(uuid: Option<String>, status: u16, id: &str, message: &str) -> Outcome {
    Outcome::refused(Service::Identity, status, id, message).about(uuid)
}

fn secret_ok(state: &State, secret: &str) -> bool {
    match &state.settings.client_secret {
        Some(expected) => secret == expected,
        None => !secret.is_empty(),
    }
}

/// `grant_type=authorization_code&code=…&client_secret=…`.
fn exchange_code(state: &mut State, params: &HashMap<String, String>, secret: &str) -> Outcome {
    let code = params.get("code").cloned().unwrap_or_default();
    let uuid = state.grants.get(&code).map(|g| g.uuid.clone());
    if let Some(addon) = uuid.as_ref().and_then(|u| state.addons.get_mut(u)) {
        addon.record.exchanges += 1;
    }
    let outcome = if !secret_ok(state, secret) {
        refuse(uuid.clone(), 401, "unauthorized", "invalid client_secret")
    } else {
        match state.grants.get_mut(&code) {
            None => refuse(None, 400, "invalid_grant", "unknown grant code"),
            Some(grant) if grant.used => refuse(
                uuid.clone(),
                400,
                "invalid_grant",
                "the grant code was already exchanged; a code works once",
            ),
            Some(grant) if SystemTime::now() > grant.expires => refuse(
                uuid.clone(),
                400,
                "invalid_grant",
                "the grant code has expired",
            ),
            Some(grant) => {
                grant.used = true;
                let uuid = grant.uuid.clone();
                let answer = state.issue_token(&uuid);
                Outcome::json(Service::Identity, 200, answer).about(Some(uuid))
            }
        }
    };
    if let Some(addon) = uuid.as_ref().and_then(|u| state.addons.get_mut(u)) {
        let result = match &outcome.refusal {
            None => Ok(()),
            Some(why) => Err(format!("POST /oauth/token got {}: {why}", outcome.status)),
        };
        // A provider that got its token keeps it; a later refused retry does not undo that.
        if !matches!(addon.record.exchange, Some(Ok(()))) {
            addon.record.exchange = Some(result);
        }
    }
    outcome
}

/// `grant_type=refresh_token&refresh_token=…&client_secret=…`.
fn refresh(state: &mut State, params: &HashMap<String, String>, secret: &str) -> Outcome {
    let token = params.get("refresh_token").cloned().unwrap_or_default();
    let uuid = state.refresh_tokens.get(&token).cloned();
    if !secret_ok(state, secret) {
        return refuse(uuid, 401, "unauthorized", "invalid client_secret");
    }
    let Some(uuid) = uuid else {
        return refuse(None, 400, "invalid_grant", "unknown refresh_token");
    };
    let answer = state.issue_token(&uuid);
    if let Some(addon) = state.addons.get_mut(&uuid) {
        addon.record.refreshes += 1;
    }
    Outcome::json(Service::Identity, 200, answer).about(Some(uuid))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn the_grant_can_come_as_a_query_with_an_empty_body() {
        // As Heroku's example add-on sends it.
        let fake = start(Some("s3cret"));
        let grant = fake.provision(addon("q1"));
        let head = format!(
            "POST /oauth/token?grant_type=authorization_code&code={}&client_secret=s3cret HTTP/1.1",
            grant.code
        );
        let (status, answer) = raw(&fake, &head, "");
        assert_eq!(status, 200, "{answer}");
        assert_eq!(fake.record("q1").exchange, Some(Ok(())));
    }

    #[test]
    fn the_secret_can_be_the_basic_auth_password() {
        let fake = start(Some("s3cret"));
        let grant = fake.provision(addon("q2"));
        let basic = STANDARD.encode("client-id:s3cret");
        let head = format!("{FORM}\r\nAuthorization: Basic {basic}");
        let body = format!("grant_type=authorization_code&code={}", grant.code);
        assert_eq!(raw(&fake, &head, &body).0, 200);
    }

    #[test]
    fn the_answer_has_every_field_heroku_sends() {
        let fake = start(None);
        let grant = fake.provision(addon("q3"));
        let (_, answer) = raw(&fake, FORM, &token_request(&grant.code, "any"));
        for key in [
            "access_token",
            "expires_in",
            "refresh_token",
            "token_type",
            "user_id",
            "session_nonce",
        ] {
            assert!(answer.get(key).is_some(), "{key} missing: {answer}");
        }
        assert_eq!(answer["expires_in"], 28800);
    }

    #[test]
    fn a_refresh_token_gives_a_new_access_token() {
        let fake = start(Some("s3cret"));
        let grant = fake.provision(addon("q4"));
        let (_, first) = raw(&fake, FORM, &token_request(&grant.code, "s3cret"));
        let body = format!(
            "grant_type=refresh_token&refresh_token={}&client_secret=s3cret",
            first["refresh_token"].as_str().unwrap()
        );
        let (status, second) = raw(&fake, FORM, &body);
        assert_eq!(status, 200, "{second}");
        assert_ne!(second["access_token"], first["access_token"]);
        assert_eq!(fake.record("q4").refreshes, 1);
        let wrong = "grant_type=refresh_token&refresh_token=nope&client_secret=s3cret";
        assert_eq!(raw(&fake, FORM, wrong).0, 400);
    }
}
