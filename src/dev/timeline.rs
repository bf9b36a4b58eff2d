//! A resource's story, from the call log: Heroku's calls to the provider and the
//! provider's calls back (202 → grant exchanged → config set → provisioned), and, while
//! an asynchronous flow is open, the step it waits for — or where it stopped and why,
//! with the check that explains it.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::session::{Resource, ResourceState};
use crate::check::fake_heroku::{AddonRecord, Call, Direction};
use crate::registry::{async_flow, deprovision, planchange, provision};
use crate::state::Change;

/// One step of a resource's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub label: String,
    /// `done`, `failed` or `waiting`.
    pub status: &'static str,
    pub at: Option<String>,
    /// The log entry it comes from.
    pub seq: Option<u64>,
    pub detail: Option<String>,
    /// The check that states the rule, for a failed step.
    pub check: Option<&'static str>,
}

impl Step {
    fn from_call(call: &Call, label: String, ok: bool, check: &'static str) -> Step {
        Step {
            label,
            status: if ok { "done" } else { "failed" },
            at: Some(call.at.clone()),
            seq: Some(call.seq),
            detail: (!ok).then(|| why(call)),
            check: (!ok).then_some(check),
        }
    }
}

/// The steps of `resource`, oldest first.
pub fn of(resource: &Resource, calls: &[Call], async_timeout: Duration) -> Vec<Step> {
    let mine: Vec<&Call> = calls
        .iter()
        .filter(|c| c.addon.as_deref() == Some(resource.uuid.as_str()))
        .collect();
    let mut steps: Vec<Step> = mine.iter().filter_map(|c| step_of(c)).collect();
    // What other commands did: their calls are not in this log, their notes say when.
    steps.extend(resource.outside.iter().map(|change| Step {
        label: match &change.change {
            Change::Deprovisioned => {
                format!("deprovisioned outside this session, by {}", change.by)
            }
            Change::PlanChanged { plan } => {
                format!(
                    "plan changed to {plan} outside this session, by {}",
                    change.by
                )
            }
        },
        status: "done",
        at: Some(change.at.clone()),
        seq: None,
        detail: None,
        check: None,
    }));
    let waiting = |label: String| Step {
        label,
        status: "waiting",
        at: None,
        seq: None,
        detail: Some(format!(
            "Heroku waits up to {} s here (--async-timeout)",
            async_timeout.as_secs()
        )),
        check: None,
    };
    let ok = |target_end: &str| {
        mine.iter().any(|c| {
            c.direction == Direction::ToHeroku
                && c.target.ends_with(target_end)
                && c.status.is_some_and(|s| (200..300).contains(&s))
        })
    };
    match resource.state {
        ResourceState::Provisioning if answered_202(&mine, "POST") => {
            let next = if !ok("/oauth/token") {
                "waiting for the provider to exchange the grant code"
            } else if !ok("/config") {
                "waiting for the provider to set the config (PATCH …/config)"
            } else {
                "waiting for the provider to call POST …/actions/provision"
            };
            steps.push(waiting(next.into()));
        }
        ResourceState::Deprovisioning => {
            steps.push(waiting(
                "waiting for the provider to call POST …/actions/deprovision".into(),
            ));
        }
        _ => {}
    }
    if let (Some(message), Some(check)) = (&resource.message, &resource.check) {
        let check = crate::registry::find(check).map(|d| d.id);
        steps.push(Step {
            label: "stopped here".into(),
            status: "failed",
            at: None,
            seq: None,
            detail: Some(message.clone()),
            check,
        });
    }
    steps
}

fn answered_202(calls: &[&Call], method: &str) -> bool {
    calls.iter().any(|c| {
        c.direction == Direction::ToProvider && c.method == method && c.status == Some(202)
    })
}

