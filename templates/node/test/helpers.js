import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { ADDON_ID } from '../src/config.js';
import { openDatabase } from '../src/db.js';
import { HerokuClient } from '../src/heroku.js';
import { migrate } from '../src/migrate.js';

export const CLIENT_SECRET = 'test-client-secret-do-not-log';

export const settings = Object.freeze({
  port: 0,
  production: false,
  username: ADDON_ID,
  password: 'test-password',
  ssoSalt: 'test-salt',
  encryptionKey: Buffer.alloc(32, 7),
  sessionSecret: 'test-session-secret',
  publicUrl: 'http://localhost:5000',
  clientSecret: CLIENT_SECRET,
  identityUrl: undefined,
  asyncDelaySeconds: 0,
});

// The databases the tests run on: always the embedded one (PGlite, in memory), and a Postgres
// server too when TEST_DATABASE_URL is set, in a schema of its own for this run (dropped at the
// end), so parallel runs do not collide.
export function databases() {
  const list = [{ name: 'embedded PGlite', open: async () => ({ db: await openDatabase({}) }) }];
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    list.push({
      name: 'Postgres (TEST_DATABASE_URL)',
      async open() {
        const { default: pg } = await import('pg');
        const schema = `test_${randomBytes(6).toString('hex')}`;
        const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
        await admin.connect();
        try {
          await admin.query(`create schema ${schema}`);
        } finally {
          await admin.end();
        }
        const db = await openDatabase({ databaseUrl: url, schema });
        const cleanup = async () => {
          const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
          await c.connect();
          try {
            await c.query(`drop schema ${schema} cascade`);
          } finally {
            await c.end();
          }
        };
        return { db, cleanup };
      },
    });
  }
  return list;
}

// Runs `suite(ctx)` once per database, ctx.db migrated and open while its tests run.
export function eachDatabase(suite, { migrated = true } = {}) {
  for (const backend of databases()) {
    describe(`on ${backend.name}`, () => {
      const ctx = { backend: backend.name };
      before(async () => {
        Object.assign(ctx, await backend.open());
        if (migrated) await migrate(ctx.db);
      });
      after(async () => {
        await ctx.db?.close();
        await ctx.cleanup?.();
      });
      suite(ctx);
    });
  }
}

// Collects what the app and its worker log, to check that no secret ever reaches the log.
export function captureLog() {
  const lines = [];
  return { lines, logger: { log: (line) => lines.push(line), error: (line) => lines.push(line) } };
}

export function assertNoSecretsIn(lines, ...secrets) {
  const all = lines.join('\n');
  for (const secret of secrets) assert.ok(!all.includes(secret), 'a secret reached the log');
}

// An app on `db`, its worker not started (tests run it with worker.runDue() or start()).
export function newApp(db, { settingsOverride = {}, workerOptions = {}, fetch } = {}) {
  const s = { ...settings, ...settingsOverride };
  const { lines, logger } = captureLog();
  const heroku = new HerokuClient({ clientSecret: s.clientSecret, timeoutMs: 2000, ...(fetch && { fetch }) });
  const app = createApp(s, {
    db, log: false, logger, heroku,
    workerOptions: { pollMs: 20, baseDelayMs: 5, leaseMs: 5_000, ...workerOptions },
  });
  return { app, lines, worker: app.locals.worker };
}

export const partner = (app) => ({
  provision: (body) => request(app).post('/heroku/resources').auth(settings.username, settings.password).send(body),
  changePlan: (id, body) => request(app).put(`/heroku/resources/${id}`).auth(settings.username, settings.password).send(body),
  deprovision: (id) => request(app).delete(`/heroku/resources/${id}`).auth(settings.username, settings.password),
});

export const v3Body = (extra = {}) => ({
  uuid: randomUUID(),
  name: 'acme-inc-primary-database',
  plan: 'test',
  region: 'amazon-web-services::us-east-1',
  callback_url: 'https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef',
  oauth_grant: { code: randomUUID(), expires_at: new Date(Date.now() + 300_000).toISOString(), type: 'authorization_code' },
  options: { foo: 'bar' },
  some_future_field: true,
  ...extra,
});

