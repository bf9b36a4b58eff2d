//! The check registry seen from the outside. Every check a run reports is declared (the
//! harness asserts it for every `--format json` run, here also for JUnit), every declared
//! check is reported by some run (no dead entries), and `docs/checks.md` is the registry's
//! own rendering.

use std::collections::BTreeSet;

use kensa::check::provision;
use kensa::check::report::{Recorder, Stage};
use kensa::manifest::Manifest;
use kensa::registry;

use crate::harness::junit::parse_junit;
use crate::harness::library::{self, Quiet};
use crate::harness::{assert_declared, repo, Sim};
use crate::stub::{Addon, Misbehaviour};

/// `docs/checks.md` is generated: a registry change without regenerating it fails here.
#[test]
fn checks_md_matches_the_registry() {
    let path = repo().join("docs/checks.md");
    let generated = registry::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/checks.md differs from the check registry (src/registry/); regenerate it with\n  \
         UPDATE_DOCS=1 cargo test --test cli checks_md\nand commit the result"
    );
}

/// The ids a library-level provision reports when the provider answers 202 and kensa has
/// no loopback Heroku to watch (as against production URLs, which the https-less stub
/// cannot serve).
fn unobservable_async_provision() -> BTreeSet<String> {
    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::Provision202);
    let doc = sim.addon.manifest(sim.stub.port());
    let manifest = Manifest::parse(doc.to_string().as_bytes(), "m.json".as_ref()).unwrap();
    let provider = library::provider(&manifest, false).unwrap();
    let mut quiet = Quiet;
    let mut rec = Recorder::new(&mut quiet);
    rec.section(Stage::Provision, "POST");
    provision::run(&mut rec, &provider, "test", &Default::default(), 1);
    let report = rec.finish().unwrap();
    report
        .sections
        .iter()
        .flat_map(|s| &s.checks)
        .map(|c| c.id().to_owned())
        .collect()
}

#[test]
fn every_declared_check_is_reported_by_some_run() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut runs = Vec::new();

    // The whole lifecycle, with a log drain and log lines; and on v1, where ids must not be
    // derived.
    let sim = Sim::new(Addon::v3().requiring("syslog_drain").requiring("log_input"));
    runs.push(sim.test_all());
    let junit = sim.kensa(&["test", "all", "--format", "junit"]);
    for case in parse_junit(&junit.stdout)
        .suites
        .iter()
        .flat_map(|s| &s.cases)
    {
        let id = &case.attrs["name"];
        assert!(
            registry::find(id).is_some(),
            "JUnit names an undeclared check {id}"
        );
        seen.insert(id.clone());
    }
    runs.push(Sim::new(Addon::v1()).test_all());

    // Concurrent redelivery.
    runs.push(Sim::new(Addon::v3()).json(&["test", "provision", "--redeliver", "2"]));

    // A real plan change: its answer's body.
    runs.push(Sim::new(Addon::v3()).json(&["test", "all", "--plan", "premium"]));

    // Asynchronous, with a 202 plan change, short-lived tokens; then an injected 429.
    let sim = Sim::new(Addon::v3());
    sim.stub.always_async();
    sim.stub.misbehave(Misbehaviour::AsyncPlanChange).misbehave(
        Misbehaviour::DeprovisionCallbackDelay(std::time::Duration::from_millis(1500)),
    );
    runs.push(sim.json(&[
        "test",
        "all",
        "--plan",
        "premium",
        "--token-ttl",
        "1",
        "--async-timeout",
        "15",
    ]));
    sim.stub.settle();
    let sim = Sim::new(Addon::v3());
    sim.stub.always_async();
    runs.push(sim.json(&["test", "provision", "--inject-429", "--async-timeout", "15"]));
    sim.stub.settle();

    // The asynchronous flow, provisioning and deprovisioning.
    let sim = Sim::new(Addon::v3());
    sim.stub.always_async();
    runs.push(sim.json(&["test", "all", "--async-timeout", "15"]));
    sim.stub.settle();

    // Without a salt: `all` skips SSO, `sso` cannot sign on.
    let sim = Sim::new(Addon::v3().without_salt());
    runs.push(sim.test_all());
    runs.push(sim.json(&["test", "sso", "res-1"]));

    // A salt, but object URLs without an sso_url.
    let addon = Addon::v3();
    let stub = crate::stub::Stub::start(&addon);
    let mut manifest = addon.manifest(stub.port());
    manifest["api"]["test"]
        .as_object_mut()
        .unwrap()
        .remove("sso_url");
    let sim = Sim::with_manifest(addon, stub, &manifest);
    let run = sim.json(&["test", "sso", "res-1"]);
    run.status_of("SSO", "sso_url is set", "fail", "no sso_url");
    runs.push(run);

    // kensa run's command.
    runs.push(Sim::new(Addon::v3()).json(&["run", "--", "true"]));

    // kensa templates verify's steps.
    seen.extend(crate::verify::reported_ids());

    for run in &runs {
        // checks() asserts each is declared under its title.
        seen.extend(run.checks().into_iter().map(|c| c.id));
    }
    seen.extend(unobservable_async_provision());

    for id in &seen {
        assert!(registry::find(id).is_some(), "{id} is not declared");
    }
    let declared: BTreeSet<String> = registry::ALL.iter().map(|c| c.id.to_owned()).collect();
    let never: Vec<&String> = declared.difference(&seen).collect();
    assert!(
        never.is_empty(),
        "declared but never reported by these runs (dead, or add a run that reaches them): {never:?}"
    );
}

