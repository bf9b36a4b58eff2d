import { randomUUID } from 'node:crypto';
import { CONFIG_VAR } from './config.js';
import { hashToken, newApiToken } from './crypto.js';
import * as jobs from './models/jobs.js';
import * as resources from './models/resources.js';
import { ASYNC_PLAN } from './plans.js';

// What provisioning, plan change and deprovisioning do to the database, apart from HTTP
// (src/routes/partner.js speaks HTTP; src/worker.js does the asynchronous half).

export class Provisioning {
  // wake(): tells the job worker there is work (a new job, or a deprovision to report).
  constructor({ db, box, wake = () => {}, asyncDelaySeconds = 0 }) {
    Object.assign(this, { db, box, wake, asyncDelaySeconds });
  }

  // The config var: the resource API's URL with the resource's credentials in its userinfo
  // (https://<id>:<token>@host/api/resource), like DATABASE_URL. The token is kept sealed, so
  // a redelivered request, or the job after a restart, hands Heroku the same value again.
  configFor(resource, token = this.box.open(resource.tokenSealed, `api_token:${resource.id}`)) {
    const url = new URL('/api/resource', `${resource.baseUrl}/`);
    url.username = resource.id;
    url.password = token;
    return { [CONFIG_VAR]: url.href };
  }

  // request: { uuid, plan, region, name, herokuId, options, baseUrl, callbackUrl, identityUrl,
  // grant: { code, expiresAt } }. Returns { outcome, resource, config }, outcome one of:
  //   created / existing   the resource works: answer with its config
  //   accepted             asynchronous: answer 202, the worker finishes it
  //   gone                 this uuid was deprovisioned: 410
  async provision(request) {
    const id = randomUUID(); // the provider's own id, never derived from anything Heroku sent
    const token = newApiToken();
    const isAsync = request.plan === ASYNC_PLAN;
    const { resource, created } = await this.db.transaction(async (tx) => {
      const found = await resources.insertOrFind(tx, {
        id,
        uuid: request.uuid,
        herokuId: request.herokuId,
        plan: request.plan,
        region: request.region,
        name: request.name,
        options: request.options,
        state: isAsync ? 'provisioning' : 'provisioned',
        async: isAsync,
        baseUrl: request.baseUrl,
        tokenHash: hashToken(token),
        tokenSealed: this.box.seal(token, `api_token:${id}`),
      });
      // In the same transaction: an asynchronous resource never exists without its job.
      if (found.created && isAsync) {
        await jobs.create(tx, {
          resourceId: id,
          callbackUrl: request.callbackUrl,
          identityUrl: request.identityUrl,
          grantCodeSealed: this.box.seal(request.grant.code, `grant_code:${id}`),
          grantExpiresAt: request.grant.expiresAt,
          delaySeconds: this.asyncDelaySeconds,
        });
      }
      return found;
    });

    if (resource.state === 'deprovisioned') return { outcome: 'gone', resource };
    if (resource.async && resource.state !== 'provisioned') {
      // A redelivery that finds the job failed starts it again (with its new grant code).
      const restarted = resource.state === 'failed' && await this.#retry(resource, request);
      if (restarted) resource.state = 'provisioning';
      if (created || restarted) this.wake();
      return { outcome: 'accepted', resource };
    }
    return {
      outcome: created ? 'created' : 'existing',
      resource,
      config: created ? this.configFor(resource, token) : this.configFor(resource),
    };
  }

  #retry(resource, request) {
    const grant = request.grant && {
      grantCodeSealed: this.box.seal(request.grant.code, `grant_code:${resource.id}`),
      grantExpiresAt: request.grant.expiresAt,
    };
    return this.db.transaction(async (tx) => {
      const restarted = await jobs.retryFailed(tx, resource.id, grant ?? {});
      if (restarted) await resources.setState(tx, resource.id, 'provisioning', ['failed']);
      return restarted;
    });
  }

  // Returns { outcome, resource }: changed / unchanged / missing (404) / gone (410).
  async changePlan(id, plan) {
    const current = await resources.findById(this.db, id);
    if (!current) return { outcome: 'missing' };
    if (current.state === 'deprovisioned') return { outcome: 'gone', resource: current };
    if (current.plan === plan) return { outcome: 'unchanged', resource: current };
    const changed = await resources.changePlan(this.db, id, plan);
    return changed ? { outcome: 'changed', resource: changed } : { outcome: 'gone', resource: current };
  }

  // Revokes the resource's credentials at once. Returns { outcome }: done (204), accepted (202:
  // asynchronous, the worker calls back actions/deprovision), missing (404) or gone (410).
  async deprovision(id) {
    const outcome = await this.db.transaction(async (tx) => {
      const resource = await resources.deprovision(tx, id);
      if (!resource) return (await resources.findById(tx, id)) ? 'gone' : 'missing';
      return resource.async && await jobs.requestDeprovision(tx, id) ? 'accepted' : 'done';
    });
    if (outcome === 'accepted') this.wake();
    return { outcome };
  }
}
