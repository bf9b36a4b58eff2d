//! Single sign-on as Heroku performs it (docs/protocol.md#single-sign-on): tokens,
//! nav-data, the request parameters and where they go, shared by `kensa test sso` and
//! `kensa sso`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::manifest::Endpoint;

/// v1 `token = sha1(id:salt:timestamp)`, id being the provider's resource id.
pub fn v1_token(id: &str, salt: &str, timestamp: i64) -> String {
    hex::encode(Sha1::digest(format!("{id}:{salt}:{timestamp}")))
}

/// v3 `resource_token = sha1(uuid:salt:timestamp)`.
pub fn resource_token(uuid: &str, salt: &str, timestamp: i64) -> String {
    hex::encode(Sha1::digest(format!("{uuid}:{salt}:{timestamp}")))
}

/// v3 `user_scoped_resource_token = sha256(uuid:salt:timestamp:user_id:email)`.
pub fn user_scoped_token(
    uuid: &str,
    salt: &str,
    timestamp: i64,
    user_id: &str,
    email: &str,
) -> String {
    hex::encode(Sha256::digest(format!(
        "{uuid}:{salt}:{timestamp}:{user_id}:{email}"
    )))
}

/// base64url (no padding) of the small JSON object naming the add-on and the app.
pub fn nav_data(addon_id: &str, addon_name: &str, app: &str) -> String {
    let doc = json!({
        "addon": addon_name,
        "appname": app,
        "addons": [{"slug": addon_id, "name": addon_name, "current": true}],
    });
    URL_SAFE_NO_PAD.encode(doc.to_string())
}

/// Who signs in, from which app: the parts of an SSO request that are not secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub email: String,
    pub user_id: String,
    pub app: String,
}

impl Default for Visitor {
    fn default() -> Self {
        Visitor {
            email: "username@example.com".into(),
            user_id: uuid::Uuid::new_v4().to_string(),
            app: "myapp".into(),
        }
    }
}

/// Everything needed to sign in to one resource.
#[derive(Debug, Clone)]
pub struct SsoRequest<'a> {
    /// The provider's resource id.
    pub id: &'a str,
    /// Heroku's uuid for the resource: a v3 sign-on needs it.
    pub uuid: Option<&'a str>,
    /// The v3 parameters and tokens (`resource_id`, `resource_token`,
    /// `user_scoped_resource_token`), as Heroku sends them to v3 add-ons; else v1's `id` and
    /// `token`.
    pub v3: bool,
    pub salt: &'a str,
    pub addon_id: &'a str,
    pub addon_name: &'a str,
    pub visitor: &'a Visitor,
}

impl SsoRequest<'_> {
    /// The parameters Heroku sends, in a stable order, for a given timestamp.
    pub fn params(&self, timestamp: i64) -> Vec<(String, String)> {
        let v = self.visitor;
        let mut params = Vec::new();
        match (self.v3, self.uuid) {
            (true, Some(uuid)) => {
                params.push(("resource_id".to_owned(), uuid.to_owned()));
                params.push((
                    "resource_token".into(),
                    resource_token(uuid, self.salt, timestamp),
                ));
                params.push((
                    "user_scoped_resource_token".into(),
                    user_scoped_token(uuid, self.salt, timestamp, &v.user_id, &v.email),
                ));
            }
            // Without a uuid a v3 sign-on cannot be made; callers refuse before (exit 2).
            (true, None) => {}
            (false, _) => {
                params.push(("id".to_owned(), self.id.to_owned()));
                params.push(("token".to_owned(), v1_token(self.id, self.salt, timestamp)));
            }
        }
        params.push(("timestamp".to_owned(), timestamp.to_string()));
        params.extend([
            (
                "nav-data".to_owned(),
                nav_data(self.addon_id, self.addon_name, &v.app),
            ),
            ("email".to_owned(), v.email.clone()),
            ("user_id".to_owned(), v.user_id.clone()),
            ("app".to_owned(), v.app.clone()),
            ("context_app".to_owned(), v.app.clone()),
        ]);
        params
    }

    /// The tokens sent for `timestamp`, each with its formula and the exact inputs, the salt
    /// masked: what a provider compares its own computation with.
    pub fn formulas(&self, timestamp: i64) -> Vec<String> {
        const SALT: &str = "<api.sso_salt>";
        let v = self.visitor;
        match (self.v3, self.uuid) {
            (true, Some(uuid)) => vec![
                format!(
                    "resource_token = sha1(\"{uuid}:{SALT}:{timestamp}\") = {}",
                    resource_token(uuid, self.salt, timestamp)
                ),
                format!(
                    "user_scoped_resource_token = sha256(\"{uuid}:{SALT}:{timestamp}:{}:{}\") = {}",
                    v.user_id,
                    v.email,
                    user_scoped_token(uuid, self.salt, timestamp, &v.user_id, &v.email)
                ),
            ],
            (true, None) => Vec::new(),
            (false, _) => vec![format!(
                "token = sha1(\"{}:{SALT}:{timestamp}\") = {}",
                self.id,
                v1_token(self.id, self.salt, timestamp)
            )],
        }
    }
}

/// Where and how a sign-on request goes (not an HTTP method: a route style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A form POST to `sso_url`.
    Post(String),
    /// A GET to the resource URL with the parameters as its query (legacy).
    Get(String),
}

