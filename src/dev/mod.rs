//! `kensa dev`: the provider's development loop. It runs the service from the Procfile
//! ([`service`]), a local Heroku that lasts the whole session and is saved in
//! `.kensa/dev/` ([`session`], on the simulator's fake Heroku), a console in the browser
//! ([`console`], the page in `console.html`), keys in the terminal ([`keys`]) and, with
//! `--watch`, a restart and `test all` on every source change ([`watch`]).
//!
//! It composes features (the simulator, `kensa sso`'s sign-in page) rather than being one:
//! `tests/cli/architecture.rs` lets it use them, and nothing use it but the command line.

pub mod console;
pub mod keys;
pub mod service;
pub mod session;
pub mod timeline;
pub mod watch;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::error::UsageError;
use crate::manifest::Manifest;
use crate::output::{BOLD, DIM};
use crate::{browser, interrupt};
use session::{Session, Settings};

/// What `kensa dev` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The service's port, instead of the manifest's test port (the test URLs follow).
    pub port: Option<u16>,
    /// The console's port (0: a free one).
    pub console_port: u16,
    /// Do not open the console in a browser.
    pub no_open: bool,
    /// Restart the service and run `test all` when a source file changes.
    pub watch: bool,
    /// The plan `p` provisions.
    pub plan: String,
    pub timeout: Duration,
    pub async_timeout: Duration,
    /// How long the service may take to answer after a start.
    pub start_timeout: Duration,
}

