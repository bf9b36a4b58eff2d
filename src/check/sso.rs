//! Single sign-on: a good request must log in (following redirects with a cookie jar) and
//! should set the `heroku-nav-data` cookie; a wrong token or a stale timestamp gets 403
//! (a future one should). On a v3 manifest kensa sends the v3 parameters and tokens, as
//! Heroku does. A failure says what the provider answered (an HTML page as its text) and
//! the formula and inputs of every token kensa sent.

use std::sync::LazyLock;
use std::time::Duration;

use super::cookies::CookieJar;
use super::report::{Recorder, Stage};
use super::{check_of, Provider, Resource};
use crate::http::{Auth, Exchange, HttpError, Payload};
use crate::registry::{sso as checks, CheckDef};
use crate::sso::{self, now, Route, SsoRequest, Visitor};
use crate::verdict::Verdict;

/// How far off the bad timestamps are: beyond any provider's window (2–5 min).
pub const SKEW: i64 = 6 * 60;
const MAX_REDIRECTS: usize = 5;

/// Sends the parameters the route's way, without following redirects.
fn send(
    provider: &Provider,
    route: &Route,
    params: Vec<(String, String)>,
) -> Result<Exchange, HttpError> {
    match route {
        Route::Post(u) => provider
            .client
            .send("POST", u, Auth::None, &Payload::Form(params), &[]),
        Route::Get(u) => {
            let url = sso::get_url(u, params).map_err(|e| HttpError::Other {
                url: u.clone(),
                message: e.to_string(),
            })?;
            provider
                .client
                .send("GET", url.as_str(), Auth::None, &Payload::Empty, &[])
        }
    }
}

/// What an answer means when the provider does not know the resource (404).
fn unknown_resource(request: &SsoRequest) -> String {
    match (request.v3, request.uuid) {
        (true, Some(uuid)) => format!(
            "unknown resource id {}: the provider does not know resource_id {uuid} (look resources up by the uuid Heroku sent at provisioning)",
            request.id
        ),
        _ => format!(
            "unknown resource id {}: the provider does not know this resource",
            request.id
        ),
    }
}

/// Signs in to `resource` as Heroku would: bad requests first, then a good one.
pub fn run(rec: &mut Recorder, provider: &Provider, resource: &Resource) {
    let Some(salt) = provider.manifest.sso_salt() else {
        rec.section(Stage::Sso, "SSO");
        rec.note(
            &checks::SALT_SET,
            Verdict::Fail("the manifest has no api.sso_salt, so no SSO token can be made: add one (kensa init writes a random salt)".into()),
        );
        return;
    };
    let route = match Route::for_endpoint(&provider.endpoint, &resource.id) {
        Ok(r) => r,
        Err(why) => {
            rec.section(Stage::Sso, "SSO");
            rec.note(&checks::URL_SET, Verdict::Fail(why));
            return;
        }
    };
    rec.section(Stage::Sso, route.title());
    let visitor = Visitor::default();
    let request = SsoRequest {
        id: &resource.id,
        uuid: resource.uuid.as_deref(),
        v3: provider.manifest.is_v3(),
        salt,
        addon_id: provider.addon_id(),
        addon_name: provider
            .manifest
            .name()
            .unwrap_or_else(|| provider.addon_id()),
        visitor: &visitor,
    };
    bad_requests(rec, provider, &route, &request);
    // The checks of the page are reported in every run, skipped when there is no page, so
    // that a run lists the same checks (JUnit history) and a failed login counts once.
    let Some((login, nav)) = good_request(rec, provider, &route, &request) else {
        let why = || Verdict::Skip("no answer to the sign-on".into());
        rec.note(&checks::NAV_DATA_COOKIE, why());
        rec.note(&checks::HEROKU_HEADER, why());
        return;
    };
    let logged_in = login.last.is_success();
    rec.note(
        &checks::NAV_DATA_COOKIE,
        nav_cookie(&login, &nav, logged_in),
    );
    rec.note(
        &checks::HEROKU_HEADER,
        if logged_in {
            layout(&login.last)
        } else {
            Verdict::Skip("no page, as the login failed".into())
        },
    );
}

