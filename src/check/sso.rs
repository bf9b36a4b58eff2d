//! Single sign-on: a good request must log in (following redirects with a cookie jar) and
//! set the `heroku-nav-data` cookie; a wrong token or a stale or future timestamp gets 403.

use std::collections::BTreeMap;
use std::time::Duration;

use super::client::{Auth, Exchange, HttpError, Payload};
use super::report::Recorder;
use super::{check_of, record_status, Resource, Target};
use crate::manifest::Endpoint;
use crate::sso::{now, SsoRequest, Visitor};
use crate::verdict::Verdict;

/// How far off the bad timestamps are: beyond any provider's window (2–5 min).
pub const SKEW: i64 = 6 * 60;
const MAX_REDIRECTS: usize = 5;

/// Where and how a sign-on request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Post(String),
    Get(String),
}

impl Method {
    /// The manifest's shape decides: object URLs POST to `sso_url`, a root string GETs.
    pub fn for_endpoint(endpoint: &Endpoint, id: &str) -> Result<Method, String> {
        match endpoint {
            Endpoint::Root(_) => Ok(Method::Get(endpoint.resource_url(id))),
            Endpoint::Urls { sso_url: Some(u), .. } => Ok(Method::Post(u.clone())),
            Endpoint::Urls { sso_url: None, .. } => Err(
                "the manifest's URLs have no sso_url: add one (…/sso/login) or use a root URL string for GET SSO".into(),
            ),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Method::Post(u) => format!("SSO POST {u}"),
            Method::Get(u) => format!("SSO GET {u}"),
        }
    }

    /// Sends the parameters, without following redirects.
    pub fn send(
        &self,
        target: &Target,
        params: Vec<(String, String)>,
    ) -> Result<Exchange, HttpError> {
        match self {
            Method::Post(u) => {
                target
                    .client
                    .send("POST", u, Auth::None, &Payload::Form(params), &[])
            }
            Method::Get(u) => {
                let mut url = url::Url::parse(u).map_err(|e| HttpError::Other {
                    url: u.clone(),
                    message: e.to_string(),
                })?;
                url.query_pairs_mut().extend_pairs(params);
                target
                    .client
                    .send("GET", url.as_str(), Auth::None, &Payload::Empty, &[])
            }
        }
    }

    fn verb_url(&self) -> (&'static str, &str) {
        match self {
            Method::Post(u) => ("POST", u),
            Method::Get(u) => ("GET", u),
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
    let method = match Method::for_endpoint(&target.endpoint, &resource.id) {
        Ok(m) => m,
        Err(why) => {
            rec.section("SSO");
            rec.note("sso_url is set", Verdict::Fail(why));
            return false;
        }
    };
    rec.section(method.title());
    let (verb, url) = method.verb_url();
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
        let result = method.send(target, params);
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
    let login = follow(target, method.send(target, params));
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
