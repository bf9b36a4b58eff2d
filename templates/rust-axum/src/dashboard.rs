//! `GET /`: the add-on's dashboard, where single sign-on lands. It shows the resource the
//! session was opened for inside Heroku's header (`<div id="heroku-header">`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use crate::app::AppState;
use crate::config::ADDON_NAME;
use crate::error::ApiError;
use crate::plans;
use crate::resources::{self, State as ResourceState};
use crate::sso::{NAV_COOKIE, SESSION_COOKIE, Session, cookie, escape, page, unix_now};

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = cookie(&headers, SESSION_COOKIE)
        .and_then(|value| Session::open(value, &state.settings.session_key, unix_now()));
    let Some(session) = session else {
        return Ok(page(StatusCode::FORBIDDEN, "Please log in through Heroku."));
    };
    let resource = resources::find(&state.db, &session.resource_id)
        .await?
        .filter(|r| r.state != ResourceState::Deprovisioned);
    let Some(resource) = resource else {
        return Ok(page(
            StatusCode::FORBIDDEN,
            "This resource is gone. Please log in through Heroku.",
        ));
    };
    let nav = cookie(&headers, NAV_COOKIE)
        .map(NavData::decode)
        .unwrap_or_default();
    let header: Vec<String> = [
        nav.addon
            .map(|addon| format!("<strong class=\"addon\">{}</strong>", escape(&addon))),
        nav.app
            .map(|app| format!("<span class=\"app\">{}</span>", escape(&app))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let limit = plans::find(&resource.plan).map_or(0, |plan| plan.api_calls);
    Ok(Html(format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title></head>
<body>
<div id="heroku-header">{header}</div>
<main>
<h1>{title}</h1>
<dl>
<dt>Resource</dt><dd>{id}</dd>
<dt>Plan</dt><dd>{plan}</dd>
<dt>Region</dt><dd>{region}</dd>
<dt>Status</dt><dd>{status}</dd>
<dt>API calls</dt><dd>{calls} of {limit}</dd>
<dt>Signed in as</dt><dd>{email}</dd>
</dl>
</main>
</body>
</html>
"#,
        title = escape(ADDON_NAME),
        header = header.join(" · "),
        id = escape(&resource.id),
        plan = escape(&resource.plan),
        region = escape(resource.region.as_deref().unwrap_or("-")),
        status = resource.state,
        calls = resource.api_calls,
        email = escape(&session.email),
    ))
    .into_response())
}

/// What the header shows, from Heroku's `nav-data`: base64url (padding optional) of a JSON
/// object such as `{"addon":"My Addon","appname":"my-app"}`. Anything unreadable shows nothing.
#[derive(Default, Debug, PartialEq)]
pub struct NavData {
    pub addon: Option<String>,
    pub app: Option<String>,
}

impl NavData {
    pub fn decode(raw: &str) -> Self {
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &URL_SAFE,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let object = LENIENT
            .decode(raw.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let field = |name: &str| {
            object
                .as_ref()
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            addon: field("addon"),
            app: field("appname"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn nav_data_decoding() {
        let json = br#"{"addon":"My Addon","appname":"my-app"}"#;
        let expected = NavData {
            addon: Some("My Addon".into()),
            app: Some("my-app".into()),
        };
        assert_eq!(NavData::decode(&URL_SAFE_NO_PAD.encode(json)), expected);
        assert_eq!(
            NavData::decode(&base64::engine::general_purpose::URL_SAFE.encode(json)),
            expected
        );
        assert_eq!(NavData::decode("%%%not base64"), NavData::default());
        assert_eq!(
            NavData::decode(&URL_SAFE_NO_PAD.encode(b"[1,2]")),
            NavData::default()
        );
    }
}
