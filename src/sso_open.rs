//! `kensa sso <id>`: open a single sign-on session in the browser, as Heroku would.
//!
//! The request is the one `kensa test sso` makes ([`crate::sso::SsoRequest`]). A legacy
//! (root URL) manifest signs in with a GET, so kensa prints that URL and opens it. A
//! current manifest signs in with a form POST to `sso_url`, which a URL cannot express: kensa
//! serves, once, on 127.0.0.1 and a free port, a page that auto-submits that form, and
//! stops after the page was served or after `--timeout` seconds.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::check::sso::Method;
use crate::cli::SsoArgs;
use crate::error::UsageError;
use crate::manifest::Manifest;
use crate::output::{self, BOLD, DIM};
use crate::sso::{now, SsoRequest, Visitor};

/// How long a browser command may take to say it failed; one still running then is
/// taken to be the browser itself, and left running.
const BROWSER_GRACE: Duration = Duration::from_secs(3);

pub fn run(manifest_path: &Path, args: SsoArgs) -> Result<ExitCode> {
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
    let method = Method::for_endpoint(&endpoint, &args.id)
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
        id: &args.id,
        uuid: args.uuid.as_deref(),
        salt,
        addon_id,
        addon_name: manifest.name().unwrap_or(addon_id),
        visitor: &visitor,
    };
    let params = request.params(now());

    match method {
        Method::Get(url) => {
            let url = get_url(&url, params)?;
            let mut out = io::stdout().lock();
            writeln!(out, "{url}")?;
            out.flush()?;
            drop(out);
            if !args.no_browser {
                launch(&url);
            }
            Ok(ExitCode::SUCCESS)
        }
        Method::Post(action) => {
            let page = post_page(&action, &params, manifest.name().unwrap_or(addon_id));
            serve_once(
                &page,
                &action,
                Duration::from_secs(args.timeout),
                !args.no_browser,
            )
        }
    }
}

/// The legacy GET URL: the resource URL with the parameters as its query.
pub fn get_url(resource_url: &str, params: Vec<(String, String)>) -> Result<String> {
    let mut url = url::Url::parse(resource_url).map_err(|e| {
        UsageError::new(format!(
            "the manifest's SSO URL {resource_url:?} is not a URL: {e}"
        ))
    })?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.into())
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
        launch(&address);
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

/// Opens `url` in a browser, or says on stderr why it could not: never an error, since the
/// address is already printed.
fn launch(url: &str) {
    match open_browser(url) {
        Ok(how) => {
            let _ = writeln!(anstream::stderr(), "{DIM}Opened it with {how}.{DIM:#}");
        }
        Err(why) => output::warn(&format!(
            "could not open a browser ({why}); open the address above yourself"
        )),
    }
}

/// Runs the browser command: each entry of `$BROWSER` (`:`-separated, `%s` standing for
/// the URL, as xdg-utils and Python's webbrowser read it), then `open` on macOS or
/// `xdg-open` elsewhere. Returns the command that worked, or why none did.
pub fn open_browser(url: &str) -> Result<String, String> {
    let mut candidates: Vec<Vec<String>> = Vec::new();
    if let Some(browser) = std::env::var_os("BROWSER") {
        for entry in browser.to_string_lossy().split(':') {
            let words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
            if words.is_empty() {
                continue;
            }
            let with_url = if words.iter().any(|w| w.contains("%s")) {
                words.iter().map(|w| w.replace("%s", url)).collect()
            } else {
                let mut w = words;
                w.push(url.to_owned());
                w
            };
            candidates.push(with_url);
        }
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    candidates.push(vec![opener.to_owned(), url.to_owned()]);

    let mut failures = Vec::new();
    for words in candidates {
        let program = &words[0];
        let spawned = Command::new(program)
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                failures.push(format!("{program} not found"));
                continue;
            }
            Err(e) => {
                failures.push(format!("{program}: {e}"));
                continue;
            }
        };
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(program.clone()),
                Ok(Some(status)) => {
                    failures.push(format!("{program} exited with {status}"));
                    break;
                }
                Ok(None) if started.elapsed() >= BROWSER_GRACE => return Ok(program.clone()),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => {
                    failures.push(format!("{program}: {e}"));
                    break;
                }
            }
        }
    }
    if std::env::var_os("BROWSER").is_none() {
        failures.push("BROWSER is not set".into());
    }
    Err(failures.join("; "))
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

    #[test]
    fn get_url_appends_encoded_parameters() {
        let url = get_url(
            "http://localhost:5000/heroku/resources/42",
            vec![
                ("email".into(), "a+b@example.com".into()),
                ("app".into(), "my app".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            url,
            "http://localhost:5000/heroku/resources/42?email=a%2Bb%40example.com&app=my+app"
        );
    }
}
