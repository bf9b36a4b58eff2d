/// The dashboard page a sign-on lands on carries Heroku's add-on header: any element with
/// id="heroku-header", naming the app and the add-on from nav-data.
fn dashboard_page(resource: &Resource, nav: &NavData) -> Html<String> {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    Html(format!(
        "<!doctype html>\n<html><body>\n  <div id=\"heroku-header\">{} · {}</div>\n  <h1>Database {}</h1>\n</body></html>",
        escape(&nav.appname),
        escape(&nav.addon),
        escape(&resource.id),
    ))
}
