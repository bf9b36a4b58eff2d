//! Integration tests: they run the built `kensa` binary and check what it prints, its exit
//! status and the files it leaves behind. One crate, one module per concern.

mod support;

mod create;
mod init;
mod templates;
mod wizard;

mod simulator;
mod simulator_async;
mod simulator_checks;
mod stub;

mod platform;
mod signin;

mod architecture;
mod bad_input;
mod ecosystem;
mod properties;
