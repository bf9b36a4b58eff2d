//! The provider's own calls to Heroku (docs/protocol.md#platform-api-for-partners,
//! #logs), accounted for at the end of a run by kensa's loopback fake of Heroku: the
//! identity service, the Platform API and the log sink behind `log_input_url`.

use super::examples as ex;
use super::pages::{LOGS, PARTNER_API, PLATFORM_API_RATE_LIMITS, SUDO_SANDWICH};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

pub static CALLS_ACCEPTED: CheckDef = CheckDef {
    id: "heroku.calls-accepted",
    title: "every call to Heroku was accepted",
    severity: Requirement,
    row: 44,
    rule: "Every call the provider makes to Heroku succeeds: grants exchanged once with the client secret, Platform API calls with the add-on's own access token, on its own add-on; none refused, whatever the provision answered.",
    source: Source {
        protocol: Anchor::Authentication,
        heroku: Some(PARTNER_API),
    },
    why: "A refused call is a provider that cannot set config, finish a provision or read its add-on on Heroku, even when its answers to Heroku looked right.",
    fix: "Read the refusals listed: exchange each code once with HEROKU_CLIENT_SECRET, keep the access token it gives, and call only <callback_url> and its sub-paths with it.",
    examples: ex::PLATFORM_API,
};

pub static ACCEPT_HEADER: CheckDef = CheckDef {
    id: "heroku.accept-header",
    title: "Platform API calls ask for version 3",
    severity: Advice,
    row: 48,
    rule: "Every Platform API call sends `Accept: application/vnd.heroku+json; version=3`.",
    source: Source {
        protocol: Anchor::PlatformApiForPartners,
        heroku: Some(SUDO_SANDWICH),
    },
    why:
        "The Platform API versions its answers by this header; Heroku's own clients always send it.",
    fix: "Send Accept: application/vnd.heroku+json; version=3 on every call to the Platform API.",
    examples: ex::PLATFORM_API,
};

pub static TOKEN_REFRESHED: CheckDef = CheckDef {
    id: "heroku.token-refreshed",
    title: "expired access tokens are refreshed",
    severity: Requirement,
    row: 47,
    rule: "With `--token-ttl`, access tokens expire quickly: the provider gets a new one (`grant_type=refresh_token`) instead of calling with an expired one.",
    source: Source {
        protocol: Anchor::AsynchronousProvisioning,
        heroku: Some(SUDO_SANDWICH),
    },
    why: "Heroku's access tokens last about eight hours; a provider that never refreshes loses access to its add-ons after that.",
    fix: "Store expires_in with the token and, when it has passed, POST grant_type=refresh_token&refresh_token=…&client_secret=… to /oauth/token before the call.",
    examples: ex::TOKEN_REFRESH,
};

pub static RETRY_AFTER: CheckDef = CheckDef {
    id: "heroku.retry-after",
    title: "a 429 is retried after Retry-After",
    severity: Advice,
    row: 49,
    rule: "With `--inject-429`, one Platform API call gets 429 with `Retry-After`: the provider waits that long and makes the call again.",
    source: Source {
        protocol: Anchor::PlatformApiForPartners,
        heroku: Some(PLATFORM_API_RATE_LIMITS),
    },
    why: "The Platform API limits every account's requests; a provider that gives up on a 429 leaves add-ons half provisioned.",
    fix: "On 429, sleep for Retry-After seconds (or back off) and retry the same call.",
    examples: ex::RETRY_429,
};

pub static LOG_FRAMING: CheckDef = CheckDef {
    id: "heroku.log-framing",
    title: "log posts are framed for logplex ({n} received)",
    severity: Requirement,
    row: 67,
    rule: "With `requires: [\"log_input\"]`, what the provider posts to `log_input_url` is `Content-Type: application/logplex-1` and octet-counted RFC 5424 syslog frames.",
    source: Source {
        protocol: Anchor::Logs,
        heroku: Some(LOGS),
    },
    why: "Logplex splits the body into lines by the byte counts; a badly framed body loses the lines or garbles the app's log stream.",
    fix: "Post \"<length> <190>1 <RFC 3339 time> <host> <app> - - - <message>\" frames, the length counting the bytes after the space.",
    examples: ex::LOGPLEX,
};

pub static LOG_USER_AGENT: CheckDef = CheckDef {
    id: "heroku.log-user-agent",
    title: "log posts name the add-on in User-Agent",
    severity: Advice,
    row: 68,
    rule: "Posts to `log_input_url` send a `User-Agent` naming the add-on.",
    source: Source {
        protocol: Anchor::Logs,
        heroku: Some(LOGS),
    },
    why: "Heroku asks for it to tell the add-ons writing to an app's logs apart.",
    fix: "Send User-Agent: <your add-on> (<its URL>) with every log post.",
    examples: ex::LOGPLEX,
};

pub const CHECKS: &[&CheckDef] = &[
    &CALLS_ACCEPTED,
    &ACCEPT_HEADER,
    &TOKEN_REFRESHED,
    &RETRY_AFTER,
    &LOG_FRAMING,
    &LOG_USER_AGENT,
];
