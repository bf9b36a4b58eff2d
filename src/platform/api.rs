//! The add-ons service's manifest endpoints (docs/protocol.md#manifest-sync), over kensa's
//! HTTP client: Bearer API key, `Accept: application/vnd.heroku+json; version=3`, a timeout
//! on every call, and an error per failure kind carrying the service's own message.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::credentials::{ApiKey, Source};
use crate::error::UsageError;
use crate::http::{Auth, Client, Exchange, HttpError, Payload, PLATFORM_API_ACCEPT};
use crate::output;

/// How to reach the add-ons service: shared by `push`, `pull` and `diff`.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Base URL of the add-ons service, as the user gave it (`--addons-url`, `ADDONS_URL`,
    /// `HEROKU_ADDONS_HOST`; see [`addons_url`]).
    pub addons_url: String,
    /// Deadline of each call.
    pub timeout: Duration,
    /// Print each request and response to stderr, secrets masked.
    pub verbose: bool,
}

/// Heroku's addons-admin plugin names the add-ons service with this variable; it takes
/// the host of its value (docs/protocol.md#manifest-sync).
pub const HOST_VAR: &str = "HEROKU_ADDONS_HOST";
/// The add-ons service, when nothing names another.
pub const DEFAULT_ADDONS_URL: &str = "https://addons.heroku.com";

/// The add-ons service's base URL: `--addons-url` or `ADDONS_URL` as given (`given`), else
/// `HEROKU_ADDONS_HOST` (`host`) as Heroku's plugin reads it, by its host alone: a URL's
/// scheme, host and port (any path dropped), a bare host over https; else
/// [`DEFAULT_ADDONS_URL`].
pub fn addons_url(given: Option<&str>, host: Option<&str>) -> String {
    if let Some(url) = given.filter(|u| !u.trim().is_empty()) {
        return url.to_owned();
    }
    let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
        return DEFAULT_ADDONS_URL.to_owned();
    };
    match url::Url::parse(host) {
        Ok(parsed) if parsed.host_str().is_some() => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default()
            )
        }
        // `addons.example.com`, `localhost:3000`: a host (and port), not a URL.
        _ => format!("https://{}", host.split('/').next().unwrap_or(host)),
    }
}

/// A failed call. All of them exit 1; the local files are untouched by then.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the add-ons service refused the API key from {from} (401 Unauthorized){}; get a valid one with `heroku login` or `heroku auth:token`", said(.message))]
    Unauthorized {
        from: String,
        message: Option<String>,
    },
    #[error("the add-ons service does not let this account manage add-on {slug} (403 Forbidden){}; ask an owner of the add-on to add you as a collaborator", said(.message))]
    Forbidden {
        slug: String,
        message: Option<String>,
    },
    #[error("the add-ons service has no add-on {slug} (404 Not Found){}; check the slug (the manifest's `id`) and --addons-url", said(.message))]
    NotFound {
        slug: String,
        message: Option<String>,
    },
    #[error("the add-ons service rejected the request for {slug} (422 Unprocessable Entity){}", said(.message))]
    Rejected {
        slug: String,
        message: Option<String>,
    },
    #[error("the add-ons service answered {status} for {method} {url}{}", said(.message))]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        message: Option<String>,
    },
    #[error("the add-ons service answered {status} for {method} {url}, but {why}")]
    BadBody {
        method: &'static str,
        url: String,
        status: u16,
        why: String,
    },
    #[error("cannot reach the add-ons service ({http}); check --addons-url / ADDONS_URL and your network")]
    Network { http: HttpError },
}

fn said(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(": {m:?}"),
        None => String::new(),
    }
}

/// The add-ons service, with the key to talk to it.
pub struct Service {
    base: String,
    key: ApiKey,
    key_source: Source,
    client: Client,
}

