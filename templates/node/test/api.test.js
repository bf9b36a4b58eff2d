import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import request from 'supertest';
import { CONFIG_VAR } from '../src/config.js';
import { callApi, eachDatabase, newApp, partner, v3Body } from './helpers.js';

const run = promisify(execFile);
const CONSUMER = fileURLToPath(new URL('../examples/consumer.js', import.meta.url));

// Runs examples/consumer.js with `env` added; resolves { code, stdout, stderr }.
const consumer = (env) => run(process.execPath, [CONSUMER], { env: { ...process.env, ...env }, timeout: 15_000 })
  .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }));

describe('the resource API (GET /api/resource)', () => {
  eachDatabase((ctx) => {
    const provisioned = async (a, body = v3Body()) => (await partner(a).provision(body).expect(201)).body.config[CONFIG_VAR];

    it('answers the resource\'s id, plan, status, limits and usage, counting each call', async () => {
      const { app } = newApp(ctx.db);
      const url = await provisioned(app);
      const first = await callApi(app, url).expect(200).expect('Content-Type', /json/);
      assert.deepEqual(first.body, {
        id: new URL(url).username, plan: 'test', status: 'provisioned', limits: { api_calls: 1000 }, usage: { api_calls: 1 },
      });
      const second = await callApi(app, url).expect(200);
      assert.equal(second.body.usage.api_calls, 2);
    });

    it('answers wrong, missing or another resource\'s credentials with 401 JSON', async () => {
      const { app } = newApp(ctx.db);
      const url = new URL(await provisioned(app));
      const other = new URL(await provisioned(app));
      for (const req of [
        request(app).get('/api/resource'),
        request(app).get('/api/resource').auth(url.username, 'wrong'),
        request(app).get('/api/resource').auth(url.username, other.password),
        request(app).get('/api/resource').auth('not-an-id', url.password),
      ]) {
        const res = await req.expect(401).expect('Content-Type', /json/);
        assert.match(res.headers['www-authenticate'], /^Basic realm=/);
        assert.equal(typeof res.body.message, 'string');
      }
    });

    it('answers 429 once the plan\'s limit is reached, until a plan change allows more', async () => {
      const { app } = newApp(ctx.db);
      const url = await provisioned(app);
      const { username: id } = new URL(url);
      await ctx.db.query('update resources set api_calls = 1000 where id = $1', [id]);
      const limited = await callApi(app, url).expect(429).expect('Content-Type', /json/);
      assert.match(limited.body.message, /plan/);
      await partner(app).changePlan(id, { plan: 'premium' }).expect(200);
      const res = await callApi(app, url).expect(200);
      assert.equal(res.body.usage.api_calls, 1001);
    });

    describe('examples/consumer.js', () => {
      it('prints the resource\'s status and exits 0, then is refused once the resource is deprovisioned', async () => {
        const { app } = newApp(ctx.db, { settingsOverride: { publicUrl: undefined } });
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        try {
          const created = await partner(server).provision(v3Body()).expect(201);
          const url = created.body.config[CONFIG_VAR];
          const ok = await consumer({ [CONFIG_VAR]: url });
          assert.equal(ok.code, 0, ok.stderr);
          assert.match(ok.stdout, new RegExp(`resource ${created.body.id}: provisioned on plan test`));
          assert.ok(!ok.stdout.includes(new URL(url).password), 'the consumer does not print the token');
          await partner(server).deprovision(created.body.id).expect(204);
          const refused = await consumer({ [CONFIG_VAR]: url });
          assert.equal(refused.code, 1);
          assert.match(refused.stderr, /401/);
        } finally {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        }
      });

      it('exits 1 with a message naming the variable when it is missing', async () => {
        const res = await consumer({ [CONFIG_VAR]: '' });
        assert.equal(res.code, 1);
        assert.match(res.stderr, new RegExp(`${CONFIG_VAR} is not set`));
      });
    });
  });
});
