//! The cookie jar of the SSO login, kept as a browser keeps one (RFC 6265 §5.2–5.4): a
//! cookie goes back only to the host that set it (host-only) or, with a `Domain` the
//! setting host domain-matches, to that domain; only under its path; a `Secure` one only
//! over https (or to loopback, which browsers treat as secure). A redirect to another
//! host carries none of the first host's cookies. A cookie lives until its `Max-Age`
//! runs out or, without one, until its `Expires` date (§5.2.1–5.2.2, the date read as
//! §5.1.1 says, whatever the server's date format); one already expired deletes the
//! stored cookie it replaces (how frameworks clear a cookie); without either it lives for
//! the login, as a session cookie does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// The host that set it (host-only) or the `Domain` it was set for, lower case.
    domain: String,
    host_only: bool,
    path: String,
    secure: bool,
    /// `None`: a session cookie, kept for the login.
    expires: Option<SystemTime>,
}

impl Cookie {
    fn live_at(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    /// In the order they were first set.
    cookies: Vec<Cookie>,
}

impl CookieJar {
    /// Stores what a `Set-Cookie` header of an answer from `url` says; a cookie the RFC
    /// says to ignore (a `Domain` that is not the host's, a nameless one) is ignored.
    pub fn store(&mut self, url: &Url, set_cookie: &str) {
        self.store_at(url, set_cookie, SystemTime::now());
    }

    /// [`CookieJar::store`] as of `now`.
    fn store_at(&mut self, url: &Url, set_cookie: &str, now: SystemTime) {
        let Some(host) = host_of(url) else { return };
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let mut domain_attr: Option<String> = None;
        let mut path_attr: Option<String> = None;
        let mut secure = false;
        let mut max_age: Option<i64> = None;
        let mut expires: Option<SystemTime> = None;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    domain_attr = Some(val.trim_start_matches('.').to_ascii_lowercase());
                }
                "path" if val.starts_with('/') => path_attr = Some(val.to_owned()),
                "secure" => secure = true,
                "max-age" => max_age = parse_max_age(val).or(max_age),
                "expires" => expires = parse_cookie_date(val).or(expires),
                _ => {}
            }
        }
        // Max-Age wins over Expires (§5.3 step 3); a Max-Age of 0 or less is the earliest time.
        let expires = match max_age {
            Some(age) if age <= 0 => Some(UNIX_EPOCH),
            Some(age) => Some(now + Duration::from_secs(age as u64)),
            None => expires,
        };
        let (domain, host_only) = match domain_attr {
            None => (host.clone(), true),
            Some(d) if d == host => (d, false),
            // A Domain must be a parent of the host, never an IP's, nor a bare top-level
            // label (no public suffix list here: "com" is refused, "example.com" is not).
            Some(d) if is_ip(url) || !d.contains('.') || !domain_match(&host, &d) => return,
            Some(d) => (d, false),
        };
        let path = path_attr.unwrap_or_else(|| default_path(url));
        self.cookies
            .retain(|c| !(c.name == name && c.domain == domain && c.path == path));
        // An expired cookie only removes the one it replaces (§5.3 step 12).
        if expires.is_some_and(|t| t <= now) {
            return;
        }
        self.cookies.push(Cookie {
            name: name.to_owned(),
            value: value.trim_matches('"').to_owned(),
            domain,
            host_only,
            path,
            secure,
            expires,
        });
    }

    /// The `Cookie` header for a request to `url`: the cookies that match its host, path
    /// and scheme, longest path first.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        self.header_at(url, SystemTime::now())
    }

    /// [`CookieJar::header_for`] as of `now`: expired cookies are not sent.
    fn header_at(&self, url: &Url, now: SystemTime) -> Option<String> {
        let host = host_of(url)?;
        let secure = url.scheme() == "https" || is_loopback(url);
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| {
                let host_ok = if c.host_only {
                    host == c.domain
                } else {
                    domain_match(&host, &c.domain)
                };
                host_ok
                    && path_match(url.path(), &c.path)
                    && (secure || !c.secure)
                    && c.live_at(now)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// The value of the last live cookie stored under `name`, for any host.
    pub fn get(&self, name: &str) -> Option<&str> {
        let now = SystemTime::now();
        self.cookies
            .iter()
            .rev()
            .find(|c| c.name == name && c.live_at(now))
            .map(|c| c.value.as_str())
    }
}

/// §5.2.2: an optional `-` and digits, else the attribute is ignored (`None`). Capped at
/// a century: longer is forever for a login.
fn parse_max_age(value: &str) -> Option<i64> {
    const CENTURY: i64 = 100 * 365 * 24 * 3600;
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match value.parse::<i64>() {
        Ok(age) => age.min(CENTURY),
        Err(_) if value.starts_with('-') => 0,
        Err(_) => CENTURY,
    })
}

