import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import * as jobs from './models/jobs.js';
import * as resources from './models/resources.js';

// Runs the asynchronous (v3) provisioning jobs in the web process
// (https://devcenter.heroku.com/articles/add-on-partner-api-reference#asynchronous-provisioning):
//
//   accepted --exchange the grant--> grant_exchanged --PATCH config--> config_set
//            --POST actions/provision--> done
//
// and, once Heroku deprovisions an asynchronous resource, POST actions/deprovision. Every step
// is saved as it completes, so a restarted process resumes a job from the step it reached (a
// grant code works once and is never exchanged twice). The worker polls the database for due
// jobs (and is woken at once when a request creates one): on start it resumes every unfinished
// job, and on several dynos each job runs in one of them (a lease, see models/jobs.js).
// Failures of Heroku's API (network, timeouts, 429, 5xx) are retried with exponential backoff,
// honouring Retry-After; anything else, or too many attempts, fails the job with its reason.
// Before each call to the Platform API an access token within a minute of expiry is refreshed.

const REFRESH_MARGIN_MS = 60_000;
const QUIET = { log() {}, error() {} };

// A failure that retrying cannot fix.
class JobFailure extends Error {}

export class JobWorker {
  #timer;
  #running = Promise.resolve();
  #ticking = false;
  #again = false;
  #stopped = true;

