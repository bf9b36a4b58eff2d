//! `kensa sso <id>`: sign in to a resource in the browser, as Heroku would.
//!
//! The request is the one `kensa test sso` makes ([`crate::sso::SsoRequest`]). A legacy
//! (root URL) manifest signs in with a GET, so kensa prints that URL and opens it. A
//! current manifest signs in with a form POST to `sso_url`, which a URL cannot express: kensa
//! serves, once, on 127.0.0.1 and a free port, a page that auto-submits that form, and
//! stops after the page was served or after `--timeout` seconds.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::browser;
use crate::error::UsageError;
use crate::manifest::Manifest;
use crate::output::{BOLD, DIM};
use crate::sso::{self, now, Route, SsoRequest, Visitor};
use crate::state;

/// What `kensa sso` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The provider's resource id; `None`: the last resource kensa provisioned.
    pub id: Option<String>,
    /// Heroku's uuid of the resource: adds the v3 resource tokens.
    pub uuid: Option<String>,
    pub production: bool,
    /// Only print the URL or the page's address.
    pub no_browser: bool,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub app: Option<String>,
    /// How long the one-time POST page waits to be opened.
    pub timeout: Duration,
}

pub fn run(manifest_path: &Path, args: Options) -> Result<ExitCode> {
    let manifest = Manifest::load(manifest_path)?;
    let shown = manifest_path.display();
    let addon_id = manifest
        .id()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            UsageError::new(format!("{shown} has no `id`: SSO needs the add-on's slug"))
        })?;
    let salt = manifest.sso_salt().ok_or_else(|| {
        UsageError::new(format!(
            "{shown} has no api.sso_salt, so no SSO token can be made: add one (kensa init writes a random salt)"
        ))
    })?;
    let which = if args.production {
        "production"
    } else {
        "test"
    };
    let endpoint = manifest.endpoint(args.production).ok_or_else(|| {
        UsageError::new(format!(
            "{shown}: api.{which} is missing or is neither a root URL string nor {{base_url, sso_url}}"
        ))
    })?;
    let (id, uuid) = state::resource_or_last(manifest_path, args.id, args.uuid)?;
    let route = Route::for_endpoint(&endpoint, &id)
        .map_err(|why| UsageError::new(format!("{shown}: {why}")))?;

    let mut visitor = Visitor::default();
    if let Some(email) = args.email {
        visitor.email = email;
    }
    if let Some(user_id) = args.user_id {
        visitor.user_id = user_id;
    }
    if let Some(app) = args.app {
        visitor.app = app;
    }
    let request = SsoRequest {
        id: &id,
        uuid: uuid.as_deref(),
        salt,
        addon_id,
        addon_name: manifest.name().unwrap_or(addon_id),
        visitor: &visitor,
    };
    let params = request.params(now());

    match route {
        Route::Get(url) => {
            let url = get_url(&url, params)?;
            let mut out = io::stdout().lock();
            writeln!(out, "{url}")?;
            out.flush()?;
            drop(out);
            if !args.no_browser {
                browser::launch(&url);
            }
            Ok(ExitCode::SUCCESS)
        }
        Route::Post(action) => {
            let page = post_page(&action, &params, manifest.name().unwrap_or(addon_id));
            serve_once(&page, &action, args.timeout, !args.no_browser)
        }
    }
}

/// The legacy GET URL, or an input error naming the manifest's bad URL.
fn get_url(resource_url: &str, params: Vec<(String, String)>) -> Result<String, UsageError> {
    sso::get_url(resource_url, params)
        .map(String::from)
        .map_err(|e| {
            UsageError::new(format!(
                "the manifest's SSO URL {resource_url:?} is not a URL: {e}"
            ))
        })
}

