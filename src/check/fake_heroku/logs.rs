//! The log sink behind `log_input_url` (docs/protocol.md#logs): what a provider posts to an
//! app's log stream, checked as logplex would take it. The body is octet-counted RFC 5424
//! frames (RFC 6587 §3.4.1: `<bytes> <message>`, repeated), `Content-Type:
//! application/logplex-1`, credentials in the URL's user-info (`token:t.<uuid>`).

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex::Regex;

use super::{Incoming, Outcome, Service, State};

/// One post to the log sink, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPost {
    /// The add-on whose log URL it used.
    pub uuid: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    /// The messages of the frames that parsed, in order.
    pub lines: Vec<String>,
    /// What is wrong with the post, in words; empty for a good one.
    pub problems: Vec<String>,
}

/// Accepts a post: 204 when it is well framed (as logplex answers), 400 saying what is wrong
/// otherwise, 401 without the URL's credentials.
pub(super) fn post(state: &mut State, request: &Incoming) -> Outcome {
    let uuid = credentials_uuid(request).filter(|u| state.addons.contains_key(u));
    let content_type = request.header("Content-Type").map(str::to_owned);
    let user_agent = request.header("User-Agent").map(str::to_owned);
    let mut problems = Vec::new();
    if uuid.is_none() {
        problems.push(
            "no credentials of a log_input_url kensa handed out (Basic auth token:t.<uuid>, from the URL's user-info)"
                .to_owned(),
        );
    }
    if content_type.as_deref().map(str::trim) != Some("application/logplex-1") {
        problems.push(format!(
            "Content-Type is {}, not application/logplex-1",
            content_type
                .as_deref()
                .map_or("missing".into(), |c| format!("{c:?}"))
        ));
    }
    let (lines, framing) = frames(&request.body);
    problems.extend(framing);
    let status = match (&uuid, problems.is_empty()) {
        (None, _) => 401,
        (_, true) => 204,
        (_, false) => 400,
    };
    let refusal = (!problems.is_empty()).then(|| problems.join("; "));
    state.log_posts.push(LogPost {
        uuid: uuid.clone(),
        content_type,
        user_agent,
        lines,
        problems,
    });
    let mut outcome = Outcome::json(Service::LogSink, status, serde_json::Value::Null).about(uuid);
    outcome.body = refusal.clone().unwrap_or_default().into_bytes();
    outcome.content_type = "text/plain; charset=utf-8";
    outcome.refusal = refusal;
    outcome
}

/// The uuid in `Authorization: Basic base64(token:t.<uuid>)`.
fn credentials_uuid(request: &Incoming) -> Option<String> {
    let encoded = request.header("Authorization")?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (_, password) = decoded.split_once(':')?;
    password.strip_prefix("t.").map(str::to_owned)
}

/// The messages of an octet-counted body, and every framing or syslog problem found. A
/// frame is `<length> <RFC 5424 message>`, the length counting the message's bytes.
pub fn frames(body: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut rest = body;
    let mut n = 0;
    while !rest.iter().all(u8::is_ascii_whitespace) {
        n += 1;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let length = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse::<usize>().ok());
        let (Some(length), Some(b' ')) = (length.filter(|_| digits > 0), rest.get(digits)) else {
            problems.push(format!(
                "frame {n} does not start with its length in bytes and a space (octet counting, RFC 6587): {:?}",
                preview(rest)
            ));
            break;
        };
        let start = digits + 1;
        let Some(frame) = rest.get(start..start + length) else {
            problems.push(format!(
                "frame {n} says {length} bytes but only {} follow",
                rest.len() - start
            ));
            break;
        };
        match std::str::from_utf8(frame) {
            Err(_) => problems.push(format!("frame {n} is not UTF-8")),
            Ok(text) => match syslog_message(text) {
                Ok(message) => lines.push(message.to_owned()),
                Err(why) => problems.push(format!("frame {n} {why}: {:?}", preview(frame))),
            },
        }
        rest = &rest[start + length..];
    }
    if body.is_empty() {
        problems.push("the body is empty".into());
    }
    (lines, problems)
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned()
}

/// RFC 5424's header: `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
static SYSLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^<(?P<pri>[0-9]{1,3})>(?P<version>[1-9][0-9]?) ",
        r"(?P<time>-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})) ",
        r"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) ",
        r"(?P<sd>-|\[.*?\])(?: (?P<msg>.*))?$",
    ))
    .expect("a valid pattern")
});

/// The message of a well-formed RFC 5424 frame, or what is wrong with it.
pub fn syslog_message(frame: &str) -> Result<&str, String> {
    let frame = frame.strip_suffix('\n').unwrap_or(frame);
    let Some(parts) = SYSLOG.captures(frame) else {
        return Err(
            "is not an RFC 5424 message (<190>1 <RFC 3339 time> <host> <app> <procid> <msgid> <structured data> <message>)"
                .into(),
        );
    };
    let pri: u16 = parts["pri"].parse().unwrap_or(u16::MAX);
    if pri > 191 {
        return Err(format!("has priority {pri}, above 191"));
    }
    Ok(parts.name("msg").map_or("", |m| m.as_str()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;

    use super::*;

    fn frame(message: &str) -> String {
        format!("{} {message}", message.len())
    }

    #[test]
    fn octet_counted_rfc_5424_frames_parse() {
        let a = "<190>1 2026-03-03T18:05:00+00:00 host app acme - - backup finished";
        let b = "<190>1 2026-03-03T18:05:01.123Z host app - - - ünïcode";
        let (lines, problems) = frames(format!("{}{}", frame(a), frame(b)).as_bytes());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(lines, ["backup finished", "ünïcode"]);
    }

    #[test]
    fn bad_framing_is_named() {
        let good = "<190>1 - host app - - - ok";
        for (body, needle) in [
            (good.to_owned(), "does not start with its length"),
            (format!("99 {good}"), "says 99 bytes"),
            (frame("hello there"), "is not an RFC 5424 message"),
            (frame("<999>1 - h a - - - x"), "above 191"),
            (String::new(), "empty"),
            (format!("{}\n{}", frame(good), frame(good)), "frame 2"),
        ] {
            let (_, problems) = frames(body.as_bytes());
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{body:?}: {problems:?} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn the_sink_takes_a_good_post_and_refuses_a_bad_one() {
        let fake = start(None);
        fake.provision(addon("l1"));
        let auth = STANDARD.encode("token:t.l1");
        let body = frame("<190>1 2026-03-03T18:05:00Z l1 app acme - - hello");
        let head = format!(
            "POST /logs HTTP/1.1\r\nAuthorization: Basic {auth}\r\nContent-Type: application/logplex-1\r\nUser-Agent: acme (https://example.com)"
        );
        assert_eq!(raw(&fake, &head, &body).0, 204);
        let plain = format!(
            "POST /logs HTTP/1.1\r\nAuthorization: Basic {auth}\r\nContent-Type: text/plain"
        );
        assert_eq!(raw(&fake, &plain, "hello").0, 400);
        assert_eq!(raw(&fake, "POST /logs HTTP/1.1", &body).0, 401);
        let posts = fake.log_posts();
        assert_eq!(posts.len(), 3);
        assert_eq!(posts[0].lines, ["hello"]);
        assert!(posts[0].problems.is_empty());
        assert_eq!(
            posts[0].user_agent.as_deref(),
            Some("acme (https://example.com)")
        );
        assert!(posts[1].problems.iter().any(|p| p.contains("text/plain")));
        // Log posts are judged by the log checks, not counted as refused API calls.
        assert!(fake.record("l1").refusals.is_empty());
    }
}
