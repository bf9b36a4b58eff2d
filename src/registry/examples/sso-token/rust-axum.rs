/// Recompute the tokens Heroku sent from your own salt and compare in constant time. v3
/// sends resource_id with resource_token = sha1(uuid:salt:timestamp) and
/// user_scoped_resource_token = sha256(uuid:salt:timestamp:user_id:email); v1 sent id and
/// token = sha1(id:salt:timestamp). Every token sent must be right.
fn tokens_valid(params: &SsoParams, resource: &Resource, salt: &str) -> bool {
    let ts = &params.timestamp;
    let same =
        |given: &str, expected: String| bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    let mut checks = Vec::new();
    if let Some(token) = &params.resource_token {
        checks.push(same(
            token,
            hex::encode(Sha1::digest(format!("{}:{salt}:{ts}", resource.uuid))),
        ));
    }
    if let Some(token) = &params.user_scoped_resource_token {
        let scoped = format!(
            "{}:{salt}:{ts}:{}:{}",
            resource.uuid, params.user_id, params.email
        );
        checks.push(same(token, hex::encode(Sha256::digest(scoped))));
    }
    if let Some(token) = &params.token {
        checks.push(same(
            token,
            hex::encode(Sha1::digest(format!("{}:{salt}:{ts}", resource.id))),
        ));
    }
    !checks.is_empty() && checks.iter().all(|ok| *ok)
}
