import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import { eachDatabase, newApp, partner, settings } from './helpers.js';

// Tokens computed independently of src/tokens.js, the way Heroku does.
const sha = (algorithm, text) => createHash(algorithm).update(text).digest('hex');
const now = () => Math.floor(Date.now() / 1000);
const navData = Buffer.from(JSON.stringify({ addon: 'Shiny Addon', appname: 'my-app' })).toString('base64url');

const v1Params = (id, timestamp = now()) => ({
  id, timestamp: String(timestamp), token: sha('sha1', `${id}:${settings.ssoSalt}:${timestamp}`),
  'nav-data': navData, email: 'user@example.com', app: 'my-app',
});
const v3Params = (uuid, timestamp = now()) => ({
  resource_id: uuid, timestamp: String(timestamp),
  resource_token: sha('sha1', `${uuid}:${settings.ssoSalt}:${timestamp}`),
  user_scoped_resource_token: sha('sha256', `${uuid}:${settings.ssoSalt}:${timestamp}:user-uuid:user@example.com`),
  user_id: 'user-uuid', email: 'user@example.com', app: 'my-app', context_app: 'my-app', 'nav-data': navData,
});

const postLogin = (agent, params) => agent.post('/sso/login').type('form').send(params);
const getLogin = (agent, params) => {
  const { id, ...query } = params;
  return agent.get(`/heroku/resources/${encodeURIComponent(id)}`).query(query);
};

async function assertLoggedIn(agent, res, expectedNavData = navData) {
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, '/');
  const cookies = res.headers['set-cookie'].join('\n');
  assert.ok(cookies.includes(`heroku-nav-data=${expectedNavData}; Path=/`), cookies);
  return agent.get('/').expect(200).expect('Content-Type', /html/);
}

