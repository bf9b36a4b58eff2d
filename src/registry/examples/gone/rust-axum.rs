/// A provision for a uuid already deprovisioned (a late redelivery) gets 410 Gone: the
/// tombstone row keeps the uuid, so the resource never comes back unbilled.
async fn refuse_deprovisioned(app: &AppState, uuid: &str) -> Result<(), ApiError> {
    match app.store.find_by_uuid(uuid).await? {
        Some(existing) if existing.deprovisioned_at.is_some() => Err(ApiError::Gone(format!(
            "Resource {} was deprovisioned.",
            existing.id
        ))),
        _ => Ok(()),
    }
}
