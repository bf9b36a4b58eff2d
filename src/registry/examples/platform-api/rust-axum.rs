const PLATFORM_ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// Every Platform API call: the add-on's own access token (never the client secret), the
/// version 3 Accept header, and only URLs under the callback_url Heroku sent, such as
/// `{callback_url}/config` or `{callback_url}/actions/provision`.
pub async fn platform_api(
    client: &HttpClient,
    method: Method,
    url: &str,
    access_token: &str,
    body: Option<&Value>,
) -> Result<Value, HerokuError> {
    let request = Request::builder()
        .method(method.clone())
        .uri(url)
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .header(header::ACCEPT, PLATFORM_ACCEPT)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            body.map(Value::to_string).unwrap_or_default(),
        )))?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request)).await??;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        return Err(HerokuError::Status {
            method,
            url: url.to_owned(),
            status,
        });
    }
    Ok(serde_json::from_slice(&bytes)?)
}