impl Route {
    /// The manifest's shape decides: object URLs POST to `sso_url`, a root string GETs.
    pub fn for_endpoint(endpoint: &Endpoint, id: &str) -> Result<Route, String> {
        match endpoint {
            Endpoint::Root(_) => Ok(Route::Get(endpoint.resource_url(id))),
            Endpoint::Urls { sso_url: Some(u), .. } => Ok(Route::Post(u.clone())),
            Endpoint::Urls { sso_url: None, .. } => Err(
                "the manifest's URLs have no sso_url: add one (…/sso/login) or use a root URL string for GET SSO".into(),
            ),
        }
    }

    /// The HTTP method and the URL the request goes to.
    pub fn verb_url(&self) -> (&'static str, &str) {
        match self {
            Route::Post(u) => ("POST", u),
            Route::Get(u) => ("GET", u),
        }
    }

    /// `SSO POST <url>` or `SSO GET <url>`.
    pub fn title(&self) -> String {
        let (verb, url) = self.verb_url();
        format!("SSO {verb} {url}")
    }
}

/// The legacy GET sign-on URL: the resource URL with the parameters as its query.
pub fn get_url(
    resource_url: &str,
    params: Vec<(String, String)>,
) -> Result<url::Url, url::ParseError> {
    let mut url = url::Url::parse(resource_url)?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url)
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_token_matches_the_published_vector() {
        assert_eq!(
            v1_token(
                "123",
                "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4",
                1267597772
            ),
            "bb466eb1d6bc345d11072c3cd25c311f21be130d"
        );
    }

    #[test]
    fn v3_tokens_follow_their_formulas() {
        // sha1("u:s:1") and sha256("u:s:1:user:e@x") computed independently.
        assert_eq!(
            resource_token("u", "s", 1),
            hex::encode(Sha1::digest("u:s:1"))
        );
        assert_eq!(
            user_scoped_token("u", "s", 1, "user", "e@x"),
            hex::encode(Sha256::digest("u:s:1:user:e@x"))
        );
        assert_eq!(resource_token("u", "s", 1).len(), 40);
        assert_eq!(user_scoped_token("u", "s", 1, "a", "b").len(), 64);
    }

    #[test]
    fn nav_data_is_unpadded_base64url_json() {
        let nav = nav_data("my-addon", "My Addon", "myapp");
        assert!(!nav.contains('=') && !nav.contains('+') && !nav.contains('/'));
        let doc: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&nav).unwrap()).unwrap();
        assert_eq!(doc["appname"], "myapp");
        assert_eq!(doc["addon"], "My Addon");
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
            url.as_str(),
            "http://localhost:5000/heroku/resources/42?email=a%2Bb%40example.com&app=my+app"
        );
    }

    #[test]
    fn the_manifest_shape_decides_the_route() {
        let root = Endpoint::Root("http://localhost:5000/".into());
        assert_eq!(
            Route::for_endpoint(&root, "42"),
            Ok(Route::Get(
                "http://localhost:5000/heroku/resources/42".into()
            ))
        );
        let urls = |sso_url: Option<&str>| Endpoint::Urls {
            base_url: "http://x/heroku/resources".into(),
            sso_url: sso_url.map(str::to_owned),
        };
        let post = Route::for_endpoint(&urls(Some("http://x/sso/login")), "42").unwrap();
        assert_eq!(post.title(), "SSO POST http://x/sso/login");
        assert!(Route::for_endpoint(&urls(None), "42")
            .unwrap_err()
            .contains("no sso_url"));
    }

    #[test]
    fn v3_sends_the_v3_parameters_and_v1_the_v1_ones() {
        let visitor = Visitor::default();
        let mut req = SsoRequest {
            id: "42",
            uuid: Some("u"),
            v3: true,
            salt: "s",
            addon_id: "a",
            addon_name: "A",
            visitor: &visitor,
        };
        let names = |p: Vec<(String, String)>| p.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        let v3 = req.params(1);
        assert!(v3.contains(&("resource_token".into(), resource_token("u", "s", 1))));
        assert!(v3.contains(&("resource_id".into(), "u".into())));
        let v3_names = names(v3);
        assert!(v3_names.contains(&"user_scoped_resource_token".to_owned()));
        assert!(!v3_names.contains(&"id".to_owned()) && !v3_names.contains(&"token".to_owned()));
        req.v3 = false;
        let v1_names = names(req.params(1));
        assert!(v1_names.contains(&"token".to_owned()) && v1_names.contains(&"id".to_owned()));
        assert!(!v1_names.contains(&"resource_token".to_owned()));
    }

    #[test]
    fn formulas_show_the_inputs_but_not_the_salt() {
        let visitor = Visitor {
            email: "e@x".into(),
            user_id: "uid".into(),
            app: "a".into(),
        };
        let req = SsoRequest {
            id: "42",
            uuid: Some("u-1"),
            v3: true,
            salt: "s3cret-salt",
            addon_id: "a",
            addon_name: "A",
            visitor: &visitor,
        };
        let text = req.formulas(1700).join("\n");
        assert!(text.contains("sha1(\"u-1:<api.sso_salt>:1700\")"), "{text}");
        assert!(
            text.contains("sha256(\"u-1:<api.sso_salt>:1700:uid:e@x\")"),
            "{text}"
        );
        assert!(!text.contains("s3cret-salt"));
        let v1 = SsoRequest { v3: false, ..req };
        assert_eq!(
            v1.formulas(1700),
            [format!(
                "token = sha1(\"42:<api.sso_salt>:1700\") = {}",
                v1_token("42", "s3cret-salt", 1700)
            )]
        );
    }
}
