//! The Platform API for partners (docs/protocol.md#platform-api-for-partners), as far as a
//! provider calls it: its add-on (`GET /addons/{id}`), config (`GET`/`PATCH
//! /addons/{id}/config`), attachments, the app it is attached to (`GET /apps/{id}`), and
//! the provision and deprovision actions. Every call needs the add-on's own Bearer token,
//! which reaches that add-on and its app and nothing else; `{id}` is the uuid or the name.
//! Shapes follow Heroku's Platform API schema.

use std::time::{Instant, SystemTime};

use serde_json::{json, Map, Value};

use super::{Addon, Incoming, Outcome, Service, State, RETRY_AFTER};

fn refuse(uuid: Option<String>, status: u16, id: &str, message: &str) -> Outcome {
    Outcome::refused(Service::PlatformApi, status, id, message).about(uuid)
}

fn answer(uuid: &str, status: u16, body: Value) -> Outcome {
    Outcome::json(Service::PlatformApi, status, body).about(Some(uuid.to_owned()))
}

/// The add-on the call names, authorised by its own token: its uuid, or the refusal.
fn authorize(state: &mut State, request: &Incoming, id_or_name: &str) -> Result<String, Outcome> {
    let Some(uuid) = state.addon_uuid(id_or_name) else {
        return Err(refuse(
            None,
            404,
            "not_found",
            &format!("no add-on {id_or_name}"),
        ));
    };
    token_owner(state, request, Some(&uuid)).map(|_| uuid)
}

/// The add-on whose token the call carries; `addressed` must be it when given.
fn token_owner(
    state: &mut State,
    request: &Incoming,
    addressed: Option<&str>,
) -> Result<String, Outcome> {
    let about = addressed.map(str::to_owned);
    let Some(token) = request.bearer().and_then(|t| state.tokens.get(t)).cloned() else {
        return Err(refuse(
            about,
            401,
            "unauthorized",
            "missing or unknown Bearer token",
        ));
    };
    if Instant::now() > token.expires {
        if let Some(addon) = state.addons.get_mut(&token.uuid) {
            addon.record.expired_token_uses += 1;
        }
        return Err(refuse(
            Some(token.uuid),
            401,
            "unauthorized",
            "the access token has expired: get a new one with grant_type=refresh_token",
        ));
    }
    match addressed {
        Some(uuid) if uuid != token.uuid => Err(refuse(
            about,
            403,
            "forbidden",
            "this token belongs to another add-on: each add-on's token reaches only that add-on",
        )),
        _ => Ok(token.uuid),
    }
}

pub(super) fn call(state: &mut State, request: &Incoming, segments: &[&str]) -> Outcome {
    let unversioned = !request
        .header("Accept")
        .unwrap_or_default()
        .contains("version=3");
    let mut outcome = route(state, request, segments);
    outcome.unversioned = unversioned;
    outcome
}

