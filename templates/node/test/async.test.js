import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONFIG_VAR } from '../src/config.js';
import { identityUrlFor, isLoopback } from '../src/identity.js';
import { parseRetryAfter, PLATFORM_ACCEPT } from '../src/heroku.js';
import {
  assertNoSecretsIn, callApi, CLIENT_SECRET, eachDatabase, FakeHeroku, newApp, partner, waitFor,
} from './helpers.js';

describe('the identity URL rule', () => {
  it('uses HEROKU_IDENTITY_URL when set', () => {
    assert.equal(identityUrlFor('https://api.heroku.com/addons/x', 'https://id.example.test/'), 'https://id.example.test');
    assert.equal(identityUrlFor('https://api.other.example/addons/x', 'https://id.other.example'), 'https://id.other.example');
  });

  it('uses https://id.heroku.com for callbacks on https://api.heroku.com', () => {
    assert.equal(identityUrlFor('https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef'), 'https://id.heroku.com');
  });

  it('uses the callback\'s origin for a loopback address', () => {
    assert.equal(identityUrlFor('http://127.0.0.1:4321/addons/abc'), 'http://127.0.0.1:4321');
    assert.equal(identityUrlFor('http://127.8.9.10:4321/addons/abc'), 'http://127.8.9.10:4321');
    assert.equal(identityUrlFor('http://localhost:4321/addons/abc'), 'http://localhost:4321');
    assert.equal(identityUrlFor('http://[::1]:4321/addons/abc'), 'http://[::1]:4321');
  });

  it('trusts a loopback callback in development only: in production it cannot come from Heroku', () => {
    for (const url of ['http://127.0.0.1:4321/addons/abc', 'http://localhost:4321/addons/abc', 'http://[::1]:4321/addons/abc']) {
      assert.equal(identityUrlFor(url, undefined, { production: true }), undefined, url);
    }
    assert.equal(identityUrlFor('https://api.heroku.com/addons/x', undefined, { production: true }), 'https://id.heroku.com');
    assert.equal(identityUrlFor('http://127.0.0.1:4321/x', 'https://id.example.test', { production: true }), 'https://id.example.test');
  });

  it('trusts nothing else', () => {
    for (const url of ['https://evil.example/addons/x', 'http://api.heroku.com/addons/x', 'https://api.heroku.com:8443/x',
      'https://api.heroku.com.evil.example/x', 'http://10.0.0.1/x', 'http://128.0.0.1/x', 'http://0.0.0.0/x', 'nonsense']) {
      assert.equal(identityUrlFor(url), undefined, url);
    }
    assert.ok(isLoopback('[::1]') && isLoopback('LOCALHOST') && !isLoopback('localhost.evil.example'));
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});

describe('asynchronous provisioning (plan async)', () => {
  const fake = new FakeHeroku();
  before(() => fake.start());
  after(() => fake.stop());

  eachDatabase((ctx) => {
    const job = async (id) => (await ctx.db.query('select * from async_jobs where resource_id = $1', [id])).rows[0];
    const resourceRow = async (id) => (await ctx.db.query('select * from resources where id = $1', [id])).rows[0];

    it('answers 202 with id and message and no config, then completes the v3 flow', async () => {
      const { app, worker, lines } = newApp(ctx.db);
      const body = fake.asyncBody();
      const res = await partner(app).provision(body).expect(202).expect('Content-Type', /json/);
      assert.equal(typeof res.body.message, 'string');
      assert.equal(res.body.config, undefined);
      const { id } = res.body;
      assert.equal((await job(id)).step, 'accepted');

      await worker.runDue();

      // 1. The grant exchange: a form POST to the identity service (here the callback's origin).
      const [exchange] = fake.calls('token').filter((r) => new URLSearchParams(r.body).get('code') === body.oauth_grant.code);
      assert.equal(exchange.path, '/oauth/token');
      assert.match(exchange.headers['content-type'], /^application\/x-www-form-urlencoded/);
      const form = new URLSearchParams(exchange.body);
      assert.equal(form.get('grant_type'), 'authorization_code');
      assert.equal(form.get('client_secret'), CLIENT_SECRET);

      // 2. The config, through the Platform API, with the token and API version 3.
      const [patch] = fake.calls('config', body.uuid);
      const token = /^Bearer (.+)$/.exec(patch.headers.authorization)[1];
      assert.equal(fake.tokens.get(token), body.uuid);
      assert.equal(patch.headers.accept, PLATFORM_ACCEPT);
      const [{ name, value }] = JSON.parse(patch.body).config;
      assert.equal(name, CONFIG_VAR);
      assert.equal(new URL(value).username, id);

      // 3. Marked provisioned, and the resource works.
      assert.equal(fake.calls('provision', body.uuid).length, 1);
      assert.equal((await job(id)).step, 'done');
      assert.equal((await job(id)).run_at, null);
      const api = await callApi(app, value).expect(200);
      assert.equal(api.body.status, 'provisioned');

      // A redelivery now gets the config.
      const again = await partner(app).provision(body).expect(200);
      assert.equal(again.body.config[CONFIG_VAR], value);
      assertNoSecretsIn(lines, CLIENT_SECRET, body.oauth_grant.code, token);
    });

    it('keeps the grant code and the tokens sealed: the database never holds them in clear', async () => {
      const { app, worker } = newApp(ctx.db, { workerOptions: {} });
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      const before = JSON.stringify(await job(id));
      assert.ok(!before.includes(body.oauth_grant.code), 'grant code in clear');
      await worker.runDue();
      const row = await job(id);
      const [patch] = fake.calls('config', body.uuid);
      const token = /^Bearer (.+)$/.exec(patch.headers.authorization)[1];
      const refresh = [...fake.refreshTokens].find(([, uuid]) => uuid === body.uuid)[0];
      const all = JSON.stringify(row) + JSON.stringify(await resourceRow(id));
      for (const secret of [token, refresh, body.oauth_grant.code, new URL(JSON.parse(patch.body).config[0].value).password]) {
        assert.ok(!all.includes(secret), 'a secret in clear in the database');
      }
      assert.match(row.access_token_sealed, /^v1\./);
      assert.match(row.refresh_token_sealed, /^v1\./);
      assert.equal(row.grant_code_sealed, null, 'a used grant code is not kept');
    });

    it('waits ASYNC_DELAY_SECONDS before the first step, and a new process resumes the job', async () => {
      // The first process accepts the job and dies before it is due (nothing of it survives
      // but the database); the second, started later, finishes it.
      const first = newApp(ctx.db, { settingsOverride: { asyncDelaySeconds: 1 } });
      const body = fake.asyncBody();
      const { body: { id } } = await partner(first.app).provision(body).expect(202);
      assert.equal(await first.worker.runDue(), 0, 'not due yet');
      assert.equal(fake.calls('token').filter((r) => r.body.includes(body.oauth_grant.code)).length, 0);

      const second = newApp(ctx.db);
      second.worker.start();
      try {
        await waitFor(async () => (await job(id)).step === 'done', 'the resumed job to finish');
      } finally {
        await second.worker.stop();
      }
      assert.equal(fake.calls('provision', body.uuid).length, 1);
      assert.equal((await resourceRow(id)).state, 'provisioned');
    });

    it('resumes from the step reached: a restarted process never exchanges the grant again', async () => {
      // The first process's retry would come a minute later: it is gone by then.
      const first = newApp(ctx.db, { workerOptions: { baseDelayMs: 60_000 } });
      const body = fake.asyncBody();
      const { body: { id } } = await partner(first.app).provision(body).expect(202);
      fake.script('config', 503); // the Platform API fails once, after the grant was exchanged
      await first.worker.runDue();
      const saved = await job(id);
      assert.equal(saved.step, 'grant_exchanged');
      assert.equal(saved.attempts, 1);
      assert.match(saved.last_error, /503/);
      assert.ok(saved.run_at.getTime() > Date.now() + 50_000, 'retried after the backoff');
      // "Restart" once the retry is due: a new app and worker on the same database.
      await ctx.db.query('update async_jobs set run_at = now() where id = $1', [saved.id]);
      const second = newApp(ctx.db);
      await waitFor(async () => (await second.worker.runDue(), (await job(id)).step === 'done'), 'the job to finish');
      assert.equal(fake.calls('token').filter((r) => r.body.includes(body.oauth_grant.code)).length, 1, 'one exchange');
      assert.equal(fake.calls('provision', body.uuid).length, 1);
    });

    it('takes over a job whose process died holding it, once its lease ran out', async () => {
      const { app } = newApp(ctx.db);
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      // A process took the job and died (kill -9) before saving anything.
      await ctx.db.query("update async_jobs set locked_by = 'dead-process', locked_until = now() + interval '2 seconds' where resource_id = $1", [id]);
      const other = newApp(ctx.db);
      assert.equal(await other.worker.runDue(), 0, 'still leased');
      await waitFor(async () => (await other.worker.runDue(), (await job(id)).step === 'done'), 'the job to be taken over');
    });

    it('refreshes an access token about to expire before calling the Platform API', async () => {
      fake.expiresIn = 30; // within the 60 s margin at once
      try {
        const { app, worker, lines } = newApp(ctx.db);
        const body = fake.asyncBody();
        await partner(app).provision(body).expect(202);
        await worker.runDue();
        const refreshes = fake.requests.filter((r) => r.key === 'refresh');
        assert.ok(refreshes.length >= 2, 'a refresh before each Platform API call');
        const form = new URLSearchParams(refreshes.at(-1).body);
        assert.equal(form.get('client_secret'), CLIENT_SECRET);
        assert.ok(fake.refreshTokens.has(form.get('refresh_token')));
        // The calls used the refreshed tokens, which the first exchange never returned.
        const [exchangeAnswerToken] = [...fake.tokens].find(([, uuid]) => uuid === body.uuid);
        const used = /^Bearer (.+)$/.exec(fake.calls('provision', body.uuid)[0].headers.authorization)[1];
        assert.notEqual(used, exchangeAnswerToken);
        assertNoSecretsIn(lines, CLIENT_SECRET, used);
      } finally {
        fake.expiresIn = 28_800;
      }
    });

    it('retries 429 and 5xx with backoff, honouring Retry-After', async () => {
      const { app, worker } = newApp(ctx.db);
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      fake.script('token', { status: 429, headers: { 'Retry-After': '1' } });
      const t0 = Date.now();
      await worker.runDue();
      const waiting = await job(id);
      assert.equal(waiting.step, 'accepted');
      assert.ok(waiting.run_at.getTime() - t0 >= 900, 'due again after Retry-After');
      fake.script('provision', 502, 'drop');
      await waitFor(async () => (await worker.runDue(), (await job(id)).step === 'done'), 'the job to finish', 15_000);
      assert.equal(fake.calls('provision', body.uuid).length, 3);
    });

    it('fails the job (and the resource) with the reason on a 4xx, and a redelivery with a new grant starts it again', async () => {
      const { app, worker, lines } = newApp(ctx.db);
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      fake.script('token', 401);
      await worker.runDue();
      const failed = await job(id);
      assert.equal(failed.step, 'failed');
      assert.match(failed.last_error, /401/);
      assert.equal((await resourceRow(id)).state, 'failed');
      assert.ok(lines.some((l) => /failed for good/.test(l)));

      const retry = fake.asyncBody({ uuid: body.uuid, callback_url: body.callback_url });
      fake.grants.set(retry.oauth_grant.code, body.uuid);
      const again = await partner(app).provision(retry).expect(202);
      assert.equal(again.body.id, id);
      await worker.runDue();
      assert.equal((await job(id)).step, 'done');
      assert.equal((await resourceRow(id)).state, 'provisioned');
    });

    it('fails a job whose grant expired before it could be exchanged', async () => {
      const { app, worker } = newApp(ctx.db, { settingsOverride: { asyncDelaySeconds: 0.2 } });
      const body = fake.asyncBody();
      body.oauth_grant.expires_at = new Date(Date.now() + 100).toISOString();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      await waitFor(async () => (await worker.runDue(), (await job(id)).step === 'failed'), 'the job to fail');
      assert.match((await job(id)).last_error, /expired/);
    });

    it('deprovisions with 202, revokes at once, then calls actions/deprovision with a token', async () => {
      const { app, worker } = newApp(ctx.db);
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      await worker.runDue();
      const [{ value: url }] = JSON.parse(fake.calls('config', body.uuid)[0].body).config;
      await partner(app).deprovision(id).expect(202).expect('Content-Type', /json/);
      await callApi(app, url).expect(401);
      await worker.runDue();
      const [call] = fake.calls('deprovision', body.uuid);
      assert.equal(fake.tokens.get(/^Bearer (.+)$/.exec(call.headers.authorization)[1]), body.uuid);
      assert.equal(call.headers.accept, PLATFORM_ACCEPT);
      assert.equal((await job(id)).deprovision, 'done');
      await partner(app).deprovision(id).expect(410);
      await partner(app).provision(body).expect(410);
    });

    it('deprovisioned before its grant was exchanged: exchanges it to report, and never sets the config', async () => {
      const { app, worker } = newApp(ctx.db, { settingsOverride: { asyncDelaySeconds: 60 } });
      const body = fake.asyncBody();
      const { body: { id } } = await partner(app).provision(body).expect(202);
      await partner(app).deprovision(id).expect(202);
      await worker.runDue();
      assert.equal(fake.calls('deprovision', body.uuid).length, 1);
      assert.equal(fake.calls('config', body.uuid).length, 0);
      assert.equal(fake.calls('provision', body.uuid).length, 0);
      assert.equal(await worker.runDue(), 0, 'nothing left to do');
    });

    it('refuses the async plan without a callback_url and grant (422) or without HEROKU_CLIENT_SECRET (503)', async () => {
      const { app } = newApp(ctx.db);
      const { callback_url: _c, ...noCallback } = fake.asyncBody();
      await partner(app).provision(noCallback).expect(422);
      const { oauth_grant: _g, ...noGrant } = fake.asyncBody();
      await partner(app).provision(noGrant).expect(422);
      const { app: noSecret } = newApp(ctx.db, { settingsOverride: { clientSecret: undefined } });
      await partner(noSecret).provision(fake.asyncBody()).expect(503).expect('Content-Type', /json/);
    });

    it('makes one resource and one job of 16 concurrent deliveries', async () => {
      const { app, worker } = newApp(ctx.db);
      const body = fake.asyncBody();
      const answers = await Promise.all(Array.from({ length: 16 }, () => partner(app).provision(body)));
      assert.deepEqual([...new Set(answers.map((r) => r.status))], [202]);
      assert.equal(new Set(answers.map((r) => r.body.id)).size, 1);
      await worker.runDue();
      assert.equal(fake.calls('provision', body.uuid).length, 1);
    });
  });
});
