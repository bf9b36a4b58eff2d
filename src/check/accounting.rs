//! The end of a run with kensa's fake Heroku: every call the provider made to it is
//! accounted for, whatever its answers to Heroku said (docs/protocol.md#how-kensa-simulates-heroku):
//! refused calls, unversioned Platform API calls, expired tokens (`--token-ttl`), the
//! injected 429 (`--inject-429`) and what reached the log sink.

use std::time::Duration;

use super::fake_heroku::{Call, Direction, FakeHeroku, Service, RETRY_AFTER};
use super::report::{Check, Recorder, Stage};
use super::Provider;
use crate::registry::heroku as checks;
use crate::verdict::Verdict;

/// How long the provider gets to finish calls still under way when the run ends (a retry
/// after the injected 429, a log post): the checks before waited for what they expect.
const GRACE: Duration = Duration::from_millis(200);

/// Records the section "calls to Heroku", when the fake ran and something is to be said.
/// `since` is the fake's last call number before the run: a longer session (`kensa dev`)
/// keeps one fake for many runs, and a run accounts only for its own calls.
pub fn account(rec: &mut Recorder, provider: &Provider, since: u64) {
    let Some(fake) = &provider.heroku else {
        return;
    };
    let log_input = provider.manifest.requires_feature("log_input");
    // A retry due after the injected 429: wait for it, within the async timeout.
    if let Some(limit) = fake.rate_limit().filter(|l| l.retried_after.is_none()) {
        let deadline = RETRY_AFTER * 3 + GRACE;
        let _waiting = crate::progress::Spinner::start(format!(
            "waiting up to {} s for the provider to retry {} after its 429",
            deadline.as_secs(),
            limit.call
        ));
        fake.wait_for_call(fake.last_seq() + 1, deadline.min(provider.async_timeout));
    }
    let calls = calls_to_heroku(fake, since);
    let asked = fake.token_ttl().is_some() || fake.injecting();
    if calls.is_empty() && !log_input && !asked {
        return;
    }
    rec.section(
        Stage::Heroku,
        format!("calls to Heroku (kensa's fake at {})", fake.base_url()),
    );
    calls_accepted(rec, &calls);
    if calls
        .iter()
        .any(|c| c.service == Some(Service::PlatformApi))
    {
        accept_header(rec, &calls);
    }
    if fake.token_ttl().is_some() {
        token_refreshed(rec, fake, &calls);
    }
    if let Some(limit) = fake.rate_limit() {
        let verdict = match limit.retried_after {
            Some(after) if after + Duration::from_millis(50) >= RETRY_AFTER => Verdict::Pass,
            Some(after) => Verdict::Fail(format!(
                "{} got 429 with Retry-After: {} and came again after {:.2} s; wait as long as Retry-After says",
                limit.call,
                RETRY_AFTER.as_secs(),
                after.as_secs_f64()
            )),
            None => Verdict::Fail(format!(
                "{} got 429 with Retry-After: {} and was never made again; retry after the wait",
                limit.call,
                RETRY_AFTER.as_secs()
            )),
        };
        rec.note(&checks::RETRY_AFTER, verdict);
    } else if fake.injecting() {
        rec.note(
            &checks::RETRY_AFTER,
            Verdict::Skip("the provider made no Platform API call to answer with 429".into()),
        );
    }
    if log_input {
        let mut names: Vec<String> = [provider.manifest.id(), provider.manifest.name()]
            .into_iter()
            .flatten()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        names.dedup();
        logs(rec, fake, &names);
    }
}

/// The calls the provider made to the fake since call number `since`.
fn calls_to_heroku(fake: &FakeHeroku, since: u64) -> Vec<Call> {
    fake.calls()
        .into_iter()
        .filter(|c| c.seq > since && c.direction == Direction::ToHeroku)
        .collect()
}

fn calls_accepted(rec: &mut Recorder, calls: &[Call]) {
    let not_logs = || calls.iter().filter(|c| c.service != Some(Service::LogSink));
    let refused: Vec<String> = not_logs()
        .filter_map(|c| {
            let why = c.refusal.as_ref()?;
            let path = match &c.addon {
                Some(u) => c.target.replace(u.as_str(), "<uuid>"),
                None => c.target.clone(),
            };
            let status = c
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
            Some(format!("{} {path} got {status}: {why}", c.method))
        })
        .collect();
    let total = not_logs().count();
    rec.record(Check::new(
        &checks::CALLS_ACCEPTED,
        Verdict::check(refused.is_empty(), || {
            format!(
                "{}: {}",
                refused_count(refused.len(), total),
                refused.join("; ")
            )
        }),
    ));
}

