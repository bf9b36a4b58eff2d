//! `kensa templates verify`: the steps that bring a template's project to the point where
//! `kensa test all` can run against it, each a check of its own. A title's `{n}` is the
//! command the template declares in `template.toml` `[commands]`.

use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const KENSA: Source = Source {
    protocol: Anchor::HowKensaSimulatesHeroku,
    heroku: None,
};

pub static GENERATE: CheckDef = CheckDef {
    id: "template.generate",
    title: "the template renders into a project",
    severity: Requirement,
    row: 77,
    rule: "`kensa create` renders the template with its variables' defaults, the manifest and the .env into a new project.",
    source: KENSA,
    why: "A template that does not render gives its users nothing to start from.",
    fix: "Read the rendering error: it names the file and the undefined variable or bad syntax.",
    examples: &[],
};

pub static INSTALL: CheckDef = CheckDef {
    id: "template.install",
    title: "install: {n}",
    severity: Requirement,
    row: 77,
    rule: "The `install` command of template.toml [commands] exits 0 within its deadline in the generated project.",
    source: KENSA,
    why: "It is the first command the project's README and `kensa create` give its users.",
    fix: "Run the command in a project `kensa create` generated and read its output; declare a longer [timeouts] install when a first install is slow.",
    examples: &[],
};

pub static UNIT_TESTS: CheckDef = CheckDef {
    id: "template.unit-tests",
    title: "unit tests: {n}",
    severity: Requirement,
    row: 77,
    rule: "The `test` command of template.toml [commands] (the project's own tests) exits 0 within its deadline.",
    source: KENSA,
    why: "A generated project whose own tests fail leaves its users to debug the template before their add-on.",
    fix: "Run the command in a generated project and fix what its output names.",
    examples: &[],
};

pub static RELEASE: CheckDef = CheckDef {
    id: "template.release",
    title: "release: {n}",
    severity: Requirement,
    row: 77,
    rule: "The `release` command of template.toml [commands] (the migrations the Procfile's release: line runs) exits 0 within its deadline, with the .env loaded.",
    source: KENSA,
    why: "Heroku runs the release phase before every deploy; when it fails, the new version never serves.",
    fix: "Run the command in a generated project with its .env loaded and fix what its output names.",
    examples: &[],
};

pub static START: CheckDef = CheckDef {
    id: "template.start",
    title: "start: {n}",
    severity: Requirement,
    row: 77,
    rule: "The `start` command of template.toml [commands] (else the Procfile's web: line), run with the .env and PORT, accepts connections on PORT within its deadline.",
    source: KENSA,
    why: "kensa and Heroku can only call a service that listens on the port they give it.",
    fix: "Listen on $PORT; read the service's last lines in the failure; declare a longer [timeouts] start when it compiles or warms up first.",
    examples: &[],
};

pub static TEST_ALL: CheckDef = CheckDef {
    id: "template.test-all",
    title: "kensa test all against the service",
    severity: Requirement,
    row: 77,
    rule: "`kensa test all` runs against the started service; its own checks follow this one.",
    source: KENSA,
    why: "The protocol checks are what the verification is for.",
    fix: "Fix the step that kept the service from starting.",
    examples: &[],
};

pub static STOP: CheckDef = CheckDef {
    id: "template.stop",
    title: "the service stops on SIGTERM",
    severity: Advice,
    row: 78,
    rule: "The service ran in the foreground until kensa stopped it, left no process outside its process group, and its whole group exited within the grace period after SIGTERM.",
    source: KENSA,
    why: "Heroku restarts dynos at least daily with SIGTERM and kills them 30 seconds later; a service that ignores SIGTERM loses the requests in flight.",
    fix: "Let the web process end on SIGTERM (finish or refuse requests in flight, close the database) and forward the signal to any child it starts (`exec` in shell scripts); run it in the foreground, never daemonised (`&`, `nohup`, `setsid`, a daemon option).",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[
    &GENERATE,
    &INSTALL,
    &UNIT_TESTS,
    &RELEASE,
    &START,
    &TEST_ALL,
    &STOP,
];
