//! Integration tests, one crate, one module per concern. Most run the built `kensa` binary
//! through `harness` and check what it prints, its exit status and the files it leaves
//! behind. Four look inside instead: `properties` drives the library with generated input,
//! `simulator_checks` and `registry` call a check through the library where the stub cannot
//! serve the case, and `architecture` reads `src/` for its import graph. Others borrow
//! library helpers only to state what they expect (the registry's ids and titles, the SSO
//! token computation, the command line for `--help`).

mod harness;

mod create;
mod create_safety;
mod discovery;
mod git_sources;
mod help;
mod init;
mod lifecycle;
mod readme;
mod template_kinds;
mod templates;
mod verify;
mod wizard;

mod dev;
mod simulator;
mod simulator_async;
mod simulator_checks;
mod stub;
mod verdicts;

mod platform;
mod signin;

mod architecture;
mod bad_input;
mod ecosystem;
mod hardening;
mod last_resource;
mod properties;
mod registry;