/// A wrong token, and timestamps out of any window: each must get 403.
fn bad_requests(rec: &mut Recorder, provider: &Provider, route: &Route, request: &SsoRequest) {
    let (verb, url) = route.verb_url();
    let mut refused = |check: &'static CheckDef, why: &str, params: Vec<(String, String)>| {
        let result = send(provider, route, params);
        let verdict = match &result {
            Err(e) => Verdict::Fail(e.to_string()),
            Ok(x) => match x.status {
                403 => Verdict::Pass,
                404 => Verdict::Fail(format!(
                    "expected 403, got 404: {}",
                    unknown_resource(request)
                )),
                s if s < 400 => Verdict::Fail(format!(
                    "expected 403, got {s}: the provider lets in a request with {why}"
                )),
                _ => Verdict::Fail(format!("expected 403, got {}", x.describe())),
            },
        };
        let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
        rec.record(check_of(check, verb, url, elapsed, verdict));
    };
    // Well-formed tokens made with another salt: wrong, but not trivially malformed.
    let wrong_salt = format!("{}-wrong", request.salt);
    let wrong = SsoRequest {
        salt: &wrong_salt,
        ..request.clone()
    }
    .params(now());
    refused(&checks::WRONG_TOKEN, "a wrong token", wrong);
    refused(
        &checks::STALE_TIMESTAMP,
        "a timestamp 6 minutes old",
        request.params(now() - SKEW),
    );
    refused(
        &checks::FUTURE_TIMESTAMP,
        "a timestamp 6 minutes in the future",
        request.params(now() + SKEW),
    );
}

/// A good request must end, after redirects, on a 2xx page. Returns where it ended (unless
/// no answer came at all) and the `nav-data` it sent.
fn good_request(
    rec: &mut Recorder,
    provider: &Provider,
    route: &Route,
    request: &SsoRequest,
) -> Option<(Login, String)> {
    let (verb, url) = route.verb_url();
    let timestamp = now();
    let params = request.params(timestamp);
    let nav = params
        .iter()
        .find(|(k, _)| k == "nav-data")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let login = follow(provider, send(provider, route, params));
    let elapsed = login.as_ref().map(|l| l.elapsed).unwrap_or_default();
    let verdict = match &login {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(l) if l.last.is_success() => Verdict::Pass,
        Ok(l) => {
            let got = if l.last.status == 404 && l.hops == 0 {
                format!("404: {}", unknown_resource(request))
            } else {
                l.last.describe()
            };
            let after = match l.hops {
                0 => String::new(),
                1 => " after 1 redirect".to_owned(),
                n => format!(" after {n} redirects"),
            };
            let mut message = format!("expected a 2xx page{after}, got {got} at {}", l.last.url);
            let sent = request.formulas(timestamp);
            if !sent.is_empty() {
                message.push_str("\nkensa sent ");
                message.push_str(&sent.join("\nand "));
            }
            Verdict::Fail(message)
        }
    };
    rec.record(check_of(&checks::LOGIN, verb, url, elapsed, verdict));
    Some((login.ok()?, nav))
}

/// The `heroku-nav-data` cookie should carry the `nav-data` sent.
fn nav_cookie(login: &Login, nav: &str, logged_in: bool) -> Verdict {
    match login.jar.get("heroku-nav-data").map(percent_decode) {
        Some(c) if c == nav => Verdict::Pass,
        Some(c) => Verdict::Fail(format!(
            "the heroku-nav-data cookie is {c:?}, but nav-data sent was {nav:?}"
        )),
        // A refused login is already a failure; a missing cookie follows from it.
        None if !logged_in => Verdict::Skip("no cookie, as the login failed".into()),
        None => Verdict::Fail(
            "no heroku-nav-data cookie was set; set it to the nav-data parameter (Heroku's legacy header reads it)".into(),
        ),
    }
}

