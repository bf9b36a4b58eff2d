/// The fields the provider needs. serde ignores every other one unless told
/// `#[serde(deny_unknown_fields)]`, and that attribute must stay off: Heroku adds request
/// fields without notice.
#[derive(Debug, Deserialize)]
pub struct ProvisionRequest {
    pub uuid: String,
    pub plan: String,
    pub region: Option<String>,
    pub callback_url: Option<String>,
    pub oauth_grant: Option<OauthGrant>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct OauthGrant {
    pub code: String,
    /// `2016-03-03T18:01:31-0800`: a numeric offset without a colon, so keep it a string
    /// (or parse it with `%Y-%m-%dT%H:%M:%S%z`), not an RFC 3339 type.
    pub expires_at: String,
}
