//! Single sign-on: a good request must log in (following redirects with a cookie jar) and
//! set the `heroku-nav-data` cookie; a wrong token or a stale or future timestamp gets 403.

use std::collections::BTreeMap;
use std::time::Duration;

use super::report::Recorder;
use super::{check_of, record_status, Resource, Target};
use crate::http::{Auth, Exchange, HttpError, Payload};
use crate::sso::{self, now, Route, SsoRequest, Visitor};
use crate::verdict::Verdict;

/// How far off the bad timestamps are: beyond any provider's window (2–5 min).
pub const SKEW: i64 = 6 * 60;
const MAX_REDIRECTS: usize = 5;

/// Sends the parameters the route's way, without following redirects.
fn send(
    target: &Target,
    route: &Route,
    params: Vec<(String, String)>,
) -> Result<Exchange, HttpError> {
    match route {
        Route::Post(u) => target
            .client
            .send("POST", u, Auth::None, &Payload::Form(params), &[]),
        Route::Get(u) => {
            let url = sso::get_url(u, params).map_err(|e| HttpError::Other {
                url: u.clone(),
                message: e.to_string(),
            })?;
            target
                .client
                .send("GET", url.as_str(), Auth::None, &Payload::Empty, &[])
        }
    }
}

pub fn run(rec: &mut Recorder, target: &Target, resource: &Resource) -> bool {
    let Some(salt) = target.manifest.sso_salt() else {
        rec.section("SSO");
        rec.note(
            "sso_salt is set",
            Verdict::Fail("the manifest has no api.sso_salt, so no SSO token can be made: add one (kensa init writes a random salt)".into()),
        );
        return false;
    };
    let route = match Route::for_endpoint(&target.endpoint, &resource.id) {
        Ok(r) => r,
        Err(why) => {
            rec.section("SSO");
            rec.note("sso_url is set", Verdict::Fail(why));
            return false;
        }
    };
    rec.section(route.title());
    let (verb, url) = route.verb_url();
    let visitor = Visitor::default();
    let request = SsoRequest {
        id: &resource.id,
        uuid: resource.uuid.as_deref(),
        salt,
        addon_id: target.addon_id(),
        addon_name: target.manifest.name().unwrap_or_else(|| target.addon_id()),
        visitor: &visitor,
    };

    let refused = |name: &str, why: &str, params: Vec<(String, String)>, rec: &mut Recorder| {
        let result = send(target, &route, params);
        record_status(rec, name, verb, url, &result, |x| match x.status {
            403 => Ok(()),
            s if s < 400 => Err(format!(
                "expected 403, got {s}: the provider lets in a request with {why}"
            )),
            _ => Err(format!("expected 403, got {}", x.describe())),
        });
    };
    // Well-formed tokens made with another salt: wrong, but not trivially malformed.
    let wrong_salt = format!("{salt}-wrong");
    let wrong = SsoRequest {
        salt: &wrong_salt,
        ..request.clone()
    }
    .params(now());
    refused("wrong token gets 403", "a wrong token", wrong, rec);
    refused(
        "timestamp 6 minutes old gets 403",
        "a timestamp 6 minutes old",
        request.params(now() - SKEW),
        rec,
    );
    refused(
        "timestamp 6 minutes ahead gets 403",
        "a timestamp 6 minutes in the future",
        request.params(now() + SKEW),
        rec,
    );

    let params = request.params(now());
    let nav = params
        .iter()
        .find(|(k, _)| k == "nav-data")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let login = follow(target, send(target, &route, params));
    let elapsed = login.as_ref().map(|l| l.elapsed).unwrap_or_default();
    let verdict = match &login {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(l) if l.last.status == 200 => Verdict::Pass,
        Ok(l) => Verdict::Fail(format!(
            "expected a 200 page after {} redirect(s), got {} at {}",
            l.hops,
            l.last.describe(),
            l.last.url
        )),
    };
    let logged_in = !verdict.is_fail();
    rec.record(check_of("good token logs in", verb, url, elapsed, verdict));
    let Ok(login) = login else { return false };

    let cookie = login.jar.get("heroku-nav-data").map(|v| percent_decode(v));
    rec.note(
        "heroku-nav-data cookie is set",
        match cookie {
            Some(c) if c == nav => Verdict::Pass,
            Some(c) => Verdict::Fail(format!(
                "the heroku-nav-data cookie is {c:?}, but nav-data sent was {nav:?}"
            )),
            // A refused login is already a failure; a missing cookie follows from it.
            None if !logged_in => Verdict::Skip("no cookie, as the login failed".into()),
            None => Verdict::Fail(
                "no heroku-nav-data cookie was set; set it to the nav-data parameter".into(),
            ),
        },
    );
    if logged_in {
        let page = String::from_utf8_lossy(&login.last.body);
        let has_layout = page.contains("id=\"heroku-header\"")
            || page.contains("id='heroku-header'")
            || page.contains("id=heroku-header")
            || page.contains("boomerang");
        rec.note(
            "Heroku layout",
            if has_layout {
                Verdict::Pass
            } else {
                Verdict::Warn("the page has no element with id=\"heroku-header\" and no boomerang script (Heroku's add-on header)".into())
            },
        );
    }
    !rec.section_failed()
}

/// The end of a redirect chain, with every cookie set on the way.
pub struct Login {
    pub last: Exchange,
    pub hops: usize,
    pub jar: BTreeMap<String, String>,
    pub elapsed: Duration,
}

/// Follows redirects (GET, with the cookies set so far), as a browser would.
pub fn follow(target: &Target, first: Result<Exchange, HttpError>) -> Result<Login, HttpError> {
    let mut current = first?;
    let mut jar = BTreeMap::new();
    let mut elapsed = current.elapsed;
    let mut hops = 0;
    loop {
        jar.extend(current.set_cookies());
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
        let cookies = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let headers: Vec<(&str, &str)> = if cookies.is_empty() {
            vec![]
        } else {
            vec![("Cookie", cookies.as_str())]
        };
        current =
            target
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
