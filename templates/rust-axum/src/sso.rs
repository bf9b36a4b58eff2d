//! Single sign-on from the Heroku dashboard and the session cookie it opens
//! (<https://devcenter.heroku.com/articles/add-on-single-sign-on>).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::app::AppState;
use crate::config::ADDON_NAME;
use crate::error::{ApiError, rejected};
use crate::provisioning::is_https;
use crate::resources::{self, Resource, State as ResourceState};

/// Oldest timestamp accepted, in seconds (Heroku's links are used at once).
const MAX_AGE: i64 = 5 * 60;
/// Clock skew tolerated for timestamps from the future.
const MAX_SKEW: i64 = 60;
/// How long a dashboard session lasts.
const SESSION_TTL: i64 = 60 * 60;
pub const SESSION_COOKIE: &str = "addon-session";
pub const NAV_COOKIE: &str = "heroku-nav-data";

/// SSO parameters, from the query string (legacy GET) or the form (POST). Others Heroku
/// sends (`app`, `context_app`, …) are accepted and ignored.
#[derive(Deserialize, Default)]
pub struct SsoParams {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub token: Option<String>,
    pub resource_id: Option<String>,
    pub resource_token: Option<String>,
    pub user_scoped_resource_token: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "nav-data")]
    pub nav_data: Option<String>,
}

/// `GET /heroku/resources/{id}?token=…&timestamp=…`: legacy SSO, the id comes from the path.
pub async fn legacy_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    params: Result<Query<SsoParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(mut params) = params.map_err(|r| rejected(r.status(), r.body_text()))?;
    params.id = Some(id);
    login_with(&state, &headers, params).await
}

/// `POST /sso/login` with a urlencoded form: the current SSO.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Form<SsoParams>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(params) = params.map_err(|r| rejected(r.status(), r.body_text()))?;
    login_with(&state, &headers, params).await
}

async fn login_with(
    state: &AppState,
    headers: &HeaderMap,
    params: SsoParams,
) -> Result<Response, ApiError> {
    let Some(salt) = &state.settings.sso_salt else {
        return Err(ApiError::not_found(
            "single sign-on is not enabled for this add-on (SSO_SALT is not set)",
        ));
    };
    // v3 names the resource by Heroku's uuid, v1 by our id.
    let resource = match non_empty(&params.resource_id) {
        Some(uuid) => resources::find_by_uuid(&state.db, uuid).await?,
        None => match non_empty(&params.id) {
            Some(id) => resources::find(&state.db, id).await?,
            None => None,
        },
    };
    let Some(resource) = resource.filter(|r| r.state != ResourceState::Deprovisioned) else {
        return Ok(page(StatusCode::NOT_FOUND, "No such resource."));
    };
    let now = unix_now();
    if let Err(reason) = verify(&params, &resource, salt, now) {
        println!("refused SSO for {}: {reason}", resource.id);
        return Ok(page(
            StatusCode::FORBIDDEN,
            "Single sign-on refused: log in through Heroku again.",
        ));
    }

    let session = Session {
        resource_id: resource.id,
        email: params.email.unwrap_or_default(),
        expires: now + SESSION_TTL,
    };
    // Heroku's router terminates TLS and says so: only then may the browser keep the cookie
    // for https alone.
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let mut reply = HeaderMap::new();
    reply.insert(header::LOCATION, HeaderValue::from_static("/"));
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
        session.seal(&state.settings.session_key)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        reply.append(header::SET_COOKIE, value);
    }
    // Heroku's navigation script reads this cookie as is; it is left readable by scripts.
    // A value a cookie cannot hold is dropped rather than mangled.
    if let Some(nav_data) = params.nav_data.filter(|v| is_cookie_value(v)) {
        let cookie = format!("{NAV_COOKIE}={nav_data}; Path=/; SameSite=Lax{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            reply.append(header::SET_COOKIE, value);
        }
    }
    // 302, not axum's `Redirect::to` (303): Heroku's check expects a 302.
    Ok((StatusCode::FOUND, reply).into_response())
}

/// Checks the timestamp window and every token sent; at least one of `token` (v1) or
/// `resource_token` (v3) is required. Tokens are hashed over the timestamp exactly as sent.
pub fn verify(
    params: &SsoParams,
    resource: &Resource,
    salt: &str,
    now: i64,
) -> Result<(), &'static str> {
    let timestamp = params.timestamp.as_deref().unwrap_or_default();
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| "timestamp is not an integer")?;
    if now.saturating_sub(seconds) > MAX_AGE {
        return Err("timestamp too old");
    }
    if seconds.saturating_sub(now) > MAX_SKEW {
        return Err("timestamp in the future");
    }
    if params.token.is_none() && params.resource_token.is_none() {
        return Err("no token");
    }

    // Every comparison runs and is combined without branching on secrets.
    let mut valid = Choice::from(1);
    if let Some(token) = &params.token {
        valid &= digest_matches(
            token,
            &sha1_hex(&format!("{}:{salt}:{timestamp}", resource.id)),
        );
    }
    if params.resource_token.is_some() || params.user_scoped_resource_token.is_some() {
        let uuid = resource
            .uuid
            .as_deref()
            .ok_or("resource has no Heroku uuid")?;
        if let Some(token) = &params.resource_token {
            valid &= digest_matches(token, &sha1_hex(&format!("{uuid}:{salt}:{timestamp}")));
        }
        if let Some(token) = &params.user_scoped_resource_token {
            let user_id = params.user_id.as_deref().unwrap_or_default();
            let email = params.email.as_deref().unwrap_or_default();
            let expected = sha256_hex(&format!("{uuid}:{salt}:{timestamp}:{user_id}:{email}"));
            valid &= digest_matches(token, &expected);
        }
    }
    if bool::from(valid) {
        Ok(())
    } else {
        Err("wrong token")
    }
}

