/// After a good sign-on: start a session that remembers it came from Heroku (a signed
/// cookie), copy nav-data into the heroku-nav-data cookie (Heroku's legacy header script
/// reads it), and redirect to the dashboard.
fn start_session(app: &AppState, params: &SsoParams, resource: &Resource) -> Response {
    let session = app.sessions.sign(&resource.id);
    let mut response = Redirect::to("/").into_response();
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    let cookie = format!("session={session}; Path=/; HttpOnly; SameSite=Lax");
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a plain cookie"),
    );
    if let Some(nav) = params.nav_data.as_deref().filter(|n| {
        n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
    }) {
        let cookie = format!("heroku-nav-data={nav}; Path=/");
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("base64url is a valid cookie"),
        );
    }
    response
}