impl Service {
    /// `secrets` (the manifest's password and salt) are masked, like the key, in
    /// `--verbose` output.
    pub fn new(
        args: &Connection,
        key: ApiKey,
        key_source: Source,
        secrets: Vec<String>,
    ) -> Result<Service, UsageError> {
        let base = args.addons_url.trim().trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base).map_err(|e| {
            UsageError::new(format!(
                "--addons-url / ADDONS_URL {:?} is not a URL: {e}",
                args.addons_url
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(UsageError::new(format!(
                "--addons-url / ADDONS_URL {:?} must be an http(s) URL such as https://addons.heroku.com",
                args.addons_url
            )));
        }
        let loopback = matches!(
            parsed.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || parsed.host_str() == Some("localhost");
        if parsed.scheme() == "http" && !loopback {
            output::warn(&format!(
                "{base} is plain http: your API key crosses the network unencrypted"
            ));
        }
        let mut masked = vec![key.expose().to_owned()];
        masked.extend(secrets);
        Ok(Service {
            base,
            client: Client::new(args.timeout, args.verbose, masked),
            key,
            key_source,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn addon_url(&self, slug: &str, rest: &str) -> String {
        let slug: String = url::form_urlencoded::byte_serialize(slug.as_bytes()).collect();
        format!("{}/api/v3/addons/{slug}/{rest}", self.base)
    }

    /// `GET /api/v3/addons/<slug>/current_manifest` → its `contents`.
    pub fn current_manifest(&self, slug: &str) -> Result<Map<String, Value>, ApiError> {
        let url = self.addon_url(slug, "current_manifest");
        self.call("GET", &url, slug, &Payload::Empty)
    }

    /// `POST /api/v3/addons/<slug>/manifests` with `{"contents": …}` → the stored `contents`.
    pub fn push_manifest(
        &self,
        slug: &str,
        contents: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let url = self.addon_url(slug, "manifests");
        self.call(
            "POST",
            &url,
            slug,
            &Payload::Json(json!({ "contents": contents })),
        )
    }

    fn call(
        &self,
        method: &'static str,
        url: &str,
        slug: &str,
        payload: &Payload,
    ) -> Result<Map<String, Value>, ApiError> {
        let bearer = format!("Bearer {}", self.key.expose());
        let headers = [
            ("Authorization", bearer.as_str()),
            ("Accept", PLATFORM_API_ACCEPT),
        ];
        let exchange = self
            .client
            .send(method, url, Auth::None, payload, &headers)
            .map_err(|http| ApiError::Network { http })?;
        let message = self.server_message(&exchange);
        let slug = slug.to_owned();
        match exchange.status {
            200..=299 => contents_of(&exchange).map_err(|why| ApiError::BadBody {
                method,
                url: url.to_owned(),
                status: exchange.status,
                why,
            }),
            401 => Err(ApiError::Unauthorized {
                from: self.key_source.to_string(),
                message,
            }),
            403 => Err(ApiError::Forbidden { slug, message }),
            404 => Err(ApiError::NotFound { slug, message }),
            422 => Err(ApiError::Rejected { slug, message }),
            status => Err(ApiError::Status {
                method,
                url: url.to_owned(),
                status,
                message,
            }),
        }
    }

    /// The service's own words: `message` or `error` of a JSON body, else the start of a
    /// text body. (Outputs mask the key, should the service ever echo it.)
    fn server_message(&self, exchange: &Exchange) -> Option<String> {
        let text = match serde_json::from_slice::<Value>(&exchange.body) {
            Ok(Value::Object(o)) => {
                ["message", "error", "error_description"]
                    .iter()
                    .find_map(|k| match o.get(*k) {
                        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                        Some(Value::Object(inner)) => inner
                            .get("message")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        _ => None,
                    })?
            }
            Ok(_) => return None,
            Err(_) if exchange.body.iter().all(u8::is_ascii_whitespace) => return None,
            Err(_) => exchange.snippet(200),
        };
        Some(text)
    }
}

fn contents_of(exchange: &Exchange) -> Result<Map<String, Value>, String> {
    let body = exchange.json()?;
    match body.get("contents") {
        Some(Value::Object(contents)) => Ok(contents.clone()),
        // Tolerate a service that stores the manifest as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(contents)) => Ok(contents),
            _ => Err("its `contents` is a string that is not a JSON object".into()),
        },
        Some(other) => Err(format!(
            "its `contents` is {}, not a manifest object",
            crate::manifest::json_type(other)
        )),
        None => Err("the body has no `contents`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_addons_url_comes_from_the_flag_then_heroku_addons_host_by_its_host() {
        let host = Some("https://addons-staging.example.com/some/path");
        assert_eq!(
            addons_url(Some("http://localhost:3000"), host),
            "http://localhost:3000",
            "--addons-url / ADDONS_URL win"
        );
        assert_eq!(addons_url(None, host), "https://addons-staging.example.com");
        assert_eq!(
            addons_url(None, Some("http://127.0.0.1:4000/")),
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            addons_url(None, Some("addons.example.com")),
            "https://addons.example.com"
        );
        assert_eq!(
            addons_url(None, Some("localhost:3000")),
            "https://localhost:3000"
        );
        assert_eq!(addons_url(None, Some(" ")), DEFAULT_ADDONS_URL);
        assert_eq!(addons_url(None, None), DEFAULT_ADDONS_URL);
    }
}
