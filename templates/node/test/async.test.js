import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { ADDON_ID, CONFIG_VAR } from '../src/config.js';
import { HerokuClient, identityUrlFor, PLATFORM_ACCEPT } from '../src/heroku.js';
import { settingsFromEnv } from '../src/settings.js';
import { MemoryStore } from '../src/store.js';

const CLIENT_SECRET = 'test-client-secret-do-not-log';
const settings = {
  username: ADDON_ID,
  password: 'test-password',
  ssoSalt: 'test-salt',
  sessionSecret: 'test-session-secret',
  publicUrl: 'http://localhost:5000',
  clientSecret: CLIENT_SECRET,
};

// An in-process fake of Heroku's identity service and Platform API on one loopback origin, as
// kensa's is. It records every request; `fake.script(key, ...answers)` queues answers for a
// route ("token", "config", "provision", "deprovision"): a status code, or "drop" to close the
// connection without answering (a network error).
class FakeHeroku {
  requests = [];
  tokens = new Map(); // access token → uuid
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

  reset() {
    this.requests = [];
    this.#scripts.clear();
  }

  script(key, ...answers) {
    this.#scripts.set(key, answers);
  }

  callbackUrl(uuid) {
    return `${this.url}/addons/${uuid}`;
  }

  // Requests whose route key is `key`; for the Platform API, optionally those for one add-on.
  calls(key, uuid) {
    return this.requests.filter((r) => r.key === key && (uuid === undefined || r.uuid === uuid));
  }

  #handle(req, res, body) {
    const path = new URL(req.url, this.url).pathname;
    const match = /^\/addons\/([^/]+)\/(config|actions\/(provision|deprovision))$/.exec(path);
    const key = /\/oauth\/token$/.test(path) && req.method === 'POST' ? 'token'
      : match && req.method === 'PATCH' && match[2] === 'config' ? 'config'
        : match && req.method === 'POST' && match[3] ? match[3] : 'unknown';
    this.requests.push({ key, method: req.method, path, uuid: match?.[1], headers: req.headers, body });

    const scripted = this.#scripts.get(key)?.shift();
    if (scripted === 'drop') return req.socket.destroy();
    const send = (status, json) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
    if (scripted !== undefined) return send(scripted, { id: 'scripted', message: `scripted ${scripted}` });
    if (key === 'unknown') return send(404, { id: 'not_found', message: 'no such route' });
    if (key === 'token') {
      const token = `HRKU-${randomUUID()}`;
      this.tokens.set(token, new URLSearchParams(body).get('code'));
      return send(200, { access_token: token, refresh_token: randomUUID(), expires_in: 28800, token_type: 'Bearer' });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!this.tokens.has(token)) return send(401, { id: 'unauthorized', message: 'bad token' });
    send(200, key === 'config' ? JSON.parse(body).config : { id: match[1], state: `${key}ed` });
  }
}

