//! Single sign-on (docs/protocol.md#single-sign-on): Heroku's users arrive signed in.

use super::examples as ex;
use super::pages::SSO;
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const SIGN_ON: Source = Source {
    protocol: Anchor::SingleSignOn,
    heroku: Some(SSO),
};

pub static SALT_SET: CheckDef = CheckDef {
    id: "sso.salt-set",
    title: "sso_salt is set",
    severity: Requirement,
    row: 72,
    rule: "Testing sign-on needs `api.sso_salt`: the secret both Heroku and the provider make tokens with.",
    source: SIGN_ON,
    why: "Without a salt no token can be made, so nobody can sign in from the Heroku Dashboard.",
    fix: "Add api.sso_salt (kensa init writes a random one) and give your service the same value (SSO_SALT).",
    examples: ex::MANIFEST_SECRETS,
};

pub static URL_SET: CheckDef = CheckDef {
    id: "sso.url-set",
    title: "sso_url is set",
    severity: Requirement,
    row: 72,
    rule: "Manifest URLs in object form carry an `sso_url` for the sign-on POST (a root URL string signs on with a GET).",
    source: SIGN_ON,
    why: "Heroku has nowhere to send the user.",
    fix: "Add \"sso_url\": \"https://…/sso/login\" beside base_url, or use a root URL string for GET sign-on.",
    examples: ex::MANIFEST_URLS,
};

pub static SKIPPED: CheckDef = CheckDef {
    id: "sso.skipped",
    title: "single sign-on",
    severity: Advice,
    row: 75,
    rule: "`kensa test all` signs on only when the manifest has an `api.sso_salt` and `--without-sso` is not given; otherwise sign-on is not tested.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: None,
    },
    why: "An add-on without single sign-on offers its users no way in from the Heroku Dashboard.",
    fix: "Add api.sso_salt and a sign-on route if your add-on has a dashboard.",
    examples: &[],
};

pub static WRONG_TOKEN: CheckDef = CheckDef {
    id: "sso.wrong-token",
    title: "wrong token gets 403",
    severity: Requirement,
    row: 60,
    rule: "A sign-on whose tokens were made with another salt gets 403.",
    source: SIGN_ON,
    why: "Accepting a forged token lets anyone sign in to any resource.",
    fix: "Recompute the token from the resource_id (v3) or id (v1), your salt and the timestamp, and compare in constant time; 403 on mismatch.",
    examples: ex::SSO_TOKEN,
};

pub static STALE_TIMESTAMP: CheckDef = CheckDef {
    id: "sso.stale-timestamp",
    title: "timestamp 6 minutes old gets 403",
    severity: Requirement,
    row: 61,
    rule: "A sign-on whose timestamp is more than 5 minutes old gets 403.",
    source: SIGN_ON,
    why: "Otherwise a sign-on URL leaked from a browser history or a log works forever.",
    fix: "Refuse timestamps older than 5 minutes (Heroku's own samples use 2) with 403.",
    examples: ex::SSO_TIMESTAMP,
};

pub static FUTURE_TIMESTAMP: CheckDef = CheckDef {
    id: "sso.future-timestamp",
    title: "timestamp 6 minutes ahead gets 403",
    severity: Advice,
    row: 62,
    rule: "A sign-on whose timestamp lies minutes in the future gets 403 (hardening: Heroku's rule is about old timestamps, and its own sample providers accept future ones).",
    source: Source {
        protocol: Anchor::SingleSignOn,
        heroku: None,
    },
    why: "A token dated ahead stays valid long after it was made.",
    fix: "Refuse timestamps more than a small clock skew (a minute) ahead of your clock with 403.",
    examples: ex::SSO_TIMESTAMP,
};

pub static LOGIN: CheckDef = CheckDef {
    id: "sso.login",
    title: "good token logs in",
    severity: Requirement,
    row: 63,
    rule: "A valid sign-on (v3: resource_id and its tokens; v1: id and token) ends, after redirects, on a 2xx page.",
    source: SIGN_ON,
    why: "This is how Heroku's users reach the add-on's dashboard.",
    fix: "Accept the v3 resource tokens (or the v1 token), start a session, and redirect to (or render) your dashboard.",
    examples: ex::SSO_TOKEN,
};

pub static NAV_DATA_COOKIE: CheckDef = CheckDef {
    id: "sso.nav-data-cookie",
    title: "heroku-nav-data cookie is set",
    severity: Advice,
    row: 65,
    rule: "After sign-on, the `heroku-nav-data` cookie holds the `nav-data` parameter sent (for Heroku's legacy add-on header).",
    source: SIGN_ON,
    why: "Heroku's legacy add-on header reads the app and add-on the user came from out of this cookie.",
    fix: "Set-Cookie: heroku-nav-data=<the nav-data parameter> on the sign-on answer.",
    examples: ex::SSO_SESSION,
};

pub static HEROKU_HEADER: CheckDef = CheckDef {
    id: "sso.heroku-header",
    title: "Heroku layout",
    severity: Advice,
    row: 66,
    rule: "The page after sign-on carries Heroku's add-on header: any element with id=\"heroku-header\" (or the boomerang script).",
    source: SIGN_ON,
    why: "The header takes the user back to the app they came from.",
    fix: "Render an element with id=\"heroku-header\" naming the app and add-on from nav-data.",
    examples: ex::HEROKU_HEADER,
};

pub const CHECKS: &[&CheckDef] = &[
    &SALT_SET,
    &URL_SET,
    &SKIPPED,
    &WRONG_TOKEN,
    &STALE_TIMESTAMP,
    &FUTURE_TIMESTAMP,
    &LOGIN,
    &NAV_DATA_COOKIE,
    &HEROKU_HEADER,
];
