const PLANS: &[&str] = &["test", "basic", "premium"];

/// A plan this add-on does not have gets 422 with a message Heroku shows to the user.
fn known_plan(plan: &str) -> Result<&str, Response> {
    if PLANS.contains(&plan) {
        return Ok(plan);
    }
    let message = format!("Unknown plan {plan:?}; plans: {}.", PLANS.join(", "));
    Err((
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "message": message })),
    )
        .into_response())
}
