//! The manifest rules (docs/protocol.md#manifest), in the order `kensa test manifest`
//! runs them.

use super::examples as ex;
use super::pages::{ADDONS_ADMIN, KENSA_GEM, MANIFEST, PARTNER_API};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const FROM_MANIFEST_PAGE: Source = Source {
    protocol: Anchor::Manifest,
    heroku: Some(MANIFEST),
};

const FROM_KENSA_GEM: Source = Source {
    protocol: Anchor::Manifest,
    heroku: Some(KENSA_GEM),
};

pub static ID_PRESENT: CheckDef = CheckDef {
    id: "manifest.id-present",
    title: "id is a non-blank string",
    severity: Requirement,
    row: 2,
    rule: "The manifest has an `id`: a non-blank string, the add-on's slug.",
    source: FROM_MANIFEST_PAGE,
    why: "Heroku names the add-on by its id, and uses it as the user name of every call's Basic auth.",
    fix: "Add \"id\": \"your-addon-slug\" at the top level of the manifest.",
    examples: ex::MANIFEST_ID,
};

pub static ID_SLUG: CheckDef = CheckDef {
    id: "manifest.id-slug",
    title: "id is a slug",
    severity: Requirement,
    row: 2,
    rule: "The `id` is lower case: letters, digits and dashes, starting with a letter.",
    source: FROM_MANIFEST_PAGE,
    why: "The id appears in URLs, in `heroku addons:create <id>` and in config var names; Heroku asks for lower case without spaces or punctuation (its own examples use dashes).",
    fix: "Rename the id to lower-case letters, digits and dashes (kensa init derives one from the directory name).",
    examples: ex::MANIFEST_ID,
};

pub static NAME_STRING: CheckDef = CheckDef {
    id: "manifest.name-string",
    title: "name is a string",
    severity: Requirement,
    row: 69,
    rule: "`name`, when present, is a string: the add-on's display name (without one Heroku shows the id, and the check is skipped).",
    source: FROM_MANIFEST_PAGE,
    why: "Heroku shows the name to users; a name of another type cannot be shown.",
    fix: "Set \"name\" to a string such as \"My Add-on\", or remove it to use the id.",
    examples: ex::MANIFEST_NAME,
};

pub static API_OBJECT: CheckDef = CheckDef {
    id: "manifest.api-object",
    title: "api is an object",
    severity: Requirement,
    row: 3,
    rule: "`api` is an object holding the password, regions and URLs Heroku calls.",
    source: FROM_MANIFEST_PAGE,
    why: "Without it Heroku knows neither where to send provision requests nor how to authenticate them; every api rule is skipped.",
    fix: "Add an \"api\" object (kensa init writes a complete one).",
    examples: ex::MANIFEST_API,
};

pub static REGIONS_ARRAY: CheckDef = CheckDef {
    id: "manifest.regions-array",
    title: "api.regions lists at least one region",
    severity: Requirement,
    row: 4,
    rule: "`api.regions` is a non-empty array of region names: any region Heroku lists, Private Space regions included; neither `us` nor `*` is required.",
    source: FROM_MANIFEST_PAGE,
    why: "Heroku only lets apps in the listed regions provision the add-on; an empty list offers it nowhere.",
    fix: "List every region you serve, e.g. \"regions\": [\"us\", \"eu\"] (Private Spaces: \"virginia\", \"oregon\", \"frankfurt\", \"tokyo\", …).",
    examples: ex::MANIFEST_REGIONS,
};

pub static REGIONS_KNOWN: CheckDef = CheckDef {
    id: "manifest.regions-known",
    title: "api.regions are regions kensa knows",
    severity: Advice,
    row: 5,
    rule: "Every entry of `api.regions` is a region name Heroku lists (or `*`); kensa's list is offline and may lag behind Heroku's, so an unknown name only warns.",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: Some(ADDONS_ADMIN),
    },
    why: "A misspelt region silently offers the add-on nowhere there.",
    fix: "Check the spelling against `heroku regions` (the names, not the AWS ones); ignore the warning for a region newer than kensa.",
    examples: ex::MANIFEST_REGIONS,
};

