//! The provisioning API Heroku calls: provision, plan change, deprovision
//! (<https://devcenter.heroku.com/articles/add-on-partner-api-reference>).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::HerokuAuth;
use crate::config::{ADDON_NAME, CONFIG_VAR};
use crate::db::{ms, now_ms};
use crate::error::{ApiError, JsonBody};
use crate::heroku;
use crate::jobs::{self, NewProvision};
use crate::plans::{self, Plan};
use crate::resources::{self, NewResource, Resource, State as ResourceState};
use crate::settings::Settings;

/// The fields used from a v1 or v3 provision request; serde ignores the rest (`name`,
/// `heroku_id`, `options`, `log_input_url`, …). `callback_url` and `oauth_grant` are taken as
/// any JSON, so that where they are not used they stay as unchecked as every other extra field.
#[derive(Deserialize)]
pub struct ProvisionRequest {
    plan: String,
    uuid: Option<String>,
    region: Option<String>,
    callback_url: Option<Value>,
    oauth_grant: Option<Value>,
}

pub async fn provision(
    _: HerokuAuth,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ProvisionRequest>,
) -> Result<Response, ApiError> {
    let plan = find_plan(&request.plan)?;
    let uuid = request.uuid.as_deref().filter(|uuid| !uuid.is_empty());
    let callback_url = request.callback_url.as_ref().and_then(Value::as_str);
    // The OAuth client secret and tokens would go to the callback's identity service: refuse a
    // v3 request whose callback is not Heroku's before creating anything.
    let identity_url = match (uuid, callback_url) {
        (Some(_), Some(callback_url)) => Some(
            heroku::identity_url(
                state.settings.identity_url.as_deref(),
                callback_url,
                state.settings.on_heroku,
            )
            .map_err(ApiError::unprocessable)?,
        ),
        _ => None,
    };
    let new = NewResource {
        uuid,
        plan: plan.name,
        region: request.region.as_deref(),
        base_url: &base_url(&state.settings, &headers),
        state: if plan.is_async() {
            ResourceState::Provisioning
        } else {
            ResourceState::Provisioned
        },
    };
    let (resource, created) = if plan.is_async() {
        let (callback_url, identity_url) = match (uuid, callback_url, identity_url.as_deref()) {
            (Some(_), Some(callback_url), Some(identity_url)) => (callback_url, identity_url),
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "the {} plan is provisioned asynchronously (v3): the request needs a uuid, a \
                     callback_url and an oauth_grant",
                    plan.name
                )));
            }
        };
        let grant = Grant::from_request(&request)?;
        if state.settings.client_secret.is_none() {
            eprintln!(
                "refused plan {}: HEROKU_CLIENT_SECRET is not set",
                plan.name
            );
            return Err(ApiError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{ADDON_NAME} cannot provision asynchronously yet; please try again later."
                ),
            ));
        }
        provision_async(&state, &new, callback_url, identity_url, &grant).await?
    } else {
        resources::provision(&state.db, &state.settings.cipher, &new).await?
    };
    answer(&state, &resource, created)
}

/// `oauth_grant` of a v3 request.
struct Grant {
    code: String,
    expires_at: Option<String>,
}

impl Grant {
    fn from_request(request: &ProvisionRequest) -> Result<Grant, ApiError> {
        let grant = request.oauth_grant.as_ref();
        let field = |name| grant.and_then(|g| g.get(name)).and_then(Value::as_str);
        match field("code").filter(|code| !code.is_empty()) {
            Some(code) => Ok(Grant {
                code: code.to_owned(),
                expires_at: field("expires_at").map(str::to_owned),
            }),
            None => Err(ApiError::unprocessable(
                "an asynchronous provision needs oauth_grant.code",
            )),
        }
    }
}

/// The resource and its job, in one transaction: a crash cannot leave a resource that nobody
/// will ever finish provisioning. Only the copy of the request that created the resource
/// creates the job.
async fn provision_async(
    state: &AppState,
    new: &NewResource<'_>,
    callback_url: &str,
    identity_url: &str,
    grant: &Grant,
) -> Result<(Resource, bool), ApiError> {
    let cipher = &state.settings.cipher;
    let mut tx = state.db.begin().await?;
    let (resource, created) = resources::provision(&mut *tx, cipher, new).await?;
    if created {
        let job = NewProvision {
            resource_id: &resource.id,
            callback_url,
            identity_url,
            grant_code: &grant.code,
            grant_expires_at: grant.expires_at.as_deref(),
            run_after: now_ms().saturating_add(ms(state.settings.async_delay)),
        };
        jobs::insert_provision(&mut *tx, cipher, &job).await?;
    }
    tx.commit().await?;
    if created {
        println!(
            "accepted {} on plan {}; provisioning in the background",
            resource.id, resource.plan
        );
        state.wakeup.notify_one();
    }
    Ok((resource, created))
}