/// §5.1.1: a cookie date in any of the formats servers send (`Thu, 01 Jan 1970 00:00:00
/// GMT`, `Thursday, 01-Jan-70 00:00:00 GMT`, `Thu Jan  1 00:00:00 1970`): the first time,
/// day of month, month and year among its tokens. `None` when there is no valid date,
/// which makes the attribute ignored.
fn parse_cookie_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let delimiter = |c: char| {
        c == '\t'
            || (' '..='/').contains(&c)
            || (';'..='@').contains(&c)
            || ('['..='`').contains(&c)
            || ('{'..='~').contains(&c)
    };
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in value.split(delimiter).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(t) = parse_time(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = leading_number(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            let prefix = token.get(..3).map(str::to_ascii_lowercase);
            if let Some(m) = prefix.and_then(|p| MONTHS.iter().position(|m| *m == p)) {
                month = Some(m as u32 + 1);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = leading_number(token, 2, 4) {
                year = Some(y);
            }
        }
    }
    let ((h, m, s), day, month, mut year) = (time?, day?, month?, year?);
    year += match year {
        70..=99 => 1900,
        0..=69 => 2000,
        _ => 0,
    };
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || m > 59 || s > 59 {
        return None;
    }
    let secs =
        days_from_civil(i64::from(year), month, day) * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Some(match u64::try_from(secs) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after),
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()),
    })
}

/// §5.1.1 `hms-time`: `h:m:s`, one or two digits each, the last maybe followed by a
/// non-digit and anything.
fn parse_time(token: &str) -> Option<(u32, u32, u32)> {
    let mut fields = token.splitn(3, ':');
    let (h, m, s) = (fields.next()?, fields.next()?, fields.next()?);
    let whole = |f: &str| {
        ((1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
            .then(|| f.parse().ok())?
    };
    Some((whole(h)?, whole(m)?, leading_number(s, 1, 2)?))
}

/// The number of `min` to `max` digits that starts `token`, followed by a non-digit or
/// nothing.
fn leading_number(token: &str, min: usize, max: usize) -> Option<u32> {
    let n = token.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max).contains(&n).then(|| token[..n].parse().ok())?
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn host_of(url: &Url) -> Option<String> {
    url.host_str().map(|h| h.to_ascii_lowercase())
}

fn is_ip(url: &Url) -> bool {
    matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_)))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// RFC 6265 §5.1.3: equal, or `host` ends with `.domain` (hosts only, not IPs).
fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 §5.1.4: the request path up to its last `/`, or `/`.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4: the cookie path is the request path, or a prefix of it ending at a `/`.
fn path_match(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request[cookie.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_only_cookies_stay_with_their_host() {
        let mut jar = CookieJar::default();
        jar.store(&url("http://a.example.com/login"), "s=1; Path=/");
        assert_eq!(
            jar.header_for(&url("http://a.example.com/x")).as_deref(),
            Some("s=1")
        );
        assert_eq!(jar.header_for(&url("http://b.example.com/x")), None);
        assert_eq!(jar.header_for(&url("http://evil.test/x")), None);
        assert_eq!(jar.header_for(&url("http://example.com/x")), None);
    }

    #[test]
    fn domain_cookies_reach_subdomains_only_of_a_matching_domain() {
        let mut jar = CookieJar::default();
        jar.store(&url("http://a.example.com/"), "d=1; Domain=.Example.com");
        jar.store(&url("http://a.example.com/"), "bad=1; Domain=other.test");
        jar.store(&url("http://a.example.com/"), "tld=1; Domain=com");
        jar.store(&url("http://127.0.0.1/"), "ip=1; Domain=0.0.1");
        assert_eq!(
            jar.header_for(&url("http://b.example.com/")).as_deref(),
            Some("d=1")
        );
        assert_eq!(
            jar.header_for(&url("http://example.com/")).as_deref(),
            Some("d=1")
        );
        assert_eq!(jar.header_for(&url("http://other.test/")), None);
        assert_eq!(jar.header_for(&url("http://notexample.com/")), None);
        assert_eq!(jar.get("bad"), None);
        assert_eq!(jar.get("tld"), None);
        assert_eq!(jar.get("ip"), None);
    }

    #[test]
    fn paths_and_secure_are_honoured() {
        let mut jar = CookieJar::default();
        jar.store(&url("https://h.test/app/login"), "a=1");
        jar.store(&url("https://h.test/"), "s=2; Secure; Path=/");
        assert_eq!(
            jar.header_for(&url("https://h.test/app/page")).as_deref(),
            Some("a=1; s=2")
        );
        assert_eq!(
            jar.header_for(&url("https://h.test/application"))
                .as_deref(),
            Some("s=2")
        );
        assert_eq!(
            jar.header_for(&url("http://h.test/app/x")).as_deref(),
            Some("a=1")
        );
        // Loopback counts as secure, as in browsers.
        jar.store(&url("http://localhost:5000/"), "l=3; Secure");
        assert_eq!(
            jar.header_for(&url("http://localhost:5000/")).as_deref(),
            Some("l=3")
        );
    }

    #[test]
    fn a_cookie_is_replaced_or_deleted_by_name_domain_and_path() {
        let mut jar = CookieJar::default();
        let u = url("http://h.test/");
        jar.store(&u, "a=1");
        jar.store(&u, "a=2");
        assert_eq!(jar.header_for(&u).as_deref(), Some("a=2"));
        jar.store(&u, "a=; Max-Age=0");
        assert_eq!(jar.header_for(&u), None);
        jar.store(&u, "=nameless");
        jar.store(&u, "novalue");
        assert_eq!(jar.header_for(&u), None);
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn cookie_dates_are_read_in_every_format_servers_send() {
        let epoch_day = |secs: u64| Some(at(secs));
        for (text, want) in [
            ("Thu, 01 Jan 1970 00:00:00 GMT", epoch_day(0)),
            ("Thu, 01-Jan-1970 00:00:10 GMT", epoch_day(10)),
            ("Thursday, 01-Jan-70 00:00:00 GMT", epoch_day(0)),
            ("Thu Jan  1 00:00:01 1970", epoch_day(1)),
            ("Wed, 09 Jun 2021 10:18:14 GMT", epoch_day(1_623_233_894)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", epoch_day(784_111_777)),
            ("29 Feb 2024 12:00:00", epoch_day(1_709_208_000)),
            ("Tue, 01 Jan 2036 00:00:00 GMT", epoch_day(2_082_758_400)),
        ] {
            assert_eq!(parse_cookie_date(text), want, "{text}");
        }
        for bad in [
            "",
            "tomorrow",
            "Thu, 32 Jan 2020 00:00:00 GMT",
            "01 Jan 2020",
            "Thu, 01 Jan 2020 24:00:00",
            "01 Foo 2020 00:00:00",
            "01 Jan 1600 00:00:00",
            "01 Jan 2020 001:00:00",
        ] {
            assert_eq!(parse_cookie_date(bad), None, "{bad}");
        }
        assert!(parse_cookie_date("Thu, 01 Jan 1601 00:00:00 GMT").unwrap() < UNIX_EPOCH);
    }

    #[test]
    fn an_expires_in_the_past_clears_the_cookie_and_one_in_the_future_keeps_it() {
        let mut jar = CookieJar::default();
        let u = url("http://h.test/");
        let now = at(1_700_000_000);
        jar.store_at(&u, "a=1", now);
        jar.store_at(&u, "keep=2; Expires=Tue, 01 Jan 2036 00:00:00 GMT", now);
        assert_eq!(jar.header_at(&u, now).as_deref(), Some("a=1; keep=2"));
        // Express's res.clearCookie: Expires only, no Max-Age.
        jar.store_at(&u, "a=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", now);
        assert_eq!(jar.header_at(&u, now).as_deref(), Some("keep=2"));
        // An expired cookie is never stored.
        jar.store_at(&u, "old=3; expires=Thursday, 01-Jan-70 00:00:00 GMT", now);
        assert_eq!(jar.header_at(&u, now).as_deref(), Some("keep=2"));
        // A cookie with a date is no longer sent once it passes, nor read.
        assert_eq!(jar.header_at(&u, at(2_082_758_400)), None);
        // A date kensa cannot read is ignored: a session cookie.
        jar.store_at(&u, "s=4; Expires=someday", now);
        assert_eq!(jar.get("s"), Some("4"));
    }

    #[test]
    fn max_age_counts_from_now_and_wins_over_expires() {
        let mut jar = CookieJar::default();
        let u = url("http://h.test/");
        let now = at(1_700_000_000);
        jar.store_at(
            &u,
            "m=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            now,
        );
        assert_eq!(jar.header_at(&u, now).as_deref(), Some("m=1"));
        assert_eq!(jar.header_at(&u, at(1_700_000_059)).as_deref(), Some("m=1"));
        assert_eq!(jar.header_at(&u, at(1_700_000_060)), None);
        // Max-Age 0 or less deletes, whatever Expires says; a malformed one is ignored.
        jar.store_at(
            &u,
            "m=2; Expires=Tue, 01 Jan 2036 00:00:00 GMT; Max-Age=-1",
            now,
        );
        assert_eq!(jar.header_at(&u, now), None);
        jar.store_at(&u, "n=1; Max-Age=+5", now);
        jar.store_at(&u, "o=1; Max-Age=99999999999999999999999", now);
        assert_eq!(jar.header_at(&u, now).as_deref(), Some("n=1; o=1"));
        assert_eq!(parse_max_age("12a"), None);
        assert_eq!(parse_max_age("-99999999999999999999"), Some(0));
    }
}
