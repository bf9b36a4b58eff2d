/// The config an answer carries (provision, plan change): exactly the names the manifest
/// declares in api.config_vars, every value a string (config vars become environment
/// variables), URLs an app on a dyno can reach, never localhost.
fn config_for(resource: &Resource) -> serde_json::Value {
    json!({
        "ACME_DB_URL": format!(
            "postgres://{}:{}@db.acme.example.com:5432/{}",
            resource.user, resource.password, resource.name
        ),
    })
}