eachDatabase((ctx) => {
  let app;
  let resource; // { id, uuid }

  beforeEach(async () => {
    app = newApp(ctx.db).app;
    const uuid = randomUUID();
    const res = await partner(app).provision({ uuid, plan: 'test' }).expect(201);
    resource = { id: res.body.id, uuid };
  });

  describe('SSO', () => {
    it('logs in with a v1 token by form POST and shows the dashboard with the heroku header', async () => {
      const agent = request.agent(app);
      const page = await assertLoggedIn(agent, await postLogin(agent, v1Params(resource.id)));
      assert.match(page.text, /<div id="heroku-header">[^<]*<strong>Shiny Addon<\/strong>[^<]*<strong>my-app<\/strong>/);
      assert.ok(page.text.includes(resource.id));
      assert.ok(page.text.includes('test')); // the plan
    });

    it('logs in with a v1 token by legacy GET', async () => {
      const agent = request.agent(app);
      const page = await assertLoggedIn(agent, await getLogin(agent, v1Params(resource.id)));
      assert.ok(page.text.includes('id="heroku-header"'));
    });

    it('logs in with v3 resource_token and user_scoped_resource_token, by POST and GET', async () => {
      let agent = request.agent(app);
      await assertLoggedIn(agent, await postLogin(agent, v3Params(resource.uuid)));
      agent = request.agent(app);
      await assertLoggedIn(agent, await getLogin(agent, { id: resource.id, ...v3Params(resource.uuid) }));
      agent = request.agent(app);
      const { user_scoped_resource_token: _unused, ...withoutUserToken } = v3Params(resource.uuid);
      await assertLoggedIn(agent, await postLogin(agent, withoutUserToken));
    });

    it('refuses a wrong token, or a wrong extra token, with 403', async () => {
      const agent = request.agent(app);
      await postLogin(agent, { ...v1Params(resource.id), token: 'f'.repeat(40) }).expect(403);
      await postLogin(agent, { ...v3Params(resource.uuid), resource_token: 'f'.repeat(40) }).expect(403);
      await postLogin(agent, { ...v3Params(resource.uuid), user_scoped_resource_token: 'f'.repeat(64) }).expect(403);
      await postLogin(agent, { ...v3Params(resource.uuid), email: 'someone@else.com' }).expect(403);
      const { token: _token, ...noToken } = v1Params(resource.id);
      await postLogin(agent, noToken).expect(403);
      // A token for the right resource but computed with another resource's id.
      await getLogin(agent, { ...v1Params('other-id'), id: resource.id }).expect(403);
    });

    it('refuses stale (6 min), future (6 min) and malformed timestamps with 403', async () => {
      const agent = request.agent(app);
      await postLogin(agent, v1Params(resource.id, now() - 360)).expect(403);
      await postLogin(agent, v1Params(resource.id, now() + 360)).expect(403);
      await getLogin(agent, v1Params(resource.id, now() - 360)).expect(403);
      await postLogin(agent, v3Params(resource.uuid, now() + 360)).expect(403);
      await postLogin(agent, { ...v1Params(resource.id), timestamp: '12.5' }).expect(403);
      await postLogin(agent, { ...v1Params(resource.id), timestamp: 'soon' }).expect(403);
    });

    it('answers an unknown resource with 404', async () => {
      const agent = request.agent(app);
      await getLogin(agent, v1Params('no-such-id')).expect(404);
      await postLogin(agent, v1Params('no-such-id')).expect(404);
      await postLogin(agent, v3Params(randomUUID())).expect(404);
    });

    it('survives garbage nav-data and odd parameters', async () => {
      let agent = request.agent(app);
      const res = await postLogin(agent, { ...v1Params(resource.id), 'nav-data': 'not base64 json!' });
      assert.equal(res.status, 302);
      const page = await agent.get('/').expect(200);
      assert.ok(page.text.includes('<div id="heroku-header"></div>'));

      // No nav-data at all: still logged in, just no nav-data cookie and an empty header.
      agent = request.agent(app);
      const { 'nav-data': _nav, ...withoutNav } = v1Params(resource.id);
      const bare = await postLogin(agent, withoutNav).expect(302);
      assert.ok(!bare.headers['set-cookie'].join('\n').includes('heroku-nav-data'));
      await agent.get('/').expect(200);

      // Repeated parameters arrive as arrays: refused, not a crash.
      agent = request.agent(app);
      await agent.post('/sso/login').type('form')
        .send(`id=${resource.id}&id=${resource.id}&token=a&token=b&timestamp=1`).expect(404);
      await agent.get(`/heroku/resources/${resource.id}?token=a&token=b&timestamp=${now()}`).expect(403);
    });

    it('HTML-escapes what nav-data says', async () => {
      const evil = Buffer.from(JSON.stringify({ addon: '<b>x</b>', appname: '<script>alert(1)</script>' }))
        .toString('base64url');
      const agent = request.agent(app);
      const page = await assertLoggedIn(agent, await postLogin(agent, { ...v1Params(resource.id), 'nav-data': evil }), evil);
      assert.ok(!page.text.includes('<script>alert'));
      assert.ok(page.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    });
  });

  describe('GET / (dashboard)', () => {
    it('answers 403 without a session', async () => {
      const res = await request(app).get('/').expect(403);
      assert.match(res.text, /log in through Heroku/);
    });

    it('answers 403 once the resource is deprovisioned', async () => {
      const agent = request.agent(app);
      await assertLoggedIn(agent, await postLogin(agent, v1Params(resource.id)));
      await partner(app).deprovision(resource.id).expect(204);
      await agent.get('/').expect(403);
      await postLogin(agent, v1Params(resource.id)).expect(404);
    });

    it('ignores a forged session cookie', async () => {
      const forged = Buffer.from(JSON.stringify({ resourceId: resource.id })).toString('base64');
      await request(app).get('/').set('Cookie', `session=${forged}; session.sig=forged`).expect(403);
    });
  });

  describe('cookies', () => {
    const cookiesOf = (res) => res.headers['set-cookie'];

    it('are HttpOnly (the session) and SameSite=Lax, and not Secure over plain http', async () => {
      const res = await postLogin(request(app), v1Params(resource.id)).expect(302);
      const session = cookiesOf(res).filter((c) => c.startsWith('session'));
      assert.ok(session.length > 0);
      for (const cookie of session) {
        assert.match(cookie, /; httponly/i);
        assert.match(cookie, /; samesite=lax/i);
        assert.doesNotMatch(cookie, /; secure/i);
      }
      const nav = cookiesOf(res).find((c) => c.startsWith('heroku-nav-data='));
      assert.match(nav, /; samesite=lax/i);
      assert.doesNotMatch(nav, /; httponly/i, 'Heroku\'s header script reads it');
    });

    it('are Secure when the request came over https (X-Forwarded-Proto from Heroku\'s router)', async () => {
      const res = await postLogin(request(app), v1Params(resource.id)).set('X-Forwarded-Proto', 'https').expect(302);
      for (const cookie of cookiesOf(res)) assert.match(cookie, /; secure/i, cookie);
    });
  });

  describe('without SSO_SALT (kensa create --without-sso)', () => {
    it('still provisions, and answers the SSO routes 404 with a JSON message', async () => {
      const { app: noSso } = newApp(ctx.db, { settingsOverride: { ssoSalt: undefined } });
      const created = await partner(noSso).provision({ uuid: randomUUID(), plan: 'test' }).expect(201);
      for (const res of [
        await postLogin(request(noSso), v1Params(created.body.id)),
        await getLogin(request(noSso), v1Params(created.body.id)),
      ]) {
        assert.equal(res.status, 404);
        assert.match(res.headers['content-type'], /json/);
        assert.match(res.body.message, /not enabled/);
      }
      await request(noSso).get('/').expect(403);
    });
  });
});
