//! HTTP Basic authentication: Heroku's calls to the provisioning API.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::ApiError;

/// Proof of Heroku's Basic-auth credentials (`HEROKU_USERNAME`, `HEROKU_PASSWORD`): put it
/// first in a handler's arguments so a request without them is refused before its body is read.
pub struct HerokuAuth;

impl FromRequestParts<AppState> for HerokuAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let settings = &state.settings;
        match basic_credentials(&parts.headers) {
            Some((user, password))
                if equal_in_constant_time(&[
                    (&user, &settings.username),
                    (&password, &settings.password),
                ]) =>
            {
                Ok(HerokuAuth)
            }
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// Compares every pair, always all of them, so timing tells nothing about which one (or how
/// much of it) was right.
fn equal_in_constant_time(pairs: &[(&str, &str)]) -> bool {
    pairs
        .iter()
        .fold(subtle::Choice::from(1), |all, (given, expected)| {
            all & given.as_bytes().ct_eq(expected.as_bytes())
        })
        .into()
}

/// `(user, password)` from an `Authorization: Basic …` header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn parse(value: &'static str) -> Option<(String, String)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        basic_credentials(&headers)
    }

    #[test]
    fn parses_basic_credentials() {
        assert_eq!(
            parse("Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(
            parse("basic  dXNlcjpwYTpzcw== "),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(parse("Bearer dXNlcjpwYTpzcw=="), None);
        assert_eq!(parse("Basic !!!"), None);
        assert_eq!(parse("Basic dXNlcg=="), None, "\"user\", no colon");
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn every_pair_must_match() {
        assert!(equal_in_constant_time(&[("a", "a"), ("b", "b")]));
        assert!(!equal_in_constant_time(&[("a", "a"), ("b", "c")]));
        assert!(!equal_in_constant_time(&[("a", "x"), ("b", "b")]));
        assert!(!equal_in_constant_time(&[("a", "ab")]));
    }
}
