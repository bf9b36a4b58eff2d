//! Shared state and the router.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::sync::Notify;

use crate::db::Db;
use crate::error::{ApiError, BODY_LIMIT};
use crate::heroku::{self, HttpClient};
use crate::settings::Settings;
use crate::{dashboard, provisioning, resource_api, sso};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    /// Calls Heroku back (asynchronous provisioning).
    pub http: HttpClient,
    /// Wakes the worker when a job is created.
    pub wakeup: Arc<Notify>,
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> Self {
        Self {
            settings: Arc::new(settings),
            db,
            http: heroku::http_client(),
            wakeup: Arc::new(Notify::new()),
        }
    }
}

/// The whole service; `main` serves it, tests drive it with `oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        // Heroku's calls (docs: https://devcenter.heroku.com/articles/add-on-partner-api-reference).
        .route("/heroku/resources", post(provisioning::provision))
        .route(
            "/heroku/resources/{id}",
            get(sso::legacy_login)
                .put(provisioning::change_plan)
                .delete(provisioning::deprovision),
        )
        .route("/sso/login", post(sso::login))
        // What the add-on's users see: the dashboard, and the API behind the config var.
        .route("/", get(dashboard::show))
        .route("/api/resource", get(resource_api::show))
        .fallback(|| async { ApiError::not_found("not found") })
        .method_not_allowed_fallback(|| async {
            ApiError::Status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into())
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