pub static PASSWORD_SET: CheckDef = CheckDef {
    id: "manifest.password-set",
    title: "api.password is set",
    severity: Requirement,
    row: 6,
    rule: "`api.password` is a non-empty string: the Basic-auth password of Heroku's calls.",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: Some(MANIFEST),
    },
    why: "The provider MUST validate Heroku's credentials; without a password there is nothing to validate against.",
    fix: "Set api.password to a long random string (kensa init generates one) and give your service the same value.",
    examples: ex::MANIFEST_SECRETS,
};

pub static SSO_SALT_STRING: CheckDef = CheckDef {
    id: "manifest.sso-salt-string",
    title: "api.sso_salt is a string",
    severity: Requirement,
    row: 70,
    rule: "`api.sso_salt`, when present, is a string: the secret SSO tokens are made with.",
    source: FROM_MANIFEST_PAGE,
    why: "A salt of another type silently turns single sign-on off.",
    fix: "Set api.sso_salt to a random string (kensa init generates one), or remove it to offer no SSO.",
    examples: ex::MANIFEST_SECRETS,
};

pub static TEST_URLS: CheckDef = CheckDef {
    id: "manifest.test-urls",
    title: "api.test URLs are valid",
    severity: Advice,
    row: 71,
    rule: "`api.test`, when present, is `{\"base_url\", \"sso_url\"}` or a root URL string, each an http(s) URL with a host; it is optional (Heroku does not read it; `--url` or `KENSA_URL` replaces it).",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: None,
    },
    why: "kensa calls the test URLs (your service running locally) unless --url says where the service is.",
    fix: "Set api.test to {\"base_url\": \"http://localhost:5000/heroku/resources\", \"sso_url\": \"http://localhost:5000/sso/login\"}, or remove it and run kensa test --url http://localhost:5000.",
    examples: ex::MANIFEST_URLS,
};

pub static PRODUCTION_URLS: CheckDef = CheckDef {
    id: "manifest.production-urls",
    title: "api.production is set",
    severity: Requirement,
    row: 7,
    rule: "`api.production` is `{\"base_url\", \"sso_url\"}` or a root URL string, each an http(s) URL with a host.",
    source: FROM_MANIFEST_PAGE,
    why: "Heroku sends every provision, plan change, deprovision and sign-on to the production URLs.",
    fix: "Set api.production to your deployed service's URLs, e.g. {\"base_url\": \"https://example.com/heroku/resources\", \"sso_url\": \"https://example.com/sso/login\"}.",
    examples: ex::MANIFEST_URLS,
};

pub static PRODUCTION_HTTPS: CheckDef = CheckDef {
    id: "manifest.production-https",
    title: "production URLs use https",
    severity: Requirement,
    row: 8,
    rule: "The production `base_url` and `sso_url` (or the root string) start with `https:`.",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: Some(PARTNER_API),
    },
    why: "Heroku's calls carry the add-on password and the resources' secrets; Heroku requires an https URL with a valid certificate.",
    fix: "Serve the production endpoints over TLS and write their https:// URLs in api.production.",
    examples: ex::MANIFEST_URLS,
};

pub static CONFIG_VARS_ARRAY: CheckDef = CheckDef {
    id: "manifest.config-vars-array",
    title: "api.config_vars is an array",
    severity: Requirement,
    row: 10,
    rule:
        "`api.config_vars`, when present, is an array of the config var names provisioning returns.",
    source: FROM_KENSA_GEM,
    why: "Heroku only sets the config vars the manifest declares.",
    fix: "Set \"config_vars\": [\"MYADDON_URL\"] with every name your provision answer returns.",
    examples: ex::MANIFEST_CONFIG_VARS,
};

pub static CONFIG_VARS_UPPER_CASE: CheckDef = CheckDef {
    id: "manifest.config-vars-upper-case",
    title: "config var names are upper case",
    severity: Requirement,
    row: 10,
    rule: "Every config var name matches `^[A-Z][0-9A-Z_]+$`.",
    source: FROM_KENSA_GEM,
    why: "Config vars become environment variables of the user's app; other names are awkward or impossible to read there.",
    fix: "Rename the config vars to upper case letters, digits and underscores.",
    examples: ex::MANIFEST_CONFIG_VARS,
};

