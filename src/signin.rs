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
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::browser;
use crate::error::UsageError;
use crate::manifest::{Endpoint, Manifest};
use crate::output::{visible, BOLD, DIM};
use crate::serve::{Limits, Response, Server};
use crate::sso::{self, now, Route, SsoRequest, Visitor};
use crate::state;

/// What `kensa sso` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The provider's resource id; `None`: the last resource kensa provisioned.
    pub id: Option<String>,
    /// Heroku's uuid of the resource, which a v3 sign-on needs (else the one kensa
    /// remembers for the resource).
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
    if let Some(url) = sso_urls(&endpoint)
        .into_iter()
        .find(|u| crate::manifest::url_credentials(u).is_some())
    {
        return Err(UsageError::new(format!(
            "{shown}: the SSO URL {:?} carries credentials (`user:pass@`); remove them and put the password in api.password (`kensa test manifest` checks it)",
            crate::manifest::without_credentials(url)
        ))
        .into());
    }
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
    // v3 signs on with the resource's uuid: `--uuid`, or the one kensa remembers.
    if manifest.is_v3() && uuid.is_none() {
        return Err(state::no_uuid(manifest_path, &id).into());
    }
    let request = SsoRequest {
        id: &id,
        uuid: uuid.as_deref(),
        v3: manifest.is_v3(),
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
            writeln!(out, "{}", visible(&url))?;
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

/// The URLs a sign-on goes to: the `sso_url`, or the legacy root.
fn sso_urls(endpoint: &Endpoint) -> Vec<&str> {
    match endpoint {
        Endpoint::Urls { sso_url, .. } => sso_url.iter().map(String::as_str).collect(),
        Endpoint::Root(root) => vec![root.as_str()],
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

/// Each connection to the sign-in page: read and answered within this, or dropped, so a
/// client that stalls can delay neither the page nor kensa's exit.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// Serves `page` once on 127.0.0.1 at a random path (so no other local process can guess
/// it and take the one-time page first), then returns; fails after `timeout`.
fn serve_once(page: &str, action: &str, timeout: Duration, open: bool) -> Result<ExitCode> {
    let path = format!("/sso/{}", uuid::Uuid::new_v4().simple());
    let (served, was_served) = mpsc::channel::<()>();
    let served = Mutex::new(Some(served));
    let server = {
        let (page, path) = (page.to_owned(), path.clone());
        let limits = Limits {
            deadline: CONNECTION_DEADLINE,
            body: 0,
        };
        Server::start(limits, move |request| {
            if request.method != "GET" || request.path() != path {
                return Response::new(404, "text/plain; charset=utf-8", "not found\n");
            }
            // Once: the first browser to open it gets the page, then kensa stops.
            let Some(served) = served.lock().ok().and_then(|mut s| s.take()) else {
                return Response::new(404, "text/plain; charset=utf-8", "already served\n");
            };
            let _ = served.send(());
            Response::new(200, "text/html; charset=utf-8", page.clone())
                .with_header("Cache-Control", "no-store")
                .with_header("Referrer-Policy", "no-referrer")
        })
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1 for the SSO page: {e}"))?
    };
    let address = format!("{}{path}", server.base_url());

    let mut out = io::stdout().lock();
    writeln!(out, "{address}")?;
    out.flush()?;
    drop(out);
    let _ = writeln!(
        anstream::stderr(),
        "{DIM}Serving a page that signs in with a POST to{DIM:#} {BOLD}{}{BOLD:#}{DIM}; waiting up to {} s for it to be opened.{DIM:#}",
        visible(action),
        timeout.as_secs()
    );
    if open {
        browser::launch(&address);
    }

    let waiting = crate::progress::Spinner::start(format!(
        "waiting up to {} s for a browser to open {address}",
        timeout.as_secs()
    ));
    let outcome = was_served.recv_timeout(timeout);
    drop(waiting);
    match outcome {
        Ok(()) => {
            // Let the page's answer get out before kensa exits (bounded by its deadline).
            server.finish(CONNECTION_DEADLINE);
            let _ = writeln!(
                anstream::stderr(),
                "Served the sign-in page once; the browser posts it to {}.",
                visible(action)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(_) => Err(anyhow!(
            "nobody opened {address} within {} s; it is no longer served (wait longer with --timeout)",
            timeout.as_secs()
        )),
    }
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