/// Any element with `id="heroku-header"`, however the attribute is quoted or spaced.
static HEADER_ID: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"(?i)<[a-z][^>]*\sid\s*=\s*(?:"heroku-header"|'heroku-header'|heroku-header[\s/>])"#,
    )
    .expect("a valid pattern")
});

/// The page a provider shows after sign-on carries Heroku's add-on header.
fn layout(page: &Exchange) -> Verdict {
    let page = String::from_utf8_lossy(&page.body);
    Verdict::check(
        HEADER_ID.is_match(&page) || page.contains("boomerang"),
        || {
            "the page has no element with id=\"heroku-header\" and no boomerang script (Heroku's legacy add-on header)".into()
        },
    )
}

/// The end of a redirect chain, with every cookie set on the way.
pub struct Login {
    pub last: Exchange,
    pub hops: usize,
    pub jar: CookieJar,
    pub elapsed: Duration,
}

/// Follows redirects (GET), as a browser would: each request carries the cookies the jar
/// holds for its URL (RFC 6265), never those of another host.
pub fn follow(provider: &Provider, first: Result<Exchange, HttpError>) -> Result<Login, HttpError> {
    let mut current = first?;
    let mut jar = CookieJar::default();
    let mut elapsed = current.elapsed;
    let mut hops = 0;
    loop {
        if let Ok(from) = url::Url::parse(&current.url) {
            for (name, value) in &current.headers {
                if name.eq_ignore_ascii_case("set-cookie") {
                    jar.store(&from, value);
                }
            }
        }
        let location = current.header("location").map(str::to_owned);
        let redirect = matches!(current.status, 301 | 302 | 303 | 307 | 308);
        let (true, Some(location)) = (redirect, location) else {
            break;
        };
        if hops == MAX_REDIRECTS {
            return Err(HttpError::Other {
                url: current.url,
                message: format!("more than {MAX_REDIRECTS} redirects"),
            });
        }
        let next = url::Url::parse(&current.url)
            .and_then(|base| base.join(&location))
            .map_err(|e| HttpError::Other {
                url: current.url.clone(),
                message: format!("bad Location {location:?}: {e}"),
            })?;
        let cookies = jar.header_for(&next);
        let headers: Vec<(&str, &str)> = match &cookies {
            None => vec![],
            Some(cookies) => vec![("Cookie", cookies.as_str())],
        };
        current =
            provider
                .client
                .send("GET", next.as_str(), Auth::None, &Payload::Empty, &headers)?;
        elapsed += current.elapsed;
        hops += 1;
    }
    Ok(Login {
        last: current,
        hops,
        jar,
        elapsed,
    })
}

fn percent_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(html: &str) -> Exchange {
        Exchange {
            method: "GET",
            url: "http://x/".into(),
            status: 200,
            headers: vec![],
            body: html.as_bytes().to_vec(),
            elapsed: Duration::ZERO,
        }
    }

    /// Regression: only `<div id="heroku-header">` spelt exactly so was recognised.
    #[test]
    fn regression_any_element_with_the_header_id_is_the_header() {
        for html in [
            r#"<div id="heroku-header"></div>"#,
            r#"<nav class="x" id='heroku-header'>"#,
            r#"<header ID = "heroku-header" >"#,
            "<section id=heroku-header>",
            "<script src=\"https://s3.amazonaws.com/assets.heroku.com/boomerang/boomerang.js\"></script>",
        ] {
            assert_eq!(layout(&page(html)), Verdict::Pass, "{html}");
        }
        for html in [
            r#"<div id="heroku-header-x">"#,
            r#"<div data-id="heroku-header">"#,
            "<p>heroku-header</p>",
        ] {
            assert!(layout(&page(html)).is_fail(), "{html}");
        }
    }
}
