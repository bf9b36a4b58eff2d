import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { ADDON_ID, CONFIG_VAR } from '../src/config.js';

const settings = {
  username: ADDON_ID,
  password: 'test-password',
  ssoSalt: 'test-salt',
  sessionSecret: 'test-session-secret',
  publicUrl: 'http://localhost:5000',
};
const newApp = () => createApp(settings, { log: false });

const v3Body = (extra = {}) => ({
  uuid: randomUUID(),
  name: 'acme-inc-primary-database',
  plan: 'test',
  region: 'amazon-web-services::us-east-1',
  callback_url: 'https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef',
  oauth_grant: { code: randomUUID(), expires_at: '2030-01-01T00:00:00Z', type: 'authorization_code' },
  options: { foo: 'bar' },
  some_future_field: true,
  ...extra,
});

const provision = (app, body) =>
  request(app).post('/heroku/resources').auth(settings.username, settings.password).send(body);

describe('POST /heroku/resources (provision)', () => {
  it('creates a resource: 201 with id, config URL and message', async () => {
    const res = await provision(newApp(), v3Body()).expect(201).expect('Content-Type', /json/);
    assert.equal(typeof res.body.id, 'string');
    assert.ok(res.body.id.length > 0);
    assert.deepEqual(res.body.config, { [CONFIG_VAR]: `http://localhost:5000/resources/${res.body.id}` });
    assert.equal(typeof res.body.message, 'string');
  });

  it('accepts a v1 body and never derives the id from heroku_id', async () => {
    const res = await provision(newApp(), {
      heroku_id: 'app123@heroku.com', plan: 'test', region: 'us',
      callback_url: 'http://localhost:7779/callback/999', logplex_token: 'logplex', options: {},
    }).expect(201);
    assert.ok(!res.body.id.includes('app123'));
  });

  it('replays the same uuid as the same resource (200, same id and config)', async () => {
    const app = newApp();
    const body = v3Body();
    const first = await provision(app, body).expect(201);
    const again = await provision(app, { ...body, plan: 'foo' }).expect(200);
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body.config, first.body.config);
  });

  it('gives a different uuid, or no uuid, a different resource', async () => {
    const app = newApp();
    const a = await provision(app, v3Body()).expect(201);
    const b = await provision(app, v3Body()).expect(201);
    const c = await provision(app, { plan: 'test' }).expect(201);
    const d = await provision(app, { plan: 'test' }).expect(201);
    assert.equal(new Set([a.body.id, b.body.id, c.body.id, d.body.id]).size, 4);
  });

  it('refuses wrong and missing credentials with 401, a Basic challenge and JSON', async () => {
    const app = newApp();
    for (const req of [
      request(app).post('/heroku/resources').auth(settings.username, 'wrong').send(v3Body()),
      request(app).post('/heroku/resources').auth('someone-else', settings.password).send(v3Body()),
      request(app).post('/heroku/resources').set('Authorization', 'Basic !!!').send(v3Body()),
      request(app).post('/heroku/resources').send(v3Body()),
    ]) {
      const res = await req.expect(401).expect('Content-Type', /json/);
      assert.match(res.headers['www-authenticate'], /^Basic realm="[^"]*"$/);
      assert.equal(typeof res.body.message, 'string');
    }
  });

  it('answers malformed JSON with 400 and a JSON message', async () => {
    const res = await request(newApp()).post('/heroku/resources').auth(settings.username, settings.password)
      .set('Content-Type', 'application/json').send('{"plan": "test",').expect(400).expect('Content-Type', /json/);
    assert.equal(typeof res.body.message, 'string');
  });

  it('answers a missing or empty plan, or a body that is not an object, with 422', async () => {
    const app = newApp();
    for (const body of [{ uuid: randomUUID() }, { plan: '' }, { plan: 42 }, '[]', '"test"', 'null']) {
      const req = request(app).post('/heroku/resources').auth(settings.username, settings.password)
        .set('Content-Type', 'application/json');
      const res = await req.send(body).expect(422).expect('Content-Type', /json/);
      assert.equal(typeof res.body.message, 'string');
    }
  });
});

describe('PUT /heroku/resources/:id (plan change)', () => {
  it('changes the plan and returns the same config', async () => {
    const app = newApp();
    const { body: created } = await provision(app, v3Body()).expect(201);
    const res = await request(app).put(`/heroku/resources/${created.id}`)
      .auth(settings.username, settings.password).send({ plan: 'foo', uuid: 'whatever' }).expect(200);
    assert.deepEqual(res.body.config, created.config);
    assert.equal(typeof res.body.message, 'string');
  });

  it('answers 404 for an unknown id, 400 for malformed JSON, 422 without a plan, 401 without auth', async () => {
    const app = newApp();
    const { body: created } = await provision(app, v3Body()).expect(201);
    const put = (id) => request(app).put(`/heroku/resources/${id}`).set('Content-Type', 'application/json');
    const unknown = await put('no-such-id').auth(settings.username, settings.password).send({ plan: 'foo' }).expect(404);
    assert.equal(typeof unknown.body.message, 'string');
    await put(created.id).auth(settings.username, settings.password).send('{plan').expect(400).expect('Content-Type', /json/);
    await put(created.id).auth(settings.username, settings.password).send({}).expect(422);
    await put(created.id).send({ plan: 'foo' }).expect(401).expect('WWW-Authenticate', /^Basic realm=/);
  });
});

describe('DELETE /heroku/resources/:id (deprovision)', () => {
  it('deletes with 204 and no body, then 404; the uuid can be provisioned again', async () => {
    const app = newApp();
    const body = v3Body();
    const { body: created } = await provision(app, body).expect(201);
    const del = () => request(app).delete(`/heroku/resources/${created.id}`).auth(settings.username, settings.password);
    const res = await del().expect(204);
    assert.equal(res.text, '');
    const gone = await del().expect(404).expect('Content-Type', /json/);
    assert.equal(typeof gone.body.message, 'string');
    const again = await provision(app, body).expect(201);
    assert.notEqual(again.body.id, created.id);
  });

  it('requires credentials', async () => {
    const app = newApp();
    const { body: created } = await provision(app, v3Body()).expect(201);
    await request(app).delete(`/heroku/resources/${created.id}`).expect(401);
    await request(app).delete(`/heroku/resources/${created.id}`).auth(settings.username, settings.password).expect(204);
  });
});

describe('anything else', () => {
  it('answers unknown routes and bad paths with JSON, never a crash', async () => {
    const app = newApp();
    await request(app).get('/nope').expect(404).expect('Content-Type', /json/);
    await request(app).delete('/heroku/resources/%E0%A4%A').auth(settings.username, settings.password)
      .expect(400).expect('Content-Type', /json/);
  });
});