pub static CONFIG_VARS_PREFIXED: CheckDef = CheckDef {
    id: "manifest.config-vars-prefixed",
    title: "config vars start with the prefix",
    severity: Requirement,
    row: 11,
    rule: "Every config var name starts with `<PREFIX>_`, PREFIX being `api.config_vars_prefix` or the id upper-cased with `-` as `_`.",
    source: FROM_MANIFEST_PAGE,
    why: "The prefix keeps the add-on's vars apart from the app's own and from other add-ons'; Heroku requires it.",
    fix: "Rename the config vars to start with the prefix (e.g. MY_ADDON_URL), or set api.config_vars_prefix.",
    examples: ex::MANIFEST_CONFIG_VARS,
};

pub static NO_USERNAME: CheckDef = CheckDef {
    id: "manifest.no-username",
    title: "api.username is not used",
    severity: Requirement,
    row: 12,
    rule: "The manifest has no `api.username`: Heroku authenticates with the id.",
    source: FROM_KENSA_GEM,
    why: "A provider checking a separate user name rejects Heroku's calls, which send the id.",
    fix: "Remove api.username and check the Basic-auth user against the manifest id.",
    examples: ex::MANIFEST_SECRETS,
};

pub static URL_CREDENTIALS: CheckDef = CheckDef {
    id: "manifest.url-credentials",
    title: "URLs carry no credentials",
    severity: Requirement,
    row: 13,
    rule: "No URL of `api.test` or `api.production` (`base_url`, `sso_url` or the root string) carries a user name or password (`https://user:pass@host/…`).",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: None,
    },
    why: "Heroku authenticates its calls with the id and `api.password`; a password inside a URL is sent to whoever the URL names, kept in logs and shown wherever the URL is printed.",
    fix: "Remove `user:pass@` from the URL; the password belongs in `api.password` (the user name is the manifest's `id`).",
    examples: ex::MANIFEST_SECRETS,
};

pub static REQUIRES_KNOWN: CheckDef = CheckDef {
    id: "manifest.requires-known",
    title: "api.requires are known features",
    severity: Advice,
    row: 14,
    rule: "`api.requires` is an array of the feature names Heroku documents: attachable, many_per_app, log_input, syslog_drain.",
    source: FROM_MANIFEST_PAGE,
    why: "The features change what Heroku sends (log_input_url, log_drain_token) and allows (many_per_app, attachable); Heroku may add new ones, so others only warn.",
    fix: "Use attachable, many_per_app, log_input or syslog_drain, as an array of strings.",
    examples: ex::MANIFEST_REQUIRES,
};

pub static VERSION: CheckDef = CheckDef {
    id: "manifest.version",
    title: "api.version is 3",
    severity: Advice,
    row: 15,
    rule: "`api.version` is \"3\" (the number 3 is read the same), for the v3 Partner API; anything else means legacy v1, which reached end of life on 2023-07-03.",
    source: Source {
        protocol: Anchor::Manifest,
        heroku: Some(PARTNER_API),
    },
    why: "The version decides the request bodies, SSO tokens and asynchronous flow Heroku uses; Heroku no longer serves v1 add-ons.",
    fix: "Set \"version\": \"3\" in api and implement the v3 flow (oauth_grant, resource_token).",
    examples: ex::MANIFEST_VERSION,
};

pub const CHECKS: &[&CheckDef] = &[
    &ID_PRESENT,
    &ID_SLUG,
    &NAME_STRING,
    &API_OBJECT,
    &REGIONS_ARRAY,
    &REGIONS_KNOWN,
    &PASSWORD_SET,
    &SSO_SALT_STRING,
    &TEST_URLS,
    &PRODUCTION_URLS,
    &PRODUCTION_HTTPS,
    &CONFIG_VARS_ARRAY,
    &CONFIG_VARS_UPPER_CASE,
    &CONFIG_VARS_PREFIXED,
    &NO_USERNAME,
    &URL_CREDENTIALS,
    &REQUIRES_KNOWN,
    &VERSION,
];