pub fn run(manifest_path: &Path, opts: Options) -> Result<ExitCode> {
    let mut manifest = Manifest::load(manifest_path)?;
    if let Some(port) = opts.port {
        manifest.retarget_test_port(port);
    }
    if manifest.endpoint(false).is_none() {
        return Err(UsageError::new(format!(
            "{}: api.test is missing or is neither a root URL nor {{base_url, sso_url}}; kensa dev needs the test URLs",
            manifest_path.display()
        ))
        .into());
    }
    interrupt::catch();
    let settings = Settings {
        manifest_path: manifest_path.to_owned(),
        manifest,
        plan: opts.plan.clone(),
        timeout: opts.timeout,
        async_timeout: opts.async_timeout,
        start_wait: opts.start_timeout,
    };
    let session = Session::open(settings, Arc::new(say))?;
    let console = console::start(session.clone(), opts.console_port)
        .map_err(|e| anyhow::anyhow!("cannot serve the console on 127.0.0.1: {e}"))?;
    let name = session
        .settings
        .manifest
        .name()
        .or(session.settings.manifest.id())
        .unwrap_or("your add-on")
        .to_owned();
    print_line(&format!(
        "\n  {BOLD}kensa dev{BOLD:#} · {name}\n  ➜ console:     {BOLD}{}{BOLD:#}\n  ➜ service:     http://localhost:{} ({DIM}Procfile web, .env, PORT={}{DIM:#})\n  ➜ local Heroku: {} {DIM}(state in {}){DIM:#}\n",
        console.url,
        session.port(),
        session.port(),
        session.heroku.base_url(),
        crate::state::dev_dir(manifest_path).display(),
    ));
    match session.start_service() {
        Ok(()) => say(&format!("the service answers on port {}", session.port())),
        Err(e) => say(&format!(
            "{e}\n(fix it and press r, or save a file with --watch)"
        )),
    }
    if !opts.no_open {
        browser::launch(&console.url);
    }

    let (key_to, keys_in) = channel();
    let keys = keys::Keys::start(key_to);
    if keys.is_some() {
        print_line(&format!("  {DIM}{}{DIM:#}", keys::HELP));
    } else {
        print_line(&format!(
            "  {DIM}no terminal: stop with Ctrl-C or SIGTERM; act through the console{DIM:#}"
        ));
    }
    let (change_to, changes) = channel();
    let _watch = if opts.watch {
        let root = crate::fsutil::parent_of(manifest_path);
        match watch::start(&root, change_to) {
            Ok(w) => {
                say(&format!("watching {} for changes", root.display()));
                Some(w)
            }
            Err(e) => {
                say(&format!("cannot watch for changes: {e}"));
                None
            }
        }
    } else {
        None
    };

    let mut loop_state = Loop {
        session: &session,
        console: &console,
        entering_plan: None,
        restarting: Arc::default(),
    };
    loop_state.run(&keys_in, &changes);
    drop(keys);
    say("stopping…");
    session.end();
    session.wait_for_streams(Duration::from_secs(1));
    say(&format!(
        "stopped; the local Heroku's resources and calls are kept in {}",
        crate::state::dev_dir(manifest_path).display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// How often the main loop looks at Ctrl-C, the session's end and file changes.
const TICK: Duration = Duration::from_millis(100);

/// The main loop's state: keys, file changes, and the way out.
struct Loop<'a> {
    session: &'a Arc<Session>,
    console: &'a console::Console,
    /// The plan typed so far after `c`.
    entering_plan: Option<String>,
    /// A restart for `--watch` is under way.
    restarting: Arc<AtomicBool>,
}

impl Loop<'_> {
    fn run(&mut self, keys: &Receiver<char>, changes: &Receiver<Vec<PathBuf>>) {
        loop {
            if interrupt::interrupted() || self.session.ending() {
                return;
            }
            match keys.recv_timeout(TICK) {
                Ok(key) => {
                    if !self.key(key) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // No terminal (or its reader ended): recv_timeout returns at once from now
                // on, so wait the tick here, or this loop spins a core.
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
            }
            let mut changed: Vec<PathBuf> = Vec::new();
            while let Ok(batch) = changes.try_recv() {
                changed.extend(batch);
            }
            // What the service itself writes while it starts is not a change to act on.
            if self.restarting.load(Ordering::SeqCst) {
                continue;
            }
            changed.sort_by_key(|p| p.extension().is_none());
            changed.dedup();
            if let Some(first) = changed.first() {
                say(&format!(
                    "{} changed{}: restarting the service, then test all",
                    first.display(),
                    if changed.len() > 1 {
                        format!(" (and {} more)", changed.len() - 1)
                    } else {
                        String::new()
                    }
                ));
                let restarting = self.restarting.clone();
                restarting.store(true, Ordering::SeqCst);
                background(self.session, move |s| {
                    let started = s.start_service();
                    // Changes it made while starting arrive one debounce later: let them pass.
                    std::thread::sleep(watch::DEBOUNCE * 2);
                    restarting.store(false, Ordering::SeqCst);
                    match started {
                        Ok(()) => {
                            say(&format!("the service answers on port {}", s.port()));
                            let _ = s.test_all();
                        }
                        Err(e) => say(&e.to_string()),
                    }
                });
            }
        }
    }

    /// Handles one key; `false` ends the session.
    fn key(&mut self, key: char) -> bool {
        if let Some(plan) = self.entering_plan.as_mut() {
            match key {
                '\r' | '\n' => {
                    let plan = plan.trim().to_owned();
                    self.entering_plan = None;
                    print_raw("\n");
                    if plan.is_empty() {
                        say("no plan given: nothing changed");
                    } else {
                        background(self.session, move |s| {
                            if let Err(e) = s.plan_change(None, &plan) {
                                say(&format!("plan change failed: {e:#}"));
                            }
                        });
                    }
                }
                '\u{1b}' => {
                    self.entering_plan = None;
                    print_raw("\n");
                    say("plan change cancelled");
                }
                '\u{7f}' | '\u{8}' if plan.pop().is_some() => print_raw("\u{8} \u{8}"),
                c if !c.is_control() && plan.len() < 100 => {
                    plan.push(c);
                    print_raw(&c.to_string());
                }
                _ => {}
            }
            return true;
        }
        match key {
            'q' | '\u{3}' | '\u{4}' => return false,
            't' => background(self.session, |s| {
                say("running test all…");
                if let Err(e) = s.test_all() {
                    say(&format!("test all could not run: {e:#}"));
                }
            }),
            'p' => {
                let plan = self.session.settings.plan.clone();
                background(self.session, move |s| {
                    if let Err(e) = s.provision(&plan, &Default::default()) {
                        say(&format!("provisioning failed: {e:#}"));
                    }
                });
            }
            's' => match self.session.resource(None) {
                Ok(r) => {
                    let address = format!(
                        "http://127.0.0.1:{}/sso/{}?token={}",
                        self.console.port, r.uuid, self.console.token
                    );
                    say(&format!(
                        "signing in to {} in the browser: {address}",
                        r.id.as_deref().unwrap_or(&r.uuid)
                    ));
                    // A browser command may take seconds to say it failed: not on this loop.
                    std::thread::spawn(move || browser::launch(&address));
                }
                Err(e) => say(&e.to_string()),
            },
            'c' => match self.session.resource(None) {
                Ok(r) => {
                    print_raw(&format!(
                        "  new plan for {} (now {}; Enter to change, Esc to cancel): ",
                        r.id.as_deref().unwrap_or(&r.uuid),
                        r.plan
                    ));
                    self.entering_plan = Some(String::new());
                }
                Err(e) => say(&e.to_string()),
            },
            'd' => background(self.session, |s| {
                if let Err(e) = s.deprovision(None) {
                    say(&format!("deprovisioning failed: {e:#}"));
                }
            }),
            'r' => background(self.session, |s| {
                say("restarting the service…");
                match s.start_service() {
                    Ok(()) => say(&format!("the service answers on port {}", s.port())),
                    Err(e) => say(&e.to_string()),
                }
            }),
            'o' => {
                let url = self.console.url.clone();
                std::thread::spawn(move || browser::launch(&url));
            }
            '\n' | '\r' | ' ' => {}
            _ => print_line(&format!("  {DIM}{}{DIM:#}", keys::HELP)),
        }
        true
    }
}

/// Runs an action off the main loop, so keys (and `q`) still work meanwhile.
fn background(session: &Arc<Session>, action: impl FnOnce(&Session) + Send + 'static) {
    let session = session.clone();
    std::thread::spawn(move || action(&session));
}

/// Prints a line of kensa's (`kensa │ …`) or, for lines the service sink marks, of the
/// service's (`web   │ …`), as [`crate::output::visible`] shows text.
fn say(line: &str) {
    let (who, text) = match line.strip_prefix("\u{0}web\u{0}") {
        Some(text) => ("web  ", text),
        None => ("kensa", line),
    };
    // What a provider said (a refusal quoted in a failure) is shown, never obeyed by the
    // terminal, and no secret it quotes is.
    let text = crate::output::visible(text);
    let mut out = String::new();
    for part in text.lines() {
        out.push_str(&format!("{DIM}{who} │{DIM:#} {part}\n"));
    }
    print_raw(&out);
}

fn print_line(text: &str) {
    print_raw(&format!("{text}\n"));
}

fn print_raw(text: &str) {
    let mut out = anstream::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
