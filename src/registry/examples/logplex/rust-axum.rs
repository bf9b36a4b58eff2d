/// With `"requires": ["log_input"]`, write to the app's log stream at log_input_url: an
/// HTTP POST of octet-counted RFC 5424 frames (`<bytes> <190>1 <time> <host> <app> - - -
/// <msg>`), Content-Type application/logplex-1, and a User-Agent that names the add-on.
/// The URL's user-info carries the credentials (`Url::username`, `Url::password`).
fn logplex_body(resource_uuid: &str, lines: &[&str], now_rfc3339: &str) -> String {
    lines
        .iter()
        .map(|msg| {
            let frame = format!("<190>1 {now_rfc3339} {resource_uuid} acme-db - - - {msg}");
            format!("{} {frame}", frame.len())
        })
        .collect()
}

fn logplex_request(
    url: &Url,
    body: String,
    message_count: usize,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let credentials = format!("{}:{}", url.username(), url.password().unwrap_or_default());
    let mut target = url.clone();
    let _ = target.set_username("");
    let _ = target.set_password(None);
    Request::post(target.as_str())
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(credentials)),
        )
        .header(header::CONTENT_TYPE, "application/logplex-1")
        .header("Logplex-Msg-Count", message_count)
        .header(
            header::USER_AGENT,
            "acme-db (https://elements.heroku.com/addons/acme-db)",
        )
        .body(Full::new(Bytes::from(body)))
}
