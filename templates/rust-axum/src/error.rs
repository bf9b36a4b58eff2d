//! Errors of the JSON routes, and the JSON body extractor: whatever a client sends, the answer
//! is a status and `{"message": …}`, never a crash or an HTML page.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::ADDON_NAME;

/// Request bodies larger than this are refused with 413: Heroku's requests are a few KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug)]
pub enum ApiError {
    /// 401 with a `WWW-Authenticate: Basic` challenge.
    Unauthorized,
    /// Any other 4xx (or 503) with its message.
    Status(StatusCode, String),
    /// 500: the details go to the log, not to the client.
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::BAD_REQUEST, message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::NOT_FOUND, message.into())
    }

    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::GONE, message.into())
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(format!("database: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "authentication required".into()),
            ApiError::Status(status, message) => (status, message),
            ApiError::Internal(details) => {
                eprintln!("error: {details}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; please try again".into(),
                )
            }
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

/// A JSON request body, read whatever its Content-Type (Heroku's is `application/json`, but a
/// missing one is no reason to refuse): 413 over [`BODY_LIMIT`], 400 for malformed JSON, 422
/// for JSON of the wrong shape, each with a JSON message.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| rejected(rejection.status(), rejection.body_text()))?;
        parse(&body).map(JsonBody)
    }
}

/// axum's own rejections (body too large, unreadable form or query) as JSON.
pub fn rejected(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::Status(
            status,
            format!("the request body is larger than {} KiB", BODY_LIMIT / 1024),
        );
    }
    ApiError::Status(status, text)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::unprocessable("the body must be a JSON object"));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::unprocessable(format!("invalid request: {e}")))
}