/// The step a logged call stands for.
fn step_of(call: &Call) -> Option<Step> {
    let ok = call.status.is_some_and(|s| (200..300).contains(&s));
    let status = call
        .status
        .map_or_else(|| "nothing (no answer)".to_owned(), |s| s.to_string());
    let (label, check) = match (call.direction, call.method.as_str()) {
        // Made for the browser, which sees the answer: done when made.
        (Direction::ToProvider, "SSO") => {
            let step = Step::from_call(call, "signed in through the browser".into(), true, "");
            return Some(step);
        }
        (Direction::ToProvider, "POST") => (
            match call.status {
                Some(202) => "provision answered 202: provisioning asynchronously".to_owned(),
                _ => format!("provision answered {status}"),
            },
            provision::STATUS.id,
        ),
        (Direction::ToProvider, "PUT") => (
            format!(
                "plan change{} answered {status}",
                plan_of(&call.request)
                    .map(|p| format!(" to {p}"))
                    .unwrap_or_default()
            ),
            planchange::STATUS.id,
        ),
        (Direction::ToProvider, "DELETE") => (
            format!("deprovision answered {status}"),
            deprovision::STATUS.id,
        ),
        (Direction::ToHeroku, _) if call.target.ends_with("/oauth/token") => (
            if ok {
                "grant exchanged for an access token".to_owned()
            } else {
                format!("grant exchange refused ({status})")
            },
            async_flow::GRANT_EXCHANGED.id,
        ),
        (Direction::ToHeroku, "PATCH") if call.target.ends_with("/config") => (
            if ok {
                format!("config set{}", config_names(&call.request))
            } else {
                format!("config refused ({status})")
            },
            async_flow::CONFIG_SET.id,
        ),
        (Direction::ToHeroku, "POST") if call.target.ends_with("/actions/provision") => (
            if ok {
                "provisioned (the provider called back)".to_owned()
            } else {
                format!("provision callback refused ({status})")
            },
            async_flow::PROVISIONED.id,
        ),
        (Direction::ToHeroku, "POST") if call.target.ends_with("/actions/deprovision") => (
            if ok {
                "deprovisioned (the provider called back)".to_owned()
            } else {
                format!("deprovision callback refused ({status})")
            },
            deprovision::ASYNC_DONE.id,
        ),
        (Direction::ToHeroku, method) => (
            format!("{method} {} answered {status}", call.target),
            async_flow::PROVISIONED.id,
        ),
        _ => return None,
    };
    Some(Step::from_call(call, label, ok, check))
}

/// Why a call failed: the answer's message, or its body.
fn why(call: &Call) -> String {
    let message = serde_json::from_str::<Value>(&call.response)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    let status = call
        .status
        .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
    match message {
        Some(m) => format!("{} {} got {status}: {m}", call.method, call.target),
        None => format!(
            "{} {} got {status}: {}",
            call.method,
            call.target,
            call.response.chars().take(200).collect::<String>()
        ),
    }
}

fn plan_of(request: &str) -> Option<String> {
    let body: Value = serde_json::from_str(request).ok()?;
    body.get("plan")?.as_str().map(str::to_owned)
}

fn config_names(request: &str) -> String {
    let Some(items) = serde_json::from_str::<Value>(request)
        .ok()
        .and_then(|v| v.get("config").and_then(Value::as_array).cloned())
    else {
        return String::new();
    };
    let names: Vec<&str> = items
        .iter()
        .filter_map(|i| i.get("name").and_then(Value::as_str))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(": {}", names.join(", "))
    }
}