  constructor({
    db, box, heroku, configFor, logger = QUIET,
    pollMs = 2_000, leaseMs = 60_000, maxAttempts = 8, baseDelayMs = 1_000, maxDelayMs = 5 * 60_000, batch = 8,
  }) {
    Object.assign(this, { db, box, heroku, configFor, logger, pollMs, leaseMs, maxAttempts, baseDelayMs, maxDelayMs, batch });
    this.owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  // Starts polling; the first poll (now) resumes whatever an earlier process left unfinished.
  start() {
    this.#stopped = false;
    this.#schedule(0);
  }

  // A job was created or became due: poll now rather than at the next tick.
  wake() {
    if (!this.#stopped) this.#schedule(0);
  }

  // Stops polling and waits for the jobs in flight (each call has a deadline).
  async stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  // Runs every job due now, until none is left; resolves with how many runs there were.
  async runDue() {
    let runs = 0;
    for (;;) {
      const due = await jobs.claimDue(this.db, this.owner, this.leaseMs, this.batch);
      if (due.length === 0) return runs;
      await Promise.all(due.map((job) => this.#run(job)));
      runs += due.length;
    }
  }

  #schedule(ms) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  async #tick() {
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = true;
    this.#running = this.runDue().catch((err) => this.logger.error(`async jobs: ${err.message}`));
    await this.#running;
    this.#ticking = false;
    if (!this.#stopped) this.#schedule(this.#again ? 0 : this.pollMs);
    this.#again = false;
  }

  async #run(job) {
    try {
      if (job.deprovision === 'pending') await this.#deprovision(job);
      else await this.#provision(job);
    } catch (err) {
      await this.#failed(job, err).catch((e) => this.logger.error(`async job ${job.resourceId}: ${e.message}`));
    }
  }

  #save(job, changes, options = {}) {
    return jobs.save(this.db, job, this.owner, changes, { leaseMs: this.leaseMs, ...options });
  }

  async #provision(job) {
    const id = job.resourceId;
    if (job.step === 'accepted') {
      if (!(await this.#exchangeGrant(job))) return;
    }
    // Deprovisioned meanwhile: provisioning stops here, and the deprovision callback (if
    // Heroku's DELETE asked for one) runs next.
    const resource = await resources.findById(this.db, id);
    if (!resource || resource.state === 'deprovisioned') {
      await this.#save(job, { step: 'failed', lastError: 'deprovisioned before provisioning finished' }, { release: true });
      return;
    }
    if (job.step === 'grant_exchanged') {
      const token = await this.#accessToken(job);
      await this.heroku.setConfig(job.callbackUrl, token, this.configFor(resource));
      if (!(await this.#save(job, { step: 'config_set', attempts: 0, lastError: null }))) return;
    }
    if (job.step === 'config_set') {
      const token = await this.#accessToken(job);
      await this.heroku.action(job.callbackUrl, token, 'provision');
      await this.db.transaction(async (tx) => {
        if (await jobs.save(tx, job, this.owner, { step: 'done', attempts: 0, lastError: null }, { release: true })) {
          await resources.setState(tx, id, 'provisioned', ['provisioning']);
        }
      });
      this.logger.log(`async provision of ${id}: done`);
    }
  }

  async #deprovision(job) {
    const id = job.resourceId;
    if (!job.accessTokenSealed) {
      // Deprovisioned before the grant was exchanged: exchange it now for a token to report with.
      if (job.step !== 'accepted' || !(await this.#exchangeGrant(job))) {
        throw new JobFailure('no access token to call actions/deprovision with');
      }
    }
    const token = await this.#accessToken(job);
    await this.heroku.action(job.callbackUrl, token, 'deprovision');
    await this.#save(job, { deprovision: 'done', attempts: 0, lastError: null }, { release: true });
    this.logger.log(`async deprovision of ${id}: done`);
  }

  // Step 1: the grant code for tokens. Returns false when the job was lost to another process.
  async #exchangeGrant(job) {
    const id = job.resourceId;
    if (!job.grantCodeSealed) throw new JobFailure('no grant code to exchange');
    if (job.grantExpiresAt && job.grantExpiresAt.getTime() <= Date.now()) {
      throw new JobFailure('the grant code expired before it could be exchanged');
    }
    const code = this.box.open(job.grantCodeSealed, `grant_code:${id}`);
    const tokens = await this.heroku.exchangeGrant(job.identityUrl, code);
    return this.#save(job, {
      step: job.step === 'accepted' ? 'grant_exchanged' : job.step,
      grantCodeSealed: null, // it works once
      ...this.#sealTokens(id, tokens, undefined),
      attempts: 0,
      lastError: null,
    });
  }

  // The access token, refreshed first when it expires within a minute.
  async #accessToken(job) {
    const id = job.resourceId;
    const expiresAt = job.accessTokenExpiresAt?.getTime();
    if (expiresAt === undefined || expiresAt - Date.now() > REFRESH_MARGIN_MS) {
      return this.box.open(job.accessTokenSealed, `access_token:${id}`);
    }
    if (!job.refreshTokenSealed) throw new JobFailure('the access token expired and there is no refresh token');
    const refreshToken = this.box.open(job.refreshTokenSealed, `refresh_token:${id}`);
    const tokens = await this.heroku.refresh(job.identityUrl, refreshToken);
    if (!(await this.#save(job, this.#sealTokens(id, tokens, job.refreshTokenSealed)))) {
      throw new Error('the job was taken over by another process');
    }
    this.logger.log(`async job ${id}: access token refreshed`);
    return tokens.accessToken;
  }

  #sealTokens(id, { accessToken, refreshToken, expiresIn }, previousRefreshSealed) {
    return {
      accessTokenSealed: this.box.seal(accessToken, `access_token:${id}`),
      // A refresh answer may leave the refresh token out: the old one stays valid then.
      refreshTokenSealed: refreshToken ? this.box.seal(refreshToken, `refresh_token:${id}`) : previousRefreshSealed ?? null,
      accessTokenExpiresAt: expiresIn === undefined ? null : new Date(Date.now() + expiresIn * 1000),
    };
  }

  // Retry later, or give up: the reason is logged and kept in last_error (never a secret: the
  // errors name URLs without credentials, statuses and Heroku's messages).
  async #failed(job, err) {
    const id = job.resourceId;
    const what = job.deprovision === 'pending' ? 'deprovision' : `provision (step ${job.step})`;
    const attempts = job.attempts + 1;
    const retry = !(err instanceof JobFailure) && err.retryable !== false && attempts < this.maxAttempts;
    if (retry) {
      const backoff = Math.min(this.baseDelayMs * 2 ** (attempts - 1), this.maxDelayMs);
      const delay = Math.min(Math.max(err.retryAfterMs ?? 0, backoff), 60 * 60_000);
      this.logger.error(`async ${what} of ${id} failed (attempt ${attempts}, next in ${Math.round(delay / 1000)} s): ${err.message}`);
      await this.#save(job, { attempts, lastError: err.message }, { release: true, runInMs: delay });
      return;
    }
    this.logger.error(`async ${what} of ${id} failed for good: ${err.message}`);
    if (job.deprovision === 'pending') {
      await this.#save(job, { deprovision: 'failed', attempts, lastError: err.message }, { release: true });
      return;
    }
    await this.db.transaction(async (tx) => {
      if (await jobs.save(tx, job, this.owner, { step: 'failed', attempts, lastError: err.message }, { release: true })) {
        await resources.setState(tx, id, 'failed', ['provisioning']);
      }
    });
  }
}