/// The answer for a provisioned (or found again) resource: the same for every copy of a request.
fn answer(state: &AppState, resource: &Resource, created: bool) -> Result<Response, ApiError> {
    match resource.state {
        ResourceState::Deprovisioned => Err(ApiError::gone(format!(
            "{} was deprovisioned; a new add-on gets a new uuid",
            resource.uuid.as_deref().unwrap_or(&resource.id)
        ))),
        // Asynchronous (v3): {id, message} now, the config later through the Platform API.
        ResourceState::Provisioning | ResourceState::Failed => {
            let body = json!({
                "id": resource.id,
                "message": format!("{ADDON_NAME} is being provisioned on plan {}.", resource.plan),
            });
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
        ResourceState::Provisioned => {
            let url = resource
                .config_url(&state.settings.cipher)
                .map_err(ApiError::Internal)?
                .ok_or_else(|| ApiError::Internal(format!("{} has no credentials", resource.id)))?;
            let status = if created {
                println!("provisioned {} on plan {}", resource.id, resource.plan);
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = json!({
                "id": resource.id,
                "config": { CONFIG_VAR: url },
                "message": format!("{ADDON_NAME} is ready on plan {}.", resource.plan),
            });
            Ok((status, Json(body)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct PlanChange {
    plan: String,
}

pub async fn change_plan(
    _: HerokuAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<PlanChange>,
) -> Result<Json<Value>, ApiError> {
    let plan = find_plan(&request.plan)?;
    let resource = existing(&state, &id).await?;
    if resource.plan == plan.name {
        return Ok(Json(
            json!({ "message": format!("Already on plan {}.", plan.name) }),
        ));
    }
    let resource = resources::change_plan(&state.db, &id, plan.name)
        .await?
        .ok_or_else(|| ApiError::gone(format!("{id} was deprovisioned")))?;
    println!("changed {} to plan {}", resource.id, resource.plan);
    Ok(Json(json!({
        "message": format!(
            "Now on plan {}: {} API calls in all.",
            plan.name, plan.api_calls
        ),
    })))
}

/// Revokes the credentials at once. A resource provisioned asynchronously is deprovisioned
/// asynchronously too: 202, then the worker calls `POST <callback_url>/actions/deprovision`.
/// One whose grant was never exchanged cannot call Heroku: 204 like the rest.
pub async fn deprovision(
    _: HerokuAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(resource) = resources::deprovision(&mut *tx, &id).await? else {
        tx.rollback().await?;
        existing(&state, &id).await?;
        return Err(ApiError::gone(format!("{id} was deprovisioned")));
    };
    let tell_heroku = jobs::insert_deprovision(&mut *tx, &resource.id).await?;
    tx.commit().await?;
    if tell_heroku {
        println!(
            "deprovisioned {}; telling Heroku in the background",
            resource.id
        );
        state.wakeup.notify_one();
        let body = json!({ "message": format!("{ADDON_NAME} is being deprovisioned.") });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    println!("deprovisioned {}", resource.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn find_plan(name: &str) -> Result<&'static Plan, ApiError> {
    plans::find(name).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "{ADDON_NAME} has no plan {name:?} (plans: {})",
            plans::names()
        ))
    })
}

/// The resource, unless it never existed (404) or was deprovisioned (410).
async fn existing(state: &AppState, id: &str) -> Result<Resource, ApiError> {
    match resources::find(&state.db, id).await? {
        None => Err(ApiError::not_found(format!("no resource {id}"))),
        Some(resource) if resource.state == ResourceState::Deprovisioned => {
            Err(ApiError::gone(format!("{id} was deprovisioned")))
        }
        Some(resource) => Ok(resource),
    }
}

/// This service's public base URL: `PUBLIC_URL`, else what the request was sent to (Heroku's
/// router says `X-Forwarded-Proto: https`), else `http://localhost:$PORT`.
pub fn base_url(settings: &Settings, headers: &HeaderMap) -> String {
    if let Some(url) = &settings.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| is_host(host));
    match host {
        Some(host) if is_https(headers) => format!("https://{host}"),
        Some(host) => format!("http://{host}"),
        None => settings.local_url.clone(),
    }
}

/// `X-Forwarded-Proto: https` (its first value, if a proxy chain added more).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// A host name or address with an optional port, and nothing that could change the URL.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts_that_could_change_the_url_are_refused() {
        for good in [
            "localhost:5000",
            "my-addon.herokuapp.com",
            "[::1]:80",
            "127.0.0.1",
        ] {
            assert!(is_host(good), "{good}");
        }
        for bad in ["", "evil.example/path", "a@b", "host?x", "a b", "x#y"] {
            assert!(!is_host(bad), "{bad}");
        }
    }

    #[test]
    fn forwarded_https() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        assert!(is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!is_https(&headers));
    }
}
