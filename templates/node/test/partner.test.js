import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import request from 'supertest';
import { CONFIG_VAR } from '../src/config.js';
import { callApi, eachDatabase, newApp, partner, settings, v3Body } from './helpers.js';

const configUrl = (res) => res.body.config?.[CONFIG_VAR];

describe('the Add-on Partner API', () => {
  eachDatabase((ctx) => {
    const app = () => newApp(ctx.db).app;

    describe('POST /heroku/resources (provision)', () => {
      it('creates a resource: 201 with id, a config URL carrying its credentials, and a message', async () => {
        const res = await partner(app()).provision(v3Body()).expect(201).expect('Content-Type', /json/);
        const { id } = res.body;
        assert.match(id, /^[0-9a-f-]{36}$/);
        assert.equal(typeof res.body.message, 'string');
        const url = new URL(configUrl(res));
        assert.equal(`${url.origin}${url.pathname}`, 'http://localhost:5000/api/resource');
        assert.equal(url.username, id);
        assert.ok(url.password.length >= 43, 'a token of 256 bits');
      });

      it('stores the token hashed (and sealed), never in clear', async () => {
        const res = await partner(app()).provision(v3Body()).expect(201);
        const token = new URL(configUrl(res)).password;
        const { rows: [row] } = await ctx.db.query('select * from resources where id = $1', [res.body.id]);
        assert.equal(row.token_hash, createHash('sha256').update(token).digest('hex'));
        assert.ok(!JSON.stringify(row).includes(token), 'the token is not in the row');
      });

      it('answers a redelivery of the same uuid with the same resource and config (200)', async () => {
        const a = app();
        const body = v3Body();
        const first = await partner(a).provision(body).expect(201);
        const again = await partner(a).provision(body).expect(200);
        assert.equal(again.body.id, first.body.id);
        assert.equal(configUrl(again), configUrl(first));
      });

      it('makes one resource of 16 concurrent deliveries, and every copy gets the same answer', async () => {
        const a = app();
        const body = v3Body();
        const answers = await Promise.all(Array.from({ length: 16 }, () => partner(a).provision(body)));
        assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
        assert.equal(new Set(answers.map((r) => r.body.id)).size, 1);
        assert.equal(new Set(answers.map(configUrl)).size, 1);
        const { rows } = await ctx.db.query('select count(*)::int as n from resources where uuid = $1', [body.uuid]);
        assert.equal(rows[0].n, 1);
      });

      it('gives a new uuid, or a request without one, a new resource', async () => {
        const a = app();
        const x = await partner(a).provision(v3Body()).expect(201);
        const y = await partner(a).provision(v3Body()).expect(201);
        const { uuid: _u, ...noUuid } = v3Body();
        const z = await partner(a).provision(noUuid).expect(201);
        assert.equal(new Set([x.body.id, y.body.id, z.body.id]).size, 3);
      });

      it('accepts a v1 body and never derives the id from heroku_id', async () => {
        const res = await partner(app()).provision({
          heroku_id: 'app123@heroku.com', plan: 'test', region: 'us', uuid: randomUUID(),
          callback_url: 'https://api.heroku.com/vendor/apps/app123%40heroku.com', logplex_token: 't', options: {},
        }).expect(201);
        assert.ok(!res.body.id.includes('app123'));
      });

      it('answers 410 for a uuid that was deprovisioned', async () => {
        const a = app();
        const body = v3Body();
        const first = await partner(a).provision(body).expect(201);
        await partner(a).deprovision(first.body.id).expect(204);
        const again = await partner(a).provision(body).expect(410).expect('Content-Type', /json/);
        assert.equal(typeof again.body.message, 'string');
      });

      it('refuses a callback_url that is not Heroku\'s or a loopback address with 422, creating nothing', async () => {
        const a = app();
        for (const callback of ['https://evil.example.com/addons/x', 'http://api.heroku.com/addons/x',
          'https://api.heroku.com.evil.example/addons/x', 'ftp://127.0.0.1/x', 'not a url']) {
          const body = v3Body({ callback_url: callback });
          const res = await partner(a).provision(body).expect(422).expect('Content-Type', /json/);
          assert.equal(typeof res.body.message, 'string');
          const { rows } = await ctx.db.query('select 1 from resources where uuid = $1', [body.uuid]);
          assert.equal(rows.length, 0, callback);
        }
        await partner(a).provision(v3Body({ callback_url: 'http://127.0.0.1:9/addons/x' })).expect(201);
        await partner(a).provision(v3Body({ callback_url: 'http://localhost:9/addons/x' })).expect(201);
        await partner(a).provision(v3Body({ callback_url: 'http://[::1]:9/addons/x' })).expect(201);
      });

      it('refuses a loopback callback_url in production (NODE_ENV=production) with 422, creating nothing', async () => {
        const { app: a } = newApp(ctx.db, { settingsOverride: { production: true } });
        const body = v3Body({ callback_url: 'http://127.0.0.1:9/addons/x' });
        await partner(a).provision(body).expect(422).expect('Content-Type', /json/);
        const { rows } = await ctx.db.query('select 1 from resources where uuid = $1', [body.uuid]);
        assert.equal(rows.length, 0);
        await partner(a).provision(v3Body()).expect(201); // on https://api.heroku.com
      });

      it('trusts another callback host when HEROKU_IDENTITY_URL names the identity service', async () => {
        const { app: a } = newApp(ctx.db, { settingsOverride: { identityUrl: 'https://id.staging.example' } });
        await partner(a).provision(v3Body({ callback_url: 'https://api.staging.example/addons/x' })).expect(201);
      });

      it('answers an unknown plan with 422 naming it', async () => {
        const res = await partner(app()).provision(v3Body({ plan: 'platinum' })).expect(422);
        assert.match(res.body.message, /platinum/);
      });

      it('takes the public URL from PUBLIC_URL, else from Host and X-Forwarded-Proto', async () => {
        const { app: a } = newApp(ctx.db, { settingsOverride: { publicUrl: undefined } });
        const res = await request(a).post('/heroku/resources').auth(settings.username, settings.password)
          .set('Host', 'my-addon.herokuapp.com').set('X-Forwarded-Proto', 'https').send(v3Body()).expect(201);
        const url = new URL(configUrl(res));
        assert.equal(`${url.protocol}//${url.host}${url.pathname}`, 'https://my-addon.herokuapp.com/api/resource');
        const local = await partner(a).provision(v3Body()).expect(201);
        assert.match(configUrl(local), /^http:\/\/[^@]+@127\.0\.0\.1:\d+\/api\/resource$/);
      });

      it('answers wrong or missing credentials with 401, a Basic challenge and JSON', async () => {
        const a = app();
        for (const req of [
          request(a).post('/heroku/resources').auth(settings.username, 'wrong').send(v3Body()),
          request(a).post('/heroku/resources').auth('someone-else', settings.password).send(v3Body()),
          request(a).post('/heroku/resources').set('Authorization', 'Basic !!!').send(v3Body()),
          request(a).post('/heroku/resources').send(v3Body()),
        ]) {
          const res = await req.expect(401).expect('Content-Type', /json/);
          assert.match(res.headers['www-authenticate'], /^Basic realm="[^"]*"$/);
        }
      });

      it('answers malformed JSON with 400, a wrong shape with 422, an oversized body with 413: all JSON', async () => {
        const a = app();
        const post = () => request(a).post('/heroku/resources').auth(settings.username, settings.password)
          .set('Content-Type', 'application/json');
        const bad = await post().send('{"plan": "test",').expect(400).expect('Content-Type', /json/);
        assert.equal(typeof bad.body.message, 'string');
        for (const body of [{ uuid: randomUUID() }, { plan: '' }, { plan: 42 }, '[]', '"test"', 'null',
          { plan: 'test', callback_url: 42 }]) {
          await post().send(body).expect(422).expect('Content-Type', /json/);
        }
        const huge = await post().send({ plan: 'test', padding: 'x'.repeat(70 * 1024) }).expect(413).expect('Content-Type', /json/);
        assert.equal(typeof huge.body.message, 'string');
      });
    });

    describe('PUT /heroku/resources/:id (plan change)', () => {
      it('changes the plan and what the resource may do; the same plan is a 200 no-op', async () => {
        const a = app();
        const created = await partner(a).provision(v3Body()).expect(201);
        const before = await callApi(a, configUrl(created)).expect(200);
        assert.equal(before.body.limits.api_calls, 1_000);
        const res = await partner(a).changePlan(created.body.id, { plan: 'premium', uuid: 'whatever' }).expect(200);
        assert.equal(typeof res.body.message, 'string');
        const after = await callApi(a, configUrl(created)).expect(200);
        assert.equal(after.body.plan, 'premium');
        assert.equal(after.body.limits.api_calls, 100_000);
        const same = await partner(a).changePlan(created.body.id, { plan: 'premium' }).expect(200);
        assert.match(same.body.message, /Already/);
      });

      it('answers 422 for an unknown plan, 404 for an unknown id, 410 once deprovisioned, 400/422/401 for bad requests', async () => {
        const a = app();
        const { body: { id } } = await partner(a).provision(v3Body()).expect(201);
        const unknownPlan = await partner(a).changePlan(id, { plan: 'platinum' }).expect(422);
        assert.match(unknownPlan.body.message, /platinum/);
        await partner(a).changePlan(randomUUID(), { plan: 'premium' }).expect(404).expect('Content-Type', /json/);
        await partner(a).changePlan('not-a-uuid', { plan: 'premium' }).expect(404);
        const put = () => request(a).put(`/heroku/resources/${id}`).set('Content-Type', 'application/json');
        await put().auth(settings.username, settings.password).send('{plan').expect(400).expect('Content-Type', /json/);
        await put().auth(settings.username, settings.password).send({}).expect(422);
        await put().send({ plan: 'premium' }).expect(401).expect('WWW-Authenticate', /^Basic realm=/);
        await partner(a).deprovision(id).expect(204);
        await partner(a).changePlan(id, { plan: 'premium' }).expect(410).expect('Content-Type', /json/);
      });
    });

    describe('DELETE /heroku/resources/:id (deprovision)', () => {
      it('answers 204, then 410 for the same id and 404 for an unknown one; revokes the credentials', async () => {
        const a = app();
        const created = await partner(a).provision(v3Body()).expect(201);
        await callApi(a, configUrl(created)).expect(200);
        const res = await partner(a).deprovision(created.body.id).expect(204);
        assert.equal(res.text, '');
        await partner(a).deprovision(created.body.id).expect(410).expect('Content-Type', /json/);
        await partner(a).deprovision(randomUUID()).expect(404).expect('Content-Type', /json/);
        await callApi(a, configUrl(created)).expect(401);
        const { rows: [row] } = await ctx.db.query('select state, token_hash, token_sealed from resources where id = $1', [created.body.id]);
        assert.deepEqual(row, { state: 'deprovisioned', token_hash: null, token_sealed: null });
      });

      it('requires credentials', async () => {
        const a = app();
        const { body: { id } } = await partner(a).provision(v3Body()).expect(201);
        await request(a).delete(`/heroku/resources/${id}`).expect(401);
        await partner(a).deprovision(id).expect(204);
      });
    });

    describe('anything else', () => {
      it('answers unknown routes and bad paths with JSON, never a crash', async () => {
        const a = app();
        await request(a).get('/nope').expect(404).expect('Content-Type', /json/);
        await request(a).delete('/heroku/resources/%E0%A4%A').auth(settings.username, settings.password)
          .expect(400).expect('Content-Type', /json/);
      });
    });
  });
});