// Polls until `check()` returns something truthy, failing after `ms`.
async function waitFor(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Collects what the provisioner logs, to check that no secret ever reaches the log.
const captureLog = () => {
  const lines = [];
  const logger = { log: (line) => lines.push(line), error: (line) => lines.push(line) };
  return { lines, logger };
};

const fake = new FakeHeroku();
before(() => fake.start());
after(() => fake.stop());
beforeEach(() => fake.reset());

function newApp({ settingsOverride = {}, tries = 3 } = {}) {
  const store = new MemoryStore();
  const { lines, logger } = captureLog();
  const s = { ...settings, ...settingsOverride };
  const heroku = new HerokuClient({ clientSecret: s.clientSecret, identityUrl: s.identityUrl, tries, delayMs: 5, timeoutMs: 2000 });
  const app = createApp(s, { store, log: false, heroku, logger });
  return { app, store, lines, provisioner: app.locals.provisioner };
}

const asyncBody = (extra = {}) => {
  const uuid = randomUUID();
  return {
    uuid,
    name: 'acme-inc-primary-database',
    plan: 'async',
    region: 'amazon-web-services::us-east-1',
    callback_url: fake.callbackUrl(uuid),
    oauth_grant: { code: randomUUID(), expires_at: '2030-01-01T00:00:00Z', type: 'authorization_code' },
    options: {},
    ...extra,
  };
};

const provision = (app, body) =>
  request(app).post('/heroku/resources').auth(settings.username, settings.password).send(body);
const deprovision = (app, id) =>
  request(app).delete(`/heroku/resources/${id}`).auth(settings.username, settings.password);

const noSecretsIn = (lines, ...secrets) => {
  const all = lines.join('\n');
  for (const secret of secrets) assert.ok(!all.includes(secret), 'a secret reached the log');
};

describe('identity URL rule', () => {
  it('uses HEROKU_IDENTITY_URL when set', () => {
    assert.equal(identityUrlFor('https://api.heroku.com/addons/x', 'https://id.example.test/'), 'https://id.example.test');
    assert.equal(identityUrlFor('http://127.0.0.1:9/addons/x', 'http://127.0.0.1:7/identity'), 'http://127.0.0.1:7/identity');
  });

  it('uses https://id.heroku.com for callbacks on api.heroku.com', () => {
    assert.equal(identityUrlFor('https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef'), 'https://id.heroku.com');
  });

  it('otherwise uses the origin of callback_url', () => {
    assert.equal(identityUrlFor('http://127.0.0.1:4321/addons/abc'), 'http://127.0.0.1:4321');
    assert.equal(identityUrlFor('https://api.staging.example.test/addons/abc'), 'https://api.staging.example.test');
  });

  it('reads HEROKU_CLIENT_SECRET and HEROKU_IDENTITY_URL from the environment', () => {
    const base = { HEROKU_USERNAME: 'u', HEROKU_PASSWORD: 'p', SSO_SALT: 's' };
    const s = settingsFromEnv({ ...base, HEROKU_CLIENT_SECRET: 'cs', HEROKU_IDENTITY_URL: 'https://id.example.test' });
    assert.equal(s.clientSecret, 'cs');
    assert.equal(s.identityUrl, 'https://id.example.test');
    const none = settingsFromEnv(base);
    assert.equal(none.clientSecret, undefined);
    assert.equal(none.identityUrl, undefined);
  });
});

describe('asynchronous provisioning (plan async)', () => {
  it('answers 202 with id and message and no config, then completes the v3 flow', async () => {
    const { app, store, lines, provisioner } = newApp();
    const body = asyncBody();
    const res = await provision(app, body).expect(202).expect('Content-Type', /json/);
    assert.equal(typeof res.body.id, 'string');
    assert.equal(typeof res.body.message, 'string');
    assert.equal(res.body.config, undefined);
    const id = res.body.id;

    await waitFor(() => fake.calls('provision', body.uuid).length > 0, 'POST actions/provision');
    await provisioner.settled();

    // 1. The grant exchange: a form POST to the identity service (here the callback's origin).
    const [exchange] = fake.calls('token');
    assert.equal(fake.calls('token').length, 1);
    assert.equal(exchange.path, '/oauth/token');
    assert.match(exchange.headers['content-type'], /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(exchange.body);
    assert.equal(form.get('grant_type'), 'authorization_code');
    assert.equal(form.get('code'), body.oauth_grant.code);
    assert.equal(form.get('client_secret'), CLIENT_SECRET);

    // The token is kept with the resource.
    const stored = await store.findById(id);
    const token = stored.accessToken;
    assert.ok(fake.tokens.has(token));
    assert.equal(typeof stored.refreshToken, 'string');
    assert.equal(stored.state, 'provisioned');

    // 2. The config, through the Platform API.
    const [patch] = fake.calls('config', body.uuid);
    assert.equal(patch.path, `/addons/${body.uuid}/config`);
    assert.equal(patch.headers.authorization, `Bearer ${token}`);
    assert.equal(patch.headers.accept, PLATFORM_ACCEPT);
    assert.match(patch.headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(patch.body), {
      config: [{ name: CONFIG_VAR, value: `http://localhost:5000/resources/${id}` }],
    });

    // 3. Marked provisioned, with the same headers, after the config.
    const [done] = fake.calls('provision', body.uuid);
    assert.equal(done.path, `/addons/${body.uuid}/actions/provision`);
    assert.equal(done.headers.authorization, `Bearer ${token}`);
    assert.equal(done.headers.accept, PLATFORM_ACCEPT);
    assert.deepEqual(fake.requests.map((r) => r.key), ['token', 'config', 'provision']);

    assert.ok(lines.some((line) => line.includes('done')));
    noSecretsIn(lines, CLIENT_SECRET, body.oauth_grant.code, token);
  });

  it('gives a redelivery the same id: 202 while provisioning, 200 with config once done', async () => {
    const { app, provisioner } = newApp();
    const body = asyncBody();
    fake.script('token', 503); // slows the flow down by one retry
    const first = await provision(app, body).expect(202);
    const again = await provision(app, body).expect(202);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.config, undefined);
    await provisioner.settled();
    const done = await provision(app, body).expect(200);
    assert.equal(done.body.id, first.body.id);
    assert.deepEqual(done.body.config, { [CONFIG_VAR]: `http://localhost:5000/resources/${first.body.id}` });
    assert.equal(fake.calls('token').filter((r) => r.body.includes(body.oauth_grant.code)).length, 2); // 503, then 200
    assert.equal(fake.calls('provision', body.uuid).length, 1);
  });

  it('makes one resource and runs the flow once for concurrent deliveries of one uuid', async () => {
    const { app, provisioner } = newApp();
    const body = asyncBody();
    const answers = await Promise.all(Array.from({ length: 5 }, () => provision(app, body).expect(202)));
    assert.equal(new Set(answers.map((r) => r.body.id)).size, 1);
    await provisioner.settled();
    assert.equal(fake.calls('token').length, 1);
    assert.equal(fake.calls('config', body.uuid).length, 1);
    assert.equal(fake.calls('provision', body.uuid).length, 1);
  });

  it('exchanges the grant at HEROKU_IDENTITY_URL when it is set', async () => {
    const { app, provisioner } = newApp({ settingsOverride: { identityUrl: `${fake.url}/identity/` } });
    const body = asyncBody();
    await provision(app, body).expect(202);
    await provisioner.settled();
    assert.deepEqual(fake.calls('token').map((r) => r.path), ['/identity/oauth/token']);
    assert.equal(fake.calls('provision', body.uuid).length, 1);
  });

  it('retries each step on 5xx and on network errors', async () => {
    const { app, store, provisioner, lines } = newApp();
    const body = asyncBody();
    fake.script('token', 500, 502);
    fake.script('config', 'drop', 503);
    fake.script('provision', 504);
    const { body: created } = await provision(app, body).expect(202);
    await provisioner.settled();
    assert.equal(fake.calls('token').length, 3);
    assert.equal(fake.calls('config', body.uuid).length, 3);
    assert.equal(fake.calls('provision', body.uuid).length, 2);
    assert.equal((await store.findById(created.id)).state, 'provisioned');
    noSecretsIn(lines, CLIENT_SECRET, body.oauth_grant.code);
  });

  it('gives up after 3 tries on 5xx, and never retries a 4xx', async () => {
    const { app, store, provisioner, lines } = newApp();
    const failing = asyncBody();
    fake.script('config', 500, 500, 500, 500);
    const { body: a } = await provision(app, failing).expect(202);
    await provisioner.settled();
    assert.equal(fake.calls('config', failing.uuid).length, 3);
    assert.equal(fake.calls('provision', failing.uuid).length, 0);
    assert.equal((await store.findById(a.id)).state, 'failed');
    assert.ok(lines.some((line) => /async provision of .* failed: PATCH .* answered 500/.test(line)));

    fake.reset();
    const refused = asyncBody();
    fake.script('token', 401);
    const { body: b } = await provision(app, refused).expect(202);
    await provisioner.settled();
    assert.equal(fake.calls('token').length, 1);
    assert.equal(fake.calls('config', refused.uuid).length, 0);
    assert.equal((await store.findById(b.id)).state, 'failed');
    assert.ok(lines.some((line) => /POST http:\/\/127\.0\.0\.1:\d+\/oauth\/token answered 401/.test(line)));
    noSecretsIn(lines, CLIENT_SECRET, failing.oauth_grant.code, refused.oauth_grant.code);
  });

  it('starts a failed resource again on redelivery, reusing its token', async () => {
    const { app, store, provisioner } = newApp();
    const body = asyncBody();
    fake.script('provision', 400);
    const { body: created } = await provision(app, body).expect(202);
    await provisioner.settled();
    assert.equal((await store.findById(created.id)).state, 'failed');
    await provision(app, body).expect(202);
    await provisioner.settled();
    assert.equal((await store.findById(created.id)).state, 'provisioned');
    assert.equal(fake.calls('token').length, 1); // the code works once: the stored token is reused
    assert.equal(fake.calls('provision', body.uuid).length, 2);
  });

  it('refuses the async plan without callback_url and oauth_grant (422) or a client secret (503)', async () => {
    const { app } = newApp();
    const { callback_url: _, ...noCallback } = asyncBody();
    await provision(app, noCallback).expect(422).expect('Content-Type', /json/);
    await provision(app, asyncBody({ oauth_grant: {} })).expect(422);
    await provision(app, asyncBody({ callback_url: 'ftp://example.test/addons/x' })).expect(422);
    const { app: noSecret } = newApp({ settingsOverride: { clientSecret: undefined } });
    const res = await provision(noSecret, asyncBody()).expect(503);
    assert.equal(typeof res.body.message, 'string');
    assert.equal(fake.requests.length, 0);
  });

  it('leaves the other plans synchronous, with no call to Heroku', async () => {
    const { app, provisioner } = newApp();
    const res = await provision(app, asyncBody({ plan: 'test' })).expect(201);
    assert.ok(res.body.config[CONFIG_VAR]);
    await deprovision(app, res.body.id).expect(204);
    await provisioner.settled();
    assert.equal(fake.requests.length, 0);
  });
});

describe('asynchronous deprovisioning', () => {
  it('answers 202, removes the resource, then calls actions/deprovision with its token', async () => {
    const { app, store, provisioner, lines } = newApp();
    const body = asyncBody();
    const { body: created } = await provision(app, body).expect(202);
    await provisioner.settled();
    const token = (await store.findById(created.id)).accessToken;

    const res = await deprovision(app, created.id).expect(202).expect('Content-Type', /json/);
    assert.equal(typeof res.body.message, 'string');
    assert.equal(await store.findById(created.id), undefined);
    await deprovision(app, created.id).expect(404);

    const [call] = await waitFor(() => fake.calls('deprovision', body.uuid).length && fake.calls('deprovision', body.uuid),
      'POST actions/deprovision');
    assert.equal(call.path, `/addons/${body.uuid}/actions/deprovision`);
    assert.equal(call.headers.authorization, `Bearer ${token}`);
    assert.equal(call.headers.accept, PLATFORM_ACCEPT);
    await provisioner.settled();
    noSecretsIn(lines, CLIENT_SECRET, token);
  });

  it('waits for a provisioning still running, then deprovisions with the token it got', async () => {
    const { app, provisioner } = newApp();
    const body = asyncBody();
    fake.script('token', 503, 503); // the exchange takes a few retries
    const { body: created } = await provision(app, body).expect(202);
    await deprovision(app, created.id).expect(202);
    await provisioner.settled();
    assert.equal(fake.calls('token').length, 3);
    const token = [...fake.tokens.keys()].find((t) => fake.tokens.get(t) === body.oauth_grant.code);
    assert.ok(token);
    assert.equal(fake.calls('config', body.uuid).length, 0); // removed meanwhile: no config set
    const [call] = fake.calls('deprovision', body.uuid);
    assert.equal(call.headers.authorization, `Bearer ${token}`);
  });
});
