/// The Platform API limits each account's requests: on 429, wait Retry-After seconds (or
/// back off) and make the same call again.
pub async fn with_retries<F, Fut>(mut call: F, tries: u32) -> Result<HttpResponse, HerokuError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<HttpResponse, HerokuError>>,
{
    let mut attempt = 1;
    loop {
        let response = call().await?;
        if response.status() != StatusCode::TOO_MANY_REQUESTS || attempt == tries {
            return Ok(response);
        }
        let seconds = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1 << attempt);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        attempt += 1;
    }
}
