//! Settings, shared state, the router and the provisioning API (`/heroku/resources`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::{ADDON_NAME, CONFIG_VAR};
use crate::heroku::{self, HttpClient};
use crate::sso;
use crate::store::{Callback, Resource, Status, Store};

/// Resources on this plan are provisioned asynchronously (v3, PROTOCOL §5): `202` first, then
/// Heroku is called back from a spawned task (src/heroku.rs). Every other plan is synchronous.
/// Rename it, or test the request differently, to choose which plans provision asynchronously.
pub const ASYNC_PLAN: &str = "async";

/// Secrets and URLs from the environment. No `Debug`: it must never end up in a log.
pub struct Settings {
    pub username: String,
    pub password: String,
    /// `None` when the add-on has no single sign-on (`kensa create --no-sso` leaves it empty):
    /// SSO is then refused, since an empty salt would let anyone forge tokens.
    pub sso_salt: Option<String>,
    /// HMAC key for the session cookie.
    pub session_key: Vec<u8>,
    /// Base of the URL handed out in the config var.
    pub public_url: String,
    /// The add-on's OAuth client secret (`HEROKU_CLIENT_SECRET`), to exchange the grant of an
    /// asynchronous provision; without it the `async` plan is refused.
    pub client_secret: Option<String>,
    /// `HEROKU_IDENTITY_URL`: where to exchange grants; `None` for the rule in
    /// `heroku::identity_url`.
    pub identity_url: Option<String>,
}

impl Settings {
    pub fn from_env(port: u16) -> Result<Self, String> {
        let required = |name: &str| match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(value),
            _ => Err(format!(
                "{name} is not set (run with the variables from .env)"
            )),
        };
        let optional = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let sso_salt = optional("SSO_SALT");
        Ok(Self {
            username: required("HEROKU_USERNAME")?,
            password: required("HEROKU_PASSWORD")?,
            session_key: session_key(optional("SESSION_SECRET").as_deref(), sso_salt.as_deref()),
            sso_salt,
            public_url: optional("PUBLIC_URL")
                .unwrap_or_else(|| format!("http://localhost:{port}")),
            client_secret: optional("HEROKU_CLIENT_SECRET"),
            identity_url: optional("HEROKU_IDENTITY_URL"),
        })
    }

    /// Compares both fields in constant time, and both always, so timing tells nothing about
    /// which one (or how much of it) was right.
    fn accepts(&self, user: &str, password: &str) -> bool {
        let user_ok = user.as_bytes().ct_eq(self.username.as_bytes());
        let password_ok = password.as_bytes().ct_eq(self.password.as_bytes());
        (user_ok & password_ok).into()
    }
}

/// `SESSION_SECRET` when set; otherwise a key derived from the SSO salt, so a fresh project
/// works with the generated .env alone (set SESSION_SECRET to rotate sessions on their own).
/// Without either, a random key: no session can be opened anyway.
pub fn session_key(secret: Option<&str>, sso_salt: Option<&str>) -> Vec<u8> {
    match (secret, sso_salt) {
        (Some(secret), _) => secret.as_bytes().to_vec(),
        (None, Some(salt)) => Sha256::digest(format!("session:{salt}")).to_vec(),
        (None, None) => [Uuid::new_v4(), Uuid::new_v4()]
            .iter()
            .flat_map(|u| *u.as_bytes())
            .collect(),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<Store>,
    /// Calls Heroku back (asynchronous provisioning).
    pub http: HttpClient,
}

impl AppState {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            store: Arc::new(Store::default()),
            http: heroku::http_client(),
        }
    }

    /// The config handed to Heroku: one var, a URL naming the resource.
    pub fn config_for(&self, resource: &Resource) -> BTreeMap<&'static str, String> {
        let base = self.settings.public_url.trim_end_matches('/');
        BTreeMap::from([(CONFIG_VAR, format!("{base}/resources/{}", resource.id))])
    }
}

/// The whole service; `main` serves it, tests drive it with `oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/heroku/resources", post(provision))
        .route(
            "/heroku/resources/{id}",
            get(sso::legacy_login).put(change_plan).delete(deprovision),
        )
        .route("/sso/login", post(sso::login))
        .route("/", get(sso::dashboard))
        .fallback(|| async { ApiError::NotFound("not found") })
        .with_state(state)
}

/// Errors of the JSON API: every one answers `{"message": …}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    BadRequest(String),
    Unprocessable(String),
    NotFound(&'static str),
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "authentication required".to_owned(),
            ),
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::Unprocessable(message) => (StatusCode::UNPROCESSABLE_ENTITY, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message.to_owned()),
            ApiError::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message),
        };
        let mut response = (status, Json(json!({ "message": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, realm_header());
        }
        response
    }
}

fn realm_header() -> HeaderValue {
    // Header values are ASCII for most clients, and a quote or backslash would end the quoted
    // realm early: keep only the name's other printable ASCII characters.
    let realm: String = ADDON_NAME
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect();
    HeaderValue::from_str(&format!("Basic realm=\"{}\"", realm.trim()))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"add-on\""))
}

