/// Every resource gets an id of its own, unique across the whole service: never built from
/// heroku_id or the app's name (Heroku's uuid is a fine id too).
pub async fn create_resource(db: &PgPool, uuid: &str, plan: &str) -> sqlx::Result<Resource> {
    let id = Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO resources (id, uuid, plan) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(uuid)
        .bind(plan)
        .execute(db)
        .await?;
    Ok(Resource {
        id,
        uuid: uuid.to_owned(),
        plan: plan.to_owned(),
    })
}
