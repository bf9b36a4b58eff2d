/// Access tokens expire (expires_in seconds; about eight hours at Heroku). Check the stored
/// expiry before every call, and trade the refresh token for a new access token when it
/// has passed (or is a minute from passing).
pub async fn access_token_for(
    app: &AppState,
    resource: &mut Resource,
) -> Result<String, HerokuError> {
    if SystemTime::now() + Duration::from_secs(60) < resource.token_expires_at {
        return Ok(resource.access_token.clone());
    }
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", &resource.refresh_token)
        .append_pair("client_secret", &app.client_secret)
        .finish();
    let token: TokenAnswer = app
        .heroku
        .post_form(&format!("{}/oauth/token", app.identity_url), form)
        .await?;
    resource.access_token = token.access_token;
    if let Some(refresh_token) = token.refresh_token {
        resource.refresh_token = refresh_token;
    }
    resource.token_expires_at = SystemTime::now() + Duration::from_secs(token.expires_in);
    app.store.save_token(resource).await?;
    Ok(resource.access_token.clone())
}