// Calls GET /api/resource with the credentials of a config var URL.
export function callApi(app, configUrl) {
  const url = new URL(configUrl);
  return request(app).get(url.pathname).auth(decodeURIComponent(url.username), decodeURIComponent(url.password));
}

// Polls until `check()` returns something truthy, failing after `ms`.
export async function waitFor(check, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// An in-process fake of Heroku's identity service and Platform API on one loopback origin, as
// kensa's is. A grant code works once; refresh tokens give new access tokens; access tokens
// live `expiresIn` seconds. It records every request; `script(key, ...answers)` queues answers
// for a route ("token", "refresh", "config", "provision", "deprovision"): a status code,
// { status, headers }, or "drop" to close the connection without answering.
export class FakeHeroku {
  requests = [];
  tokens = new Map(); // access token → uuid
  refreshTokens = new Map(); // refresh token → uuid
  grants = new Map(); // code → uuid
  expiresIn = 28_800;
  #scripts = new Map();

  async start() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => this.#handle(req, res, body));
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }

  script(key, ...answers) {
    this.#scripts.set(key, answers);
  }

  // A v3 provision body for the async plan, with a grant this fake will accept once.
  asyncBody(extra = {}) {
    const uuid = randomUUID();
    const code = randomUUID();
    this.grants.set(code, uuid);
    return {
      uuid,
      name: 'acme-inc-primary-database',
      plan: 'async',
      region: 'amazon-web-services::us-east-1',
      callback_url: `${this.url}/addons/${uuid}`,
      oauth_grant: { code, expires_at: new Date(Date.now() + 300_000).toISOString(), type: 'authorization_code' },
      options: {},
      ...extra,
    };
  }

  // Requests whose route key is `key`; for the Platform API, optionally those for one add-on.
  calls(key, uuid) {
    return this.requests.filter((r) => r.key === key && (uuid === undefined || r.uuid === uuid));
  }

  #handle(req, res, body) {
    const path = new URL(req.url, this.url).pathname;
    const match = /^\/addons\/([^/]+)\/(config|actions\/(provision|deprovision))$/.exec(path);
    const form = new URLSearchParams(body);
    const key = path === '/oauth/token' && req.method === 'POST'
      ? (form.get('grant_type') === 'refresh_token' ? 'refresh' : 'token')
      : match && req.method === 'PATCH' && match[2] === 'config' ? 'config'
        : match && req.method === 'POST' && match[3] ? match[3] : 'unknown';
    this.requests.push({ key, method: req.method, path, uuid: match?.[1], headers: req.headers, body });

    const scripted = this.#scripts.get(key)?.shift();
    if (scripted === 'drop') return req.socket.destroy();
    const send = (status, json, headers = {}) =>
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(json));
    if (scripted !== undefined) {
      const { status, headers } = typeof scripted === 'number' ? { status: scripted } : scripted;
      return send(status, { id: 'scripted', message: `scripted ${status}` }, headers);
    }
    if (key === 'unknown') return send(404, { id: 'not_found', message: 'no such route' });
    if (key === 'token' || key === 'refresh') {
      if (form.get('client_secret') !== CLIENT_SECRET) return send(401, { id: 'unauthorized', message: 'bad client secret' });
      const from = key === 'token' ? this.grants : this.refreshTokens;
      const uuid = from.get(form.get(key === 'token' ? 'code' : 'refresh_token'));
      if (!uuid) return send(400, { id: 'invalid_grant', message: 'unknown or used grant' });
      if (key === 'token') this.grants.delete(form.get('code')); // a code works once
      const token = `HRKU-${randomUUID()}`;
      const refresh = randomUUID();
      this.tokens.set(token, uuid);
      this.refreshTokens.set(refresh, uuid);
      return send(200, { access_token: token, refresh_token: refresh, expires_in: this.expiresIn, token_type: 'Bearer' });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (this.tokens.get(token) !== match[1]) return send(401, { id: 'unauthorized', message: 'bad token' });
    send(200, key === 'config' ? JSON.parse(body).config : { id: match[1], state: `${key}ed` });
  }
}