/// "1 of 3 calls was refused", "2 of 3 calls were refused", "all 2 calls were refused",
/// "the one call was refused".
fn refused_count(refused: usize, total: usize) -> String {
    match (refused, total) {
        (_, 1) => "the one call was refused".into(),
        (r, t) if r == t => format!("all {total} calls were refused"),
        (1, _) => format!("1 of {total} calls was refused"),
        _ => format!("{refused} of {total} calls were refused"),
    }
}

fn accept_header(rec: &mut Recorder, calls: &[Call]) {
    let unversioned: Vec<String> = calls
        .iter()
        .filter(|c| c.unversioned)
        .map(|c| format!("{} {}", c.method, c.target))
        .collect();
    rec.note(
        &checks::ACCEPT_HEADER,
        Verdict::check(unversioned.is_empty(), || {
            format!(
                "called without Accept: {}: {}",
                crate::http::PLATFORM_API_ACCEPT,
                unversioned.join(", ")
            )
        }),
    );
}

fn token_refreshed(rec: &mut Recorder, fake: &FakeHeroku, calls: &[Call]) {
    let (mut expired, mut refreshed) = (0, 0);
    for uuid in calls
        .iter()
        .filter_map(|c| c.addon.clone())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let record = fake.record(&uuid);
        expired += record.expired_token_uses;
        refreshed += record.refreshes;
    }
    let verdict = if expired > 0 {
        Verdict::Fail(format!(
            "{expired} call(s) used an access token after it expired; refresh it first (grant_type=refresh_token)"
        ))
    } else if refreshed > 0 {
        Verdict::Pass
    } else {
        Verdict::Skip(format!(
            "no call came after a token expired (--token-ttl {} s); nothing needed a refresh",
            fake.token_ttl().unwrap_or_default().as_secs_f64()
        ))
    };
    rec.note(&checks::TOKEN_REFRESHED, verdict);
}

/// What reached the log sink; `names` are the add-on's (id, name), one of which each
/// post's `User-Agent` should carry.
fn logs(rec: &mut Recorder, fake: &FakeHeroku, names: &[String]) {
    let posts = fake.log_posts();
    let lines: usize = posts.iter().map(|p| p.lines.len()).sum();
    if posts.is_empty() {
        rec.record(
            Check::new(
                &checks::LOG_FRAMING,
                Verdict::Skip(
                    "nothing was posted to log_input_url (writing to the app's logs is optional)"
                        .into(),
                ),
            )
            .with_param(0),
        );
        return;
    }
    let problems: Vec<String> = posts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.problems
                .iter()
                .map(move |why| format!("post {}: {why}", i + 1))
        })
        .collect();
    rec.record(
        Check::new(
            &checks::LOG_FRAMING,
            Verdict::check(problems.is_empty(), || problems.join("; ")),
        )
        .with_param(lines),
    );
    let anonymous: Vec<String> = posts
        .iter()
        .filter_map(|p| {
            let ua = p.user_agent.as_deref().unwrap_or("").to_ascii_lowercase();
            (!names.iter().any(|n| ua.contains(n.as_str())))
                .then(|| p.user_agent.clone().unwrap_or_else(|| "none".into()))
        })
        .collect();
    rec.note(
        &checks::LOG_USER_AGENT,
        Verdict::check(anonymous.is_empty(), || {
            format!(
                "{} of {} log posts sent a User-Agent not naming the add-on ({}): {}",
                anonymous.len(),
                posts.len(),
                names.join(" or "),
                anonymous.join(", ")
            )
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::refused_count;

    #[test]
    fn the_refused_count_agrees_in_number() {
        assert_eq!(refused_count(1, 1), "the one call was refused");
        assert_eq!(refused_count(1, 3), "1 of 3 calls was refused");
        assert_eq!(refused_count(2, 3), "2 of 3 calls were refused");
        assert_eq!(refused_count(2, 2), "all 2 calls were refused");
    }
}
