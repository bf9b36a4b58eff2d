/// PUT /heroku/resources/:id: a change to the current plan is a no-op answered 200; a
/// quick change answers 200 with the new config; a slow one answers 202 and sets the
/// config through the Platform API when it is done.
async fn change_plan(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<PlanChangeRequest>,
) -> Result<Response, ApiError> {
    let plan = known_plan(&request.plan)?.to_owned();
    let resource = app
        .store
        .find_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound("No such resource"))?;
    if plan == resource.plan {
        return Ok(Json(json!({ "message": format!("Already on {plan}.") })).into_response());
    }
    if !needs_migration(&resource.plan, &plan) {
        let changed = app.store.update_plan(&id, &plan).await?;
        let answer =
            json!({ "config": config_for(&changed), "message": format!("Now on {plan}.") });
        return Ok(Json(answer).into_response());
    }
    let message = format!("Moving to {plan}; your config will be updated.");
    tokio::spawn(async move {
        if let Err(e) = migrate_and_set_config(&app, resource, &plan).await {
            eprintln!("plan change of {id} failed: {e}");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "message": message }))).into_response())
}
