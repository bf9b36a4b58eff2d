/// DELETE /heroku/resources/:id: remove it and answer 204. A repeat (Heroku delivers at
/// least once) finds nothing and answers 404 or 410, never an error. A slow removal
/// answers 202 and reports back with POST <callback_url>/actions/deprovision when done.
async fn deprovision(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(resource) = app
        .store
        .find_by_id(&id)
        .await?
        .filter(|r| r.deprovisioned_at.is_none())
    else {
        let gone = json!({ "message": format!("Resource {id} is gone.") });
        return Ok((StatusCode::GONE, Json(gone)).into_response());
    };
    // Keeps the row (and its uuid) as a tombstone.
    app.store.mark_deprovisioned(&id).await?;
    if resource.callback_url.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    tokio::spawn(async move {
        if let Err(e) = remove_and_report(&app, resource).await {
            eprintln!("deprovisioning {id} failed: {e}");
        }
    });
    let answer = json!({ "message": "Your database is being removed." });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}
