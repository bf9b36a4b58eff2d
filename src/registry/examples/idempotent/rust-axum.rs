/// Provisioning is idempotent on Heroku's uuid. A unique index makes concurrent
/// redeliveries agree on one row (`CREATE UNIQUE INDEX resources_uuid ON resources (uuid)`).
/// A redelivery gets the same resource, and its setup (grant exchange, config) runs once.
pub async fn provision_once(db: &PgPool, uuid: &str, plan: &str) -> sqlx::Result<(Resource, bool)> {
    let id = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO resources (id, uuid, plan) VALUES ($1, $2, $3) ON CONFLICT (uuid) DO NOTHING",
    )
    .bind(&id)
    .bind(uuid)
    .bind(plan)
    .execute(db)
    .await?;
    let resource: Resource = sqlx::query_as("SELECT id, uuid, plan FROM resources WHERE uuid = $1")
        .bind(uuid)
        .fetch_one(db)
        .await?;
    let created = resource.id == id;
    Ok((resource, created))
}
