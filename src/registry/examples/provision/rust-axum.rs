/// POST /heroku/resources: make the resource, then answer with its id, its config and a
/// message Heroku shows the user. 201 for a new resource, 200 for a redelivery.
async fn provision(
    State(app): State<AppState>,
    Json(request): Json<ProvisionRequest>,
) -> Result<Response, ApiError> {
    let (resource, created) = app.store.provision(&request.uuid, &request.plan).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = json!({
        "id": resource.id,
        "config": { "ACME_DB_URL": resource.url },
        "message": "Your database is ready.",
    });
    Ok((status, Json(answer)).into_response())
}