#[test]
fn a_title_with_a_count_is_matched_as_a_template() {
    assert_declared(
        "provision.redelivery-answers",
        "12 concurrent deliveries all answer",
    );
    assert_declared("provision.cleanup", "extra resources are deprovisioned (3)");
    assert_declared("sso.login", "good token logs in");
}

#[test]
#[should_panic(expected = "not declared in the registry")]
fn an_undeclared_check_is_caught() {
    assert_declared("provision.teleport", "teleport works");
}

#[test]
#[should_panic(expected = "its title is")]
fn a_check_reported_under_another_title_is_caught() {
    assert_declared("sso.login", "bad token logs in");
}

/// Every example `kensa explain` shows parses with its own language's tool: `node --check`
/// (as an ES module), `ruby -c`, the Clojure reader, `rustfmt --check` (which also holds
/// them to rustfmt's layout) and a JSON parser. CI installs node, ruby and clojure; a
/// missing tool fails here rather than skip.
#[test]
fn every_example_parses_in_its_language() {
    use kensa::registry::Lang;
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    let mut clojure_files = Vec::new();
    for check in registry::ALL.iter() {
        for example in check.examples {
            if !seen.insert((example.topic, example.lang.file_name())) {
                continue;
            }
            let name = format!("{}-{}", example.topic, example.lang.file_name());
            let what = format!("{} ({})", name, check.id);
            let run = |cmd: &mut Command, file: &std::path::Path| {
                let out = cmd
                    .arg(file)
                    .output()
                    .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
                assert!(
                    out.status.success(),
                    "{what} does not parse:\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            match example.lang {
                Lang::Manifest => {
                    let doc: serde_json::Value = serde_json::from_str(example.code)
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert!(doc.is_object(), "{what}");
                }
                Lang::Node => {
                    let file = dir.path().join(format!("{name}.mjs"));
                    std::fs::write(&file, example.code).unwrap();
                    run(Command::new("node").arg("--check"), &file);
                }
                Lang::Sinatra => {
                    let file = dir.path().join(&name);
                    std::fs::write(&file, example.code).unwrap();
                    run(Command::new("ruby").arg("-c"), &file);
                }
                Lang::RustAxum => {
                    let file = dir.path().join(&name);
                    std::fs::write(&file, example.code).unwrap();
                    run(
                        Command::new("rustfmt").args(["--edition", "2021", "--check"]),
                        &file,
                    );
                }
                Lang::Clojure => {
                    let file = dir.path().join(&name);
                    std::fs::write(&file, example.code).unwrap();
                    clojure_files.push(file);
                }
            }
        }
    }
    // One JVM for every Clojure example: read each file's forms to the end.
    let reader = dir.path().join("read.clj");
    std::fs::write(
        &reader,
        r#"(doseq [f *command-line-args*]
  (with-open [r (java.io.PushbackReader. (clojure.java.io/reader f))]
    (binding [*read-eval* false]
      (loop []
        (when-not (= ::eof (read {:eof ::eof :read-cond :allow} r))
          (recur))))))"#,
    )
    .unwrap();
    let out = std::process::Command::new("clojure")
        .arg(&reader)
        .args(&clojure_files)
        .output()
        .expect("clojure (Debian's package) runs the Clojure examples' check");
    assert!(
        out.status.success(),
        "a Clojure example does not read:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(seen.len() > 60, "{} examples", seen.len());
}
