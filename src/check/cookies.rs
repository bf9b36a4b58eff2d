//! The cookie jar of the SSO login, kept as a browser keeps one (RFC 6265 §5.2–5.4): a
//! cookie goes back only to the host that set it (host-only) or, with a `Domain` the
//! setting host domain-matches, to that domain; only under its path; a `Secure` one only
//! over https (or to loopback, which browsers treat as secure). A redirect to another
//! host carries none of the first host's cookies. `Expires` is not read: a cookie lives
//! for the login, as a session cookie would; `Max-Age=0` deletes it.

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
        let mut delete = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    domain_attr = Some(val.trim_start_matches('.').to_ascii_lowercase());
                }
                "path" if val.starts_with('/') => path_attr = Some(val.to_owned()),
                "secure" => secure = true,
                "max-age" => delete = val.parse::<i64>().is_ok_and(|age| age <= 0),
                _ => {}
            }
        }
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
        if delete {
            return;
        }
        self.cookies.push(Cookie {
            name: name.to_owned(),
            value: value.trim_matches('"').to_owned(),
            domain,
            host_only,
            path,
            secure,
        });
    }

    /// The `Cookie` header for a request to `url`: the cookies that match its host, path
    /// and scheme, longest path first.
    pub fn header_for(&self, url: &Url) -> Option<String> {
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
                host_ok && path_match(url.path(), &c.path) && (secure || !c.secure)
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

    /// The value of the last cookie stored under `name`, for any host.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .rev()
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }
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
}
