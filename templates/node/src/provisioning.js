import { setImmediate as nextTurn } from 'node:timers/promises';

// The plan that provisions asynchronously: the provision request is answered 202 at once and the
// resource is finished in the background through Heroku's API (PROTOCOL.md 5).
export const ASYNC_PLAN = 'async';

const QUIET = { log() {}, error() {} };

// Runs the background half of asynchronous provisioning and deprovisioning. Each job starts on a
// later turn of the event loop, after the 202 has been written, and never rejects: failures are
// logged (without secrets) and recorded on the resource as state "failed".
export class AsyncProvisioner {
  #jobs = new Map(); // resource id → promise of the access token the job ended with

  constructor({ store, heroku, configFor, logger = QUIET }) {
    this.store = store;
    this.heroku = heroku;
    this.configFor = configFor;
    this.logger = logger;
  }

  // Starts provisioning `resource` (stored with callbackUrl and state "provisioning"), unless a
  // job for it is already running: concurrent redeliveries start it once. Returns whether it started.
  start(resource, grantCode) {
    if (this.#jobs.has(resource.id)) return false;
    this.#track(resource.id, this.#provision(resource, grantCode));
    return true;
  }

  // Tells Heroku that `resource`, already removed from the store, is gone. If its provisioning is
  // still running, waits for it, so the token it gets can be used.
  deprovision(resource) {
    const pending = this.#jobs.get(resource.id);
    this.#track(resource.id, this.#deprovision(resource, pending));
  }

  // Resolves once no job is running: used on shutdown and by tests.
  async settled() {
    while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs.values()]);
  }

  #track(id, job) {
    this.#jobs.set(id, job);
    job.finally(() => {
      if (this.#jobs.get(id) === job) this.#jobs.delete(id);
    });
  }

  async #provision(resource, grantCode) {
    await nextTurn();
    const { id, callbackUrl } = resource;
    const { store, heroku, logger } = this;
    let accessToken = resource.accessToken;
    try {
      if (!(await store.update(id, { state: 'provisioning' }))) return accessToken; // deprovisioned meanwhile
      // 1. The grant code works once: a resource retried after a later step failed reuses its token.
      if (!accessToken) {
        const tokens = await heroku.exchangeGrant(callbackUrl, grantCode);
        accessToken = tokens.accessToken;
        const kept = await store.update(id, { accessToken, refreshToken: tokens.refreshToken });
        if (!kept) return accessToken; // deprovisioned meanwhile
      }
      // 2. The config var, set on the app through the Platform API.
      await heroku.setConfig(callbackUrl, accessToken, this.configFor(resource));
      if (!(await store.findById(id))) return accessToken;
      // 3. Done: Heroku marks the add-on provisioned.
      await heroku.action(callbackUrl, accessToken, 'provision');
      await store.update(id, { state: 'provisioned' });
      logger.log(`async provision of ${id}: done`);
    } catch (err) {
      logger.error(`async provision of ${id} failed: ${err.message}`);
      await Promise.resolve(store.update(id, { state: 'failed' })).catch(() => {});
    }
    return accessToken;
  }

  async #deprovision(resource, pending) {
    await nextTurn();
    const { id, callbackUrl } = resource;
    try {
      const accessToken = (pending && (await pending)) ?? resource.accessToken;
      if (!accessToken) {
        throw new Error('no access token (the grant was never exchanged), so actions/deprovision cannot be called');
      }
      await this.heroku.action(callbackUrl, accessToken, 'deprovision');
      this.logger.log(`async deprovision of ${id}: done`);
    } catch (err) {
      this.logger.error(`async deprovision of ${id} failed: ${err.message}`);
    }
  }
}