/// Proof of Heroku's Basic-auth credentials: put it first in a handler's arguments so a
/// request without them is refused before its body is even read.
pub struct Authenticated;

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credentials = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_basic);
        match credentials {
            Some((user, password)) if state.settings.accepts(&user, &password) => Ok(Authenticated),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Parses a JSON body by hand rather than with the `Json` extractor, to answer 400 for
/// malformed JSON and 422 for valid JSON of the wrong shape, each with a JSON message, and to
/// accept a body whatever its Content-Type.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Unprocessable(
            "the body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::Unprocessable(format!("invalid request: {e}")))
}

fn require_plan(plan: String) -> Result<String, ApiError> {
    if plan.trim().is_empty() {
        return Err(ApiError::Unprocessable("plan must not be empty".into()));
    }
    Ok(plan)
}

/// The fields used from a v1 or v3 provision request; serde ignores the rest (`name`,
/// `heroku_id`, `options`, `log_input_url`, …). The two the `async` plan needs are taken as
/// any JSON, so that for other plans they stay as unchecked as every other extra field.
#[derive(Deserialize)]
struct ProvisionRequest {
    plan: String,
    uuid: Option<String>,
    region: Option<String>,
    callback_url: Option<Value>,
    oauth_grant: Option<Value>,
}

impl ProvisionRequest {
    /// `(callback_url, oauth_grant.code)`: what an asynchronous provision needs from v3.
    fn async_grant(&self) -> Result<(String, String), ApiError> {
        let callback_url = self
            .callback_url
            .as_ref()
            .and_then(Value::as_str)
            .filter(|url| heroku::is_callback_url(url));
        let code = self
            .oauth_grant
            .as_ref()
            .and_then(|grant| grant.get("code"))
            .and_then(Value::as_str)
            .filter(|code| !code.is_empty());
        match (callback_url, code) {
            (Some(url), Some(code)) => Ok((url.to_owned(), code.to_owned())),
            _ => Err(ApiError::Unprocessable(format!(
                "The {ASYNC_PLAN} plan provisions asynchronously (v3): the request needs an \
                 http(s) callback_url and an oauth_grant with a code."
            ))),
        }
    }
}

async fn provision(
    _: Authenticated,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ProvisionRequest = parse_body(&body)?;
    let grant = if request.plan == ASYNC_PLAN {
        if state.settings.client_secret.is_none() {
            eprintln!("refused plan {ASYNC_PLAN}: HEROKU_CLIENT_SECRET is not set");
            return Err(ApiError::Unavailable(format!(
                "{ADDON_NAME} cannot provision asynchronously yet; please try again later."
            )));
        }
        Some(request.async_grant()?)
    } else {
        None
    };
    let plan = require_plan(request.plan)?;
    let uuid = request.uuid.filter(|uuid| !uuid.is_empty());
    let callback_url = grant.as_ref().map(|(url, _)| url.clone());
    // Under the store's lock: of concurrent copies of one request, exactly one creates.
    let (resource, created) = state
        .store
        .provision(uuid, plan, request.region, callback_url);
    if resource.status != Status::Ready {
        // Asynchronous (v3): {id, message} now, no config. Only the copy that created the
        // resource starts the background work; replays just answer 202 with the same id.
        if let (true, Some((_, code))) = (created, grant) {
            println!(
                "accepted {} on plan {}; provisioning in the background",
                resource.id, resource.plan
            );
            tokio::spawn(heroku::provision(state.clone(), resource.clone(), code));
        }
        let body = json!({
            "id": resource.id,
            "message": format!("{ADDON_NAME} is being provisioned on plan {}.", resource.plan),
        });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    // Synchronous (or a replay of an asynchronous one that is done): the config goes back now.
    let status = if created {
        println!("provisioned {} on plan {}", resource.id, resource.plan);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = json!({
        "id": resource.id,
        "config": state.config_for(&resource),
        "message": format!("{ADDON_NAME} is ready on plan {}.", resource.plan),
    });
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
struct PlanChange {
    plan: String,
}

async fn change_plan(
    _: Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: PlanChange = parse_body(&body)?;
    let plan = require_plan(request.plan)?;
    let resource = state
        .store
        .change_plan(&id, plan)
        .ok_or(ApiError::NotFound("no such resource"))?;
    println!("changed {} to plan {}", resource.id, resource.plan);
    Ok(Json(json!({
        "config": state.config_for(&resource),
        "message": format!("Now on plan {}.", resource.plan),
    })))
}

/// A resource provisioned asynchronously is deprovisioned asynchronously too: `202`, then
/// `POST <callback_url>/actions/deprovision` with its token. One that never got a token (its
/// grant exchange failed or is still running) cannot call Heroku: it answers `204` like the rest.
async fn deprovision(
    _: Authenticated,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let resource = state
        .store
        .remove(&id)
        .ok_or(ApiError::NotFound("no such resource"))?;
    if let Some(Callback {
        url,
        tokens: Some(tokens),
    }) = resource.callback
    {
        println!(
            "deprovisioned {}; telling Heroku in the background",
            resource.id
        );
        tokio::spawn(heroku::deprovision(state.clone(), resource.id, url, tokens));
        let body = json!({ "message": format!("{ADDON_NAME} is being deprovisioned.") });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    println!("deprovisioned {}", resource.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_credentials() {
        assert_eq!(
            parse_basic("Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(
            parse_basic("basic  dXNlcjpwYTpzcw== "),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(parse_basic("Bearer dXNlcjpwYTpzcw=="), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic dXNlcg=="), None); // "user", no colon
    }
}