fn route(state: &mut State, request: &Incoming, segments: &[&str]) -> Outcome {
    let (method, path) = (request.method.as_str(), segments);
    let (addressed, app) = match path {
        ["addons", id, ..] => (Some(*id), None),
        ["apps", id] => (None, Some(*id)),
        _ => (None, None),
    };
    let known_route = matches!(
        (method, path),
        ("GET", ["addons", _])
            | ("GET" | "PATCH", ["addons", _, "config"])
            | ("GET", ["addons", _, "addon-attachments"])
            | (
                "POST",
                ["addons", _, "actions", "provision" | "deprovision"]
            )
            | ("GET", ["apps", _])
    );
    if !known_route {
        let why = format!("no route {method} {} on this fake Heroku", request.path);
        return refuse(None, 404, "not_found", &why);
    }
    let uuid = match (addressed, app) {
        (Some(id), _) => match authorize(state, request, id) {
            Ok(uuid) => uuid,
            Err(refusal) => return refusal,
        },
        (_, Some(app)) => match token_owner(state, request, None) {
            Ok(owner) => {
                let attached = state
                    .addons
                    .get(&owner)
                    .is_some_and(|a| a.app_id == app || a.app_name == app);
                if !attached {
                    return refuse(
                        Some(owner),
                        403,
                        "forbidden",
                        &format!("app {app} is not attached to this token's add-on"),
                    );
                }
                owner
            }
            Err(refusal) => return refusal,
        },
        _ => unreachable!("every known route names an add-on or an app"),
    };
    if let Some(limited) = rate_limited(state, request, &uuid) {
        return limited;
    }
    let base = format!("http://{}", request.header("Host").unwrap_or("127.0.0.1"));
    let addon = state.addons.get_mut(&uuid).expect("an authorised add-on");
    match (method, path) {
        ("GET", ["addons", _]) => answer(&uuid, 200, addon_json(addon, &base)),
        ("GET", ["addons", _, "config"]) => answer(&uuid, 200, config_json(addon)),
        ("PATCH", ["addons", _, "config"]) => set_config(addon, &request.body),
        ("GET", ["addons", _, "addon-attachments"]) => {
            answer(&uuid, 200, json!([attachment_json(addon, &base)]))
        }
        ("POST", ["addons", _, "actions", action]) => {
            if *action == "provision" {
                addon.record.provisioned = Some(Ok(()));
            } else {
                addon.record.deprovisioned = Some(Ok(()));
            }
            let body = addon_json(addon, &base);
            answer(&uuid, 200, body)
        }
        ("GET", ["apps", _]) => answer(&uuid, 200, app_json(addon)),
        _ => unreachable!("known routes are all answered"),
    }
}

/// With `--inject-429`: the first authorised call gets 429 and `Retry-After`; the same
/// call made again afterwards is the retry, timed.
fn rate_limited(state: &mut State, request: &Incoming, uuid: &str) -> Option<Outcome> {
    let injected = state.injected.as_mut()?;
    let call = format!("{} {}", request.method, request.path);
    match injected.at {
        None => {
            injected.at = Some(Instant::now());
            injected.call = call;
            let mut outcome = Outcome::json(
                Service::PlatformApi,
                429,
                json!({"id": "rate_limit", "message": "Your account reached the API rate limit. Please wait a few minutes before making new requests."}),
            )
            .about(Some(uuid.to_owned()));
            outcome
                .headers
                .push(("Retry-After", RETRY_AFTER.as_secs().to_string()));
            outcome.headers.push(("RateLimit-Remaining", "0".into()));
            Some(outcome)
        }
        Some(at) if injected.retried_after.is_none() && injected.call == call => {
            injected.retried_after = Some(at.elapsed());
            None
        }
        Some(_) => None,
    }
}

fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A stable-looking id derived from a name, for objects the fake does not store.
fn id_for(name: &str) -> String {
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(name));
    let b = &digest[..16];
    format!(
        "{}-{}-{}-{}-{}",
        hex::encode(&b[0..4]),
        hex::encode(&b[4..6]),
        hex::encode(&b[6..8]),
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

/// `GET /addons/{id}`: the add-on in the Platform API schema's shape.
fn addon_json(addon: &Addon, base: &str) -> Value {
    let info = &addon.info;
    let state = match (&addon.record.deprovisioned, &addon.record.provisioned) {
        (Some(Ok(())), _) => "deprovisioned",
        (_, Some(Ok(()))) => "provisioned",
        _ if addon.provider_id.is_some() => "provisioned",
        _ => "provisioning",
    };
    let app = json!({"id": addon.app_id, "name": addon.app_name});
    json!({
        "id": info.uuid,
        "name": info.name,
        "actions": [],
        "addon_service": {"id": id_for(&info.service), "name": info.service},
        "app": app,
        "billing_entity": {"id": addon.app_id, "name": addon.app_name, "type": "app"},
        "billed_price": {"cents": 0, "contract": false, "unit": "month"},
        "config_vars": info.config_vars,
        "plan": {"id": id_for(&format!("{}:{}", info.service, info.plan)), "name": format!("{}:{}", info.service, info.plan)},
        "provider_id": addon.provider_id,
        "provision_message": null,
        "state": state,
        "web_url": format!("{base}/apps/{}/addons/{}", addon.app_id, info.uuid),
        "created_at": timestamp(addon.created),
        "updated_at": timestamp(SystemTime::now()),
    })
}

/// `GET /addons/{id}/config`: `[{"name", "value"}]`.
fn config_json(addon: &Addon) -> Value {
    Value::Array(
        addon
            .record
            .config
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

/// One attachment of the add-on to its app.
fn attachment_json(addon: &Addon, base: &str) -> Value {
    let info = &addon.info;
    let app = json!({"id": addon.app_id, "name": addon.app_name});
    let name = info.service.to_ascii_uppercase().replace('-', "_");
    json!({
        "id": id_for(&format!("attachment:{}", info.uuid)),
        "name": name,
        "addon": {"id": info.uuid, "name": info.name, "app": app},
        "app": app,
        "namespace": null,
        "log_input_url": format!("{}/logs", base.replacen("http://", &format!("http://token:t.{}@", info.uuid), 1)),
        "web_url": format!("{base}/apps/{}/addons/{}", addon.app_id, info.uuid),
        "created_at": timestamp(addon.created),
        "updated_at": timestamp(addon.created),
    })
}

/// `GET /apps/{id}`: the app the add-on is attached to.
fn app_json(addon: &Addon) -> Value {
    json!({
        "id": addon.app_id,
        "name": addon.app_name,
        "acm": false,
        "archived_at": null,
        "build_stack": {"id": id_for("heroku-24"), "name": "heroku-24"},
        "buildpack_provided_description": null,
        "created_at": timestamp(addon.created),
        "git_url": format!("https://git.heroku.com/{}.git", addon.app_name),
        "maintenance": false,
        "owner": {"id": id_for("owner"), "email": "username@example.com"},
        "region": {"id": id_for("us"), "name": "us"},
        "organization": null,
        "team": null,
        "space": null,
        "internal_routing": null,
        "released_at": timestamp(addon.created),
        "repo_size": null,
        "slug_size": null,
        "stack": {"id": id_for("heroku-24"), "name": "heroku-24"},
        "updated_at": timestamp(addon.created),
        "web_url": format!("https://{}.herokuapp.com/", addon.app_name),
    })
}

/// `PATCH /addons/{id}/config` with `{"config": [{"name", "value"}]}`; answers the add-on's
/// whole config.
fn set_config(addon: &mut Addon, body: &[u8]) -> Outcome {
    let uuid = addon.info.uuid.clone();
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let Some(items) = parsed
        .ok()
        .and_then(|v| v.get("config").and_then(Value::as_array).cloned())
    else {
        return refuse(
            Some(uuid),
            422,
            "invalid_params",
            "body must be {\"config\": [{\"name\": …, \"value\": …}]}",
        );
    };
    let mut named: Map<String, Value> = Map::new();
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        named.insert(name, item.get("value").cloned().unwrap_or(Value::Null));
    }
    let record = &mut addon.record;
    for (name, value) in named {
        if let Some((_, old)) = record.config.iter().find(|(n, _)| *n == name) {
            if *old != value {
                record.config_changes.push(name.clone());
            }
        }
        record.config.retain(|(n, _)| *n != name);
        record.config.push((name, value));
    }
    record.config_sets += 1;
    answer(&uuid, 200, config_json(addon))
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::super::*;

    fn get(fake: &FakeHeroku, path: &str, token: &str) -> (u16, serde_json::Value) {
        raw(
            fake,
            &format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}"),
            "",
        )
    }

    #[test]
    fn a_provider_reads_its_add_on_app_config_and_attachments() {
        let fake = start(Some("s3cret"));
        let token = token_for(&fake, "p1");
        fake.set_provider_id("p1", "res-1");
        let (status, addon) = get(&fake, "/addons/p1", &token);
        assert_eq!(status, 200, "{addon}");
        for key in [
            "id",
            "name",
            "addon_service",
            "app",
            "billing_entity",
            "config_vars",
            "plan",
            "provider_id",
            "state",
            "web_url",
            "created_at",
        ] {
            assert!(addon.get(key).is_some(), "{key}: {addon}");
        }
        assert_eq!(addon["plan"]["name"], "acme-db:basic");
        assert_eq!(addon["provider_id"], "res-1");
        // By name too.
        assert_eq!(get(&fake, "/addons/acme-db-p1", &token).0, 200);
        let app_id = addon["app"]["id"].as_str().unwrap().to_owned();
        let (status, app) = get(&fake, &format!("/apps/{app_id}"), &token);
        assert_eq!(status, 200, "{app}");
        assert_eq!(app["region"]["name"], "us");
        let (status, attachments) = get(&fake, "/addons/p1/addon-attachments", &token);
        assert_eq!(status, 200);
        assert_eq!(attachments[0]["app"]["id"], app_id.as_str());
        assert!(attachments[0]["log_input_url"]
            .as_str()
            .unwrap()
            .contains("t.p1@"));
        let (status, config) = get(&fake, "/addons/p1/config", &token);
        assert_eq!((status, config), (200, serde_json::json!([])));
    }

    #[test]
    fn every_call_is_scoped_to_the_add_on_of_its_token() {
        let fake = start(Some("s3cret"));
        let mine = token_for(&fake, "s1");
        let _theirs = token_for(&fake, "s2");
        let (_, other) = get(&fake, "/addons/s2", &mine);
        assert_eq!(get(&fake, "/addons/s2", &mine).0, 403, "{other}");
        let other_app = {
            let theirs = token_for(&fake, "s3");
            get(&fake, "/addons/s3", &theirs).1["app"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(get(&fake, &format!("/apps/{other_app}"), &mine).0, 403);
        assert_eq!(get(&fake, "/addons/s1", "made-up").0, 401);
        assert!(fake.record("s2").refusals[0].contains("another add-on"));
    }

    #[test]
    fn an_expired_token_is_refused_and_counted() {
        let fake = FakeHeroku::start(Settings {
            client_secret: Some("s3cret".into()),
            token_ttl: Some(Duration::from_millis(1)),
            inject_429: false,
        })
        .unwrap();
        let token = token_for(&fake, "e1");
        std::thread::sleep(Duration::from_millis(20));
        let (status, why) = get(&fake, "/addons/e1", &token);
        assert_eq!(status, 401, "{why}");
        assert!(why["message"].as_str().unwrap().contains("refresh_token"));
        assert_eq!(fake.record("e1").expired_token_uses, 1);
    }

    #[test]
    fn the_injected_429_says_when_to_retry_and_times_the_retry() {
        let fake = FakeHeroku::start(Settings {
            client_secret: None,
            token_ttl: None,
            inject_429: true,
        })
        .unwrap();
        let token = {
            let grant = fake.provision(addon("r1"));
            let (_, a) = raw(&fake, FORM, &token_request(&grant.code, "x"));
            a["access_token"].as_str().unwrap().to_owned()
        };
        let head = format!("GET /addons/r1 HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}");
        let (status, headers, _) = raw_full(&fake, &head, "");
        assert_eq!(status, 429);
        assert!(headers.contains("Retry-After: 1"), "{headers}");
        assert!(fake.rate_limit().unwrap().retried_after.is_none());
        assert_eq!(raw(&fake, &head, "").0, 200);
        let limit = fake.rate_limit().unwrap();
        assert_eq!(limit.call, "GET /addons/r1");
        assert!(limit.retried_after.is_some());
        // The 429 is kensa's doing, not a refusal of the provider's call.
        assert!(fake.record("r1").refusals.is_empty());
    }

    #[test]
    fn a_config_change_to_another_value_is_noted() {
        let fake = start(None);
        let grant = fake.provision(addon("c1"));
        let (_, a) = raw(&fake, FORM, &token_request(&grant.code, "x"));
        let token = a["access_token"].as_str().unwrap();
        let patch =
            format!("PATCH /addons/c1/config HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}");
        let set = |v: &str| format!(r#"{{"config":[{{"name":"ACME_DB_URL","value":"{v}"}}]}}"#);
        assert_eq!(raw(&fake, &patch, &set("postgres://a")).0, 200);
        assert_eq!(raw(&fake, &patch, &set("postgres://a")).0, 200);
        assert!(fake.record("c1").config_changes.is_empty());
        assert_eq!(raw(&fake, &patch, &set("postgres://b")).0, 200);
        let record = fake.record("c1");
        assert_eq!(record.config_changes, ["ACME_DB_URL"]);
        assert_eq!(record.config_sets, 3);
    }
}