pub fn sha1_hex(input: &str) -> String {
    hex::encode(Sha1::digest(input.as_bytes()))
}

pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

fn digest_matches(given: &str, expected: &str) -> Choice {
    given
        .to_ascii_lowercase()
        .as_bytes()
        .ct_eq(expected.as_bytes())
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The session, kept client-side in a cookie signed with HMAC-SHA256: no server storage, and
/// any change to it by the client breaks the signature.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Session {
    pub resource_id: String,
    pub email: String,
    pub expires: i64,
}

type HmacSha256 = Hmac<Sha256>;

impl Session {
    /// `base64url(json).base64url(hmac)`.
    pub fn seal(&self, key: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The session in `cookie`, if its signature is right and it has not expired.
    pub fn open(cookie: &str, key: &[u8], now: i64) -> Option<Self> {
        let (payload, signature) = cookie.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        // `verify_slice` compares in constant time.
        mac(key, payload).verify_slice(&signature).ok()?;
        let session: Self = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires > now).then_some(session)
    }
}

fn mac(key: &[u8], payload: &str) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails.
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(payload.as_bytes());
    mac
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// RFC 6265 cookie-octets: nav-data is base64url, anything else is not written to a cookie.
fn is_cookie_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 4000
        && value
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// A minimal HTML page for SSO errors.
pub fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><p>{message}</p></body></html>\n",
        title = escape(ADDON_NAME),
        message = escape(message),
    );
    (status, Html(body)).into_response()
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_token_matches_the_published_vector() {
        assert_eq!(
            sha1_hex("123:2f97bfa52ca102f8874716e2eb1d3b4920ad0be4:1267597772"),
            "bb466eb1d6bc345d11072c3cd25c311f21be130d"
        );
    }

    fn resource() -> Resource {
        Resource {
            id: "123".into(),
            uuid: Some("u-1".into()),
            plan: "test".into(),
            region: None,
            state: ResourceState::Provisioned,
            base_url: "http://localhost:5000".into(),
            token_hash: None,
            token_sealed: None,
            api_calls: 0,
        }
    }

    fn v1(timestamp: i64) -> SsoParams {
        SsoParams {
            timestamp: Some(timestamp.to_string()),
            token: Some(sha1_hex(&format!("123:salt:{timestamp}"))),
            ..SsoParams::default()
        }
    }

    #[test]
    fn timestamp_window() {
        let now = 1_700_000_000;
        assert_eq!(verify(&v1(now), &resource(), "salt", now), Ok(()));
        assert_eq!(verify(&v1(now - 299), &resource(), "salt", now), Ok(()));
        assert_eq!(
            verify(&v1(now - 360), &resource(), "salt", now),
            Err("timestamp too old")
        );
        assert_eq!(
            verify(&v1(now + 360), &resource(), "salt", now),
            Err("timestamp in the future")
        );
        assert_eq!(
            verify(&v1(i64::MIN), &resource(), "salt", now),
            Err("timestamp too old")
        );
        assert_eq!(
            verify(&v1(i64::MAX), &resource(), "salt", now),
            Err("timestamp in the future")
        );
        let garbage = SsoParams {
            timestamp: Some("soon".into()),
            ..v1(now)
        };
        assert_eq!(
            verify(&garbage, &resource(), "salt", now),
            Err("timestamp is not an integer")
        );
    }

    #[test]
    fn every_token_sent_must_match() {
        let now = 1_700_000_000;
        let ts = now.to_string();
        let v3 = SsoParams {
            timestamp: Some(ts.clone()),
            resource_token: Some(sha1_hex(&format!("u-1:salt:{ts}"))),
            user_scoped_resource_token: Some(sha256_hex(&format!("u-1:salt:{ts}:user-1:a@b.c"))),
            user_id: Some("user-1".into()),
            email: Some("a@b.c".into()),
            ..SsoParams::default()
        };
        assert_eq!(verify(&v3, &resource(), "salt", now), Ok(()));
        let wrong_user = SsoParams {
            email: Some("x@b.c".into()),
            ..v3
        };
        assert_eq!(
            verify(&wrong_user, &resource(), "salt", now),
            Err("wrong token")
        );
        let wrong_v1 = SsoParams {
            token: Some("0".repeat(40)),
            ..v1(now)
        };
        assert_eq!(
            verify(&wrong_v1, &resource(), "salt", now),
            Err("wrong token")
        );
        let none = SsoParams {
            timestamp: Some(ts),
            ..SsoParams::default()
        };
        assert_eq!(verify(&none, &resource(), "salt", now), Err("no token"));
    }

    #[test]
    fn session_round_trip_and_tampering() {
        let session = Session {
            resource_id: "r".into(),
            email: "e".into(),
            expires: 100,
        };
        let sealed = session.seal(b"key");
        assert_eq!(Session::open(&sealed, b"key", 99), Some(session));
        assert_eq!(Session::open(&sealed, b"key", 100), None, "expired");
        assert_eq!(Session::open(&sealed, b"other", 99), None, "other key");
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"resource_id":"x","email":"","expires":999}"#),
            sealed.split_once('.').unwrap().1
        );
        assert_eq!(Session::open(&forged, b"key", 99), None, "forged payload");
        assert_eq!(Session::open("garbage", b"key", 99), None);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
