//! The API behind the config var: what an app that attached the add-on uses. The config var
//! carries the credentials (`https://<id>:<token>@host/api/resource`), so any HTTP client sends
//! them as Basic auth. examples/consumer.rs is such a client.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::basic_credentials;
use crate::error::ApiError;
use crate::plans;
use crate::resources::{self, State as ResourceState};

/// `GET /api/resource`: the resource's status, plan, limits and usage; each call counts.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (id, token) = basic_credentials(&headers).ok_or(ApiError::Unauthorized)?;
    let resource = resources::authenticate(&state.db, &id, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if resource.state != ResourceState::Provisioned {
        return Err(ApiError::Status(
            StatusCode::CONFLICT,
            format!("the resource is {}", resource.state),
        ));
    }
    let plan = plans::find(&resource.plan).ok_or_else(|| {
        ApiError::Internal(format!("{} is on unknown plan {}", id, resource.plan))
    })?;
    let calls = resources::count_call(&state.db, &id, plan.api_calls)
        .await?
        .ok_or_else(|| {
            ApiError::Status(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "plan {} allows {} API calls, all used; change the plan for more",
                    plan.name, plan.api_calls
                ),
            )
        })?;
    Ok(Json(json!({
        "id": resource.id,
        "plan": plan.name,
        "status": resource.state.as_str(),
        "limits": plan.limits(),
        "usage": { "api_calls": calls },
    })))
}