/// An HTML page whose only job is to POST `params` to `action` as soon as it loads
/// (with a button for browsers without JavaScript). Every value is HTML-escaped.
pub fn post_page(action: &str, params: &[(String, String)], addon_name: &str) -> String {
    let mut inputs = String::new();
    for (name, value) in params {
        inputs.push_str(&format!(
            "    <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
  <meta charset=\"utf-8\">
  <meta name=\"referrer\" content=\"no-referrer\">
  <title>Signing in to {name}…</title>
</head>
<body>
  <form method=\"post\" action=\"{action}\">
{inputs}    <noscript><button type=\"submit\">Sign in to {name}</button></noscript>
  </form>
  <script>document.forms[0].submit();</script>
</body>
</html>
",
        name = escape(addon_name),
        action = escape(action),
    )
}

/// Escapes text for an HTML attribute value or element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Serves `page` once on 127.0.0.1 at a random path (so no other local process can guess
/// it and take the one-time page first), then returns; fails after `timeout`.
fn serve_once(page: &str, action: &str, timeout: Duration, open: bool) -> Result<ExitCode> {
    let server = tiny_http::Server::http("127.0.0.1:0")
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1 for the SSO page: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("the SSO page server has no IP address")?;
    let path = format!("/sso/{}", uuid::Uuid::new_v4().simple());
    let address = format!("http://127.0.0.1:{port}{path}");

    let mut out = io::stdout().lock();
    writeln!(out, "{address}")?;
    out.flush()?;
    drop(out);
    let _ = writeln!(
        anstream::stderr(),
        "{DIM}Serving a page that signs in with a POST to{DIM:#} {BOLD}{action}{BOLD:#}{DIM}; waiting up to {} s for it to be opened.{DIM:#}",
        timeout.as_secs()
    );
    if open {
        browser::launch(&address);
    }

    let waiting = crate::progress::Spinner::start(format!(
        "waiting up to {} s for a browser to open {address}",
        timeout.as_secs()
    ));
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(request) = server
            .recv_timeout(left)
            .context("the SSO page server failed")?
        else {
            break;
        };
        let wanted = *request.method() == tiny_http::Method::Get
            && request.url().split('?').next() == Some(path.as_str());
        if !wanted {
            let _ = request.respond(
                tiny_http::Response::from_string("not found\n")
                    .with_status_code(404)
                    .with_header(header("Content-Type", "text/plain; charset=utf-8")),
            );
            continue;
        }
        let response = tiny_http::Response::from_string(page)
            .with_header(header("Content-Type", "text/html; charset=utf-8"))
            .with_header(header("Cache-Control", "no-store"))
            .with_header(header("Referrer-Policy", "no-referrer"))
            .with_header(header("Connection", "close"));
        request
            .respond(response)
            .context("cannot send the SSO page")?;
        drop(waiting);
        let _ = writeln!(
            anstream::stderr(),
            "Served the sign-in page once; the browser posts it to {action}."
        );
        return Ok(ExitCode::SUCCESS);
    }
    Err(anyhow!(
        "nobody opened {address} within {} s; it is no longer served (wait longer with --timeout)",
        timeout.as_secs()
    ))
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("static header names and values are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_attribute_breakers() {
        assert_eq!(escape(r#"a"b'c<d>e&f"#), "a&quot;b&#39;c&lt;d&gt;e&amp;f");
    }

    #[test]
    fn post_page_auto_submits_escaped_hidden_fields() {
        let page = post_page(
            "http://localhost:5000/sso/login?x=1&y=2",
            &[("email".into(), "\"><script>".into())],
            "My <Addon>",
        );
        assert!(page.contains(
            r#"<form method="post" action="http://localhost:5000/sso/login?x=1&amp;y=2">"#
        ));
        assert!(
            page.contains(r#"<input type="hidden" name="email" value="&quot;&gt;&lt;script&gt;">"#)
        );
        assert!(page.contains("document.forms[0].submit()"));
        assert!(page.contains("My &lt;Addon&gt;"));
        assert!(!page.contains("\"><script>"));
    }
}