/// Where an asynchronous provision that never finished stopped: the check and why.
pub fn stopped_at(record: &AddonRecord, timeout: Duration) -> (&'static str, String) {
    let secs = timeout.as_secs();
    let refused = record.refusals.last().cloned();
    let with_refusal = |what: String| match &refused {
        Some(r) => format!("{what} within {secs} s; the last refused call: {r}"),
        None => format!("{what} within {secs} s"),
    };
    match (&record.exchange, record.config.is_empty()) {
        (Some(Err(why)), _) => (async_flow::GRANT_EXCHANGED.id, why.clone()),
        (None, _) => (
            async_flow::GRANT_EXCHANGED.id,
            with_refusal("the provider never exchanged the grant code".into()),
        ),
        (Some(Ok(())), true) => (
            async_flow::CONFIG_SET.id,
            with_refusal("the provider never set the config (PATCH …/config)".into()),
        ),
        (Some(Ok(())), false) => (
            async_flow::PROVISIONED.id,
            with_refusal("the provider never called POST …/actions/provision".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(seq: u64, direction: Direction, method: &str, target: &str, status: u16) -> Call {
        Call {
            seq,
            at: format!("t{seq}"),
            addon: Some("u1".into()),
            status: Some(status),
            ..Call::new(direction, method, target)
        }
    }

    fn resource(state: ResourceState) -> Resource {
        Resource {
            id: Some("42".into()),
            uuid: "u1".into(),
            plan: "async".into(),
            state,
            config: Default::default(),
            message: None,
            check: None,
            created_at: String::new(),
            outside: Vec::new(),
        }
    }

    #[test]
    fn an_async_provision_shows_every_step_then_what_it_waits_for() {
        let mut calls = vec![
            call(
                1,
                Direction::ToProvider,
                "POST",
                "http://localhost:5000/heroku/resources",
                202,
            ),
            call(2, Direction::ToHeroku, "POST", "/oauth/token", 200),
        ];
        let waiting = of(
            &resource(ResourceState::Provisioning),
            &calls,
            Duration::from_secs(60),
        );
        let labels: Vec<&str> = waiting.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "provision answered 202: provisioning asynchronously",
                "grant exchanged for an access token",
                "waiting for the provider to set the config (PATCH …/config)"
            ]
        );
        let mut patch = call(3, Direction::ToHeroku, "PATCH", "/addons/u1/config", 200);
        patch.request = r#"{"config":[{"name":"A_URL","value":"••••••"}]}"#.into();
        calls.push(patch);
        calls.push(call(
            4,
            Direction::ToHeroku,
            "POST",
            "/addons/u1/actions/provision",
            200,
        ));
        let done = of(
            &resource(ResourceState::Provisioned),
            &calls,
            Duration::from_secs(60),
        );
        let labels: Vec<&str> = done.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels[2..],
            [
                "config set: A_URL",
                "provisioned (the provider called back)"
            ]
        );
        assert!(done.iter().all(|s| s.status == "done"));
    }

    #[test]
    fn a_refused_call_and_a_stop_name_their_check() {
        let mut refused = call(2, Direction::ToHeroku, "POST", "/oauth/token", 401);
        refused.response = r#"{"id":"unauthorized","message":"invalid client_secret"}"#.into();
        let calls = vec![
            call(
                1,
                Direction::ToProvider,
                "POST",
                "http://x/heroku/resources",
                202,
            ),
            refused,
        ];
        let mut r = resource(ResourceState::Failed);
        let record = AddonRecord {
            exchange: Some(Err(
                "POST /oauth/token answered 401: invalid client_secret".into()
            )),
            ..Default::default()
        };
        let (check, message) = stopped_at(&record, Duration::from_secs(5));
        assert_eq!(check, "async.grant-exchanged");
        r.message = Some(message);
        r.check = Some(check.into());
        let steps = of(&r, &calls, Duration::from_secs(5));
        assert_eq!(steps[1].status, "failed");
        assert_eq!(steps[1].check, Some("async.grant-exchanged"));
        assert!(steps[1]
            .detail
            .as_deref()
            .unwrap()
            .contains("invalid client_secret"));
        assert_eq!(steps.last().unwrap().label, "stopped here");
        assert_eq!(steps.last().unwrap().check, Some("async.grant-exchanged"));
        let (check, why) = stopped_at(&AddonRecord::default(), Duration::from_secs(5));
        assert_eq!(check, "async.grant-exchanged");
        assert!(
            why.contains("never exchanged the grant code within 5 s"),
            "{why}"
        );
    }
}
