/// v3: answer 202 without config at once, then finish in the background: exchange the
/// grant at the identity service, set the config through the Platform API, mark it done.
async fn provision(
    State(app): State<AppState>,
    Json(request): Json<ProvisionRequest>,
) -> Result<Response, ApiError> {
    let (resource, created) = app.store.provision(&request.uuid, &request.plan).await?;
    if created {
        let (Some(callback_url), Some(grant)) = (request.callback_url, request.oauth_grant) else {
            return Err(ApiError::Unprocessable(
                "asynchronous provisioning needs the v3 callback_url and oauth_grant".into(),
            ));
        };
        let resource = resource.clone();
        tokio::spawn(async move {
            if let Err(e) = finish(&app, &resource, &callback_url, &grant.code).await {
                eprintln!("provisioning {} failed: {e}", resource.id);
            }
        });
    }
    let answer = json!({ "id": resource.id, "message": "Your database is being created." });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

async fn finish(
    app: &AppState,
    resource: &Resource,
    callback_url: &str,
    code: &str,
) -> Result<(), HerokuError> {
    // Heroku's identity service; kensa's loopback fake serves it on callback_url's origin.
    let token = app.heroku.exchange_grant(callback_url, code).await?;
    app.store.save_token(&resource.id, &token).await?;
    let config = json!({ "config": [{ "name": "ACME_DB_URL", "value": resource.url }] });
    let access_token = &token.access_token;
    let config_url = format!("{callback_url}/config");
    platform_api(
        &app.client,
        Method::PATCH,
        &config_url,
        access_token,
        Some(&config),
    )
    .await?;
    let done_url = format!("{callback_url}/actions/provision");
    platform_api(&app.client, Method::POST, &done_url, access_token, None).await?;
    Ok(())
}
