use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use subtle::ConstantTimeEq;

/// Heroku's calls carry Basic auth: user = the add-on id, password = the manifest's
/// api.password. Layered on the provision, plan change and deprovision routes with
/// `axum::middleware::from_fn_with_state` (not on SSO).
pub async fn heroku_auth(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let decoded = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    let (user, password) = decoded.split_once(':').unwrap_or(("", ""));
    // `&` on subtle's Choice: both comparisons always run.
    let ok = user.as_bytes().ct_eq(app.username.as_bytes())
        & password.as_bytes().ct_eq(app.password.as_bytes());
    if bool::from(ok) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": "Unauthorized" })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Acme DB\""),
    );
    response
}
