//! The worker: a tokio task in the web process that runs the persisted jobs (src/jobs.rs).
//! At start it picks up every unfinished job, from the step it reached; afterwards it runs new
//! jobs as soon as they are created, and jobs waiting for a retry when they are due.
//!
//! A job is claimed with a lease in the database before it runs, so several dynos (or a
//! restarted process) never run one step twice: the grant code works once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::app::AppState;
use crate::config::CONFIG_VAR;
use crate::db::{ms, now_ms};
use crate::heroku::{self, Failure};
use crate::jobs::{self, Job, Kind, Step};
use crate::resources::{self, State};

/// On shutdown, how long to wait for the steps in flight (Heroku allows 30 s after SIGTERM).
const DRAIN: Duration = Duration::from_secs(20);

/// The running worker. Dropping it stops it at once, as a crash would; [`Worker::stop`] lets
/// the steps in flight finish first.
pub struct Worker {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Worker {
    pub fn start(state: AppState) -> Worker {
        let (stop, stopping) = watch::channel(false);
        let task = tokio::spawn(run(state, stopping));
        Worker { task, stop }
    }

    /// Claims nothing more, lets each running job finish its step and release itself.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(DRAIN, &mut self.task).await.is_err() {
            eprintln!("worker: steps still running after {DRAIN:?}; their leases will expire");
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(state: AppState, mut stopping: watch::Receiver<bool>) {
    // Dropped with this task, which aborts every job still running in it.
    let mut running = JoinSet::new();
    loop {
        if *stopping.borrow() {
            break;
        }
        claim_due_jobs(&state, &stopping, &mut running).await;
        tokio::select! {
            () = state.wakeup.notified() => {}
            () = tokio::time::sleep(state.settings.jobs.poll) => {}
            _ = stopping.changed() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

async fn claim_due_jobs(
    state: &AppState,
    stopping: &watch::Receiver<bool>,
    running: &mut JoinSet<()>,
) {
    let due = match jobs::due(&state.db, now_ms()).await {
        Ok(due) => due,
        Err(e) => {
            eprintln!("worker: cannot read jobs: {e}");
            return;
        }
    };
    for (resource_id, kind) in due {
        match jobs::claim(&state.db, &resource_id, &kind, lease_until(state)).await {
            Ok(Some(job)) => {
                running.spawn(run_job(state.clone(), job, stopping.clone()));
            }
            // Another dyno (or an earlier claim of ours) has it.
            Ok(None) => {}
            Err(e) => eprintln!("worker: cannot claim {kind} job of {resource_id}: {e}"),
        }
    }
}

fn lease_until(state: &AppState) -> i64 {
    now_ms().saturating_add(ms(state.settings.jobs.lease))
}

/// Why a step did not get done.
enum Stop {
    /// Worth another try later (network, 429, 5xx, the database).
    Retry(String, Option<Duration>),
    /// Trying again would not help.
    Fail(String),
    /// The process is shutting down: release the job for the next one.
    ShuttingDown,
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Transient { why, retry_after } => Stop::Retry(why, retry_after),
            Failure::Final(why) => Stop::Fail(why),
        }
    }
}

impl From<sqlx::Error> for Stop {
    fn from(error: sqlx::Error) -> Self {
        Stop::Retry(format!("database: {error}"), None)
    }
}

async fn run_job(state: AppState, mut job: Job, stopping: watch::Receiver<bool>) {
    let label = format!("{} {} job", job.resource_id, job.kind.as_str());
    let outcome = match job.kind {
        Kind::Provision => provision(&state, &mut job, &stopping).await,
        Kind::Deprovision => deprovision(&state, &mut job).await,
    };
    let recorded = match outcome {
        Ok(()) => {
            println!("{label}: done");
            Ok(())
        }
        Err(Stop::ShuttingDown) => jobs::release(&state.db, &job).await,
        Err(Stop::Retry(why, _)) if job.attempts >= state.settings.jobs.max_attempts => {
            fail(
                &state,
                &job,
                &format!("{why} (gave up after {} tries)", job.attempts),
                &label,
            )
            .await
        }
        Err(Stop::Retry(why, retry_after)) => {
            let wait = state
                .settings
                .jobs
                .backoff(job.attempts)
                .max(retry_after.unwrap_or_default());
            eprintln!("{label}: {why}; trying again in {wait:?}");
            jobs::retry_later(&state.db, &job, &why, now_ms().saturating_add(ms(wait))).await
        }
        Err(Stop::Fail(why)) => fail(&state, &job, &why, &label).await,
    };
    if let Err(e) = recorded {
        // The lease runs out and the job is tried again.
        eprintln!("{label}: cannot record the outcome: {e}");
    }
}

async fn fail(state: &AppState, job: &Job, why: &str, label: &str) -> Result<(), sqlx::Error> {
    eprintln!("{label} failed: {why}");
    let mut tx = state.db.begin().await?;
    jobs::finish(&mut *tx, job, Step::Failed, Some(why)).await?;
    if job.kind == Kind::Provision {
        resources::transition(
            &mut *tx,
            &job.resource_id,
            State::Provisioning,
            State::Failed,
        )
        .await?;
    }
    tx.commit().await
}

/// Grant exchange, config, provision action: each step recorded as it is done.
async fn provision(
    state: &AppState,
    job: &mut Job,
    stopping: &watch::Receiver<bool>,
) -> Result<(), Stop> {
    let (db, cipher) = (&state.db, &state.settings.cipher);
    loop {
        if *stopping.borrow() {
            return Err(Stop::ShuttingDown);
        }
        let resource = resources::find(db, &job.resource_id)
            .await?
            .ok_or_else(|| Stop::Fail("the resource is gone".into()))?;
        if resource.state == State::Deprovisioned {
            return Err(Stop::Fail(
                "deprovisioned before provisioning finished".into(),
            ));
        }
        match job.step {
            Step::Accepted => {
                let code = job
                    .grant_code(cipher)
                    .map_err(Stop::Fail)?
                    .ok_or_else(|| Stop::Fail("no grant code to exchange".into()))?;
                let tokens = heroku::exchange_grant(
                    &state.http,
                    &job.identity_url,
                    client_secret(state)?,
                    &code,
                )
                .await?;
                jobs::advance(
                    db,
                    cipher,
                    job,
                    Step::GrantExchanged,
                    Some(&tokens),
                    lease_until(state),
                )
                .await?;
            }
            Step::GrantExchanged => {
                let token = fresh_token(state, job).await?;
                let url = resource
                    .config_url(cipher)
                    .map_err(Stop::Fail)?
                    .ok_or_else(|| Stop::Fail("the resource has no credentials".into()))?;
                heroku::set_config(
                    &state.http,
                    &job.callback_url,
                    &token,
                    &[(CONFIG_VAR, &url)],
                )
                .await?;
                jobs::advance(db, cipher, job, Step::ConfigSet, None, lease_until(state)).await?;
            }
            Step::ConfigSet => {
                let token = fresh_token(state, job).await?;
                heroku::mark_provisioned(&state.http, &job.callback_url, &token).await?;
                // Both or neither: a crash in between must not leave a job that is done for a
                // resource still provisioning.
                let mut tx = db.begin().await?;
                resources::transition(
                    &mut *tx,
                    &job.resource_id,
                    State::Provisioning,
                    State::Provisioned,
                )
                .await?;
                jobs::finish(&mut *tx, job, Step::Done, None).await?;
                tx.commit().await?;
                return Ok(());
            }
            Step::Done | Step::Failed => return Ok(()),
        }
        println!("{} provision job: {}", job.resource_id, job.step.as_str());
    }
}

/// Tells Heroku that a deprovisioned add-on is gone.
async fn deprovision(state: &AppState, job: &mut Job) -> Result<(), Stop> {
    let token = fresh_token(state, job).await?;
    heroku::mark_deprovisioned(&state.http, &job.callback_url, &token).await?;
    jobs::finish(&state.db, job, Step::Done, None).await?;
    Ok(())
}

/// The job's access token, refreshed first (and the new tokens stored) when it has expired or
/// is about to: a deprovision may come months after the grant.
async fn fresh_token(state: &AppState, job: &mut Job) -> Result<String, Stop> {
    let cipher = &state.settings.cipher;
    let tokens = job
        .tokens(cipher)
        .map_err(Stop::Fail)?
        .ok_or_else(|| Stop::Fail("no access token".into()))?;
    if !tokens.needs_refresh() {
        return Ok(tokens.access_token);
    }
    let refresh_token = tokens.refresh_token.ok_or_else(|| {
        Stop::Fail("the access token expired and there is no refresh token".into())
    })?;
    let fresh = heroku::refresh(
        &state.http,
        &job.identity_url,
        client_secret(state)?,
        &refresh_token,
    )
    .await?;
    jobs::store_tokens(&state.db, cipher, job, &fresh).await?;
    println!(
        "{} {} job: access token refreshed",
        job.resource_id,
        job.kind.as_str()
    );
    Ok(fresh.access_token)
}

fn client_secret(state: &AppState) -> Result<&str, Stop> {
    state
        .settings
        .client_secret
        .as_deref()
        .ok_or_else(|| Stop::Fail("HEROKU_CLIENT_SECRET is not set".into()))
}
