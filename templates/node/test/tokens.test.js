import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNavData, resourceToken, timestampIsFresh, userScopedResourceToken, v1Token } from '../src/tokens.js';
import { hashToken, newApiToken, SecretBox } from '../src/crypto.js';
import { settingsFromEnv } from '../src/settings.js';

describe('tokens', () => {
  it('matches the published v1 test vector', () => {
    assert.equal(v1Token('123', '2f97bfa52ca102f8874716e2eb1d3b4920ad0be4', '1267597772'),
      'bb466eb1d6bc345d11072c3cd25c311f21be130d');
  });

  it('computes v3 tokens with sha1 and sha256', () => {
    assert.match(resourceToken('u', 's', '1'), /^[0-9a-f]{40}$/);
    assert.match(userScopedResourceToken('u', 's', '1', 'id', 'e@x'), /^[0-9a-f]{64}$/);
  });

  it('accepts timestamps up to 5 minutes old and 1 minute ahead', () => {
    const now = 1_700_000_000;
    assert.ok(timestampIsFresh(String(now), now));
    assert.ok(timestampIsFresh(String(now - 300), now));
    assert.ok(timestampIsFresh(String(now + 60), now));
    assert.ok(!timestampIsFresh(String(now - 301), now));
    assert.ok(!timestampIsFresh(String(now + 61), now));
    for (const bad of ['', '1.5', '1e9', 'abc', undefined, ['1']]) assert.ok(!timestampIsFresh(bad, now));
  });
});

describe('nav-data', () => {
  const json = JSON.stringify({ addon: 'My Addon', appname: 'my-app' });

  it('decodes base64url with or without padding', () => {
    const padded = Buffer.from(json).toString('base64');
    const unpadded = Buffer.from(json).toString('base64url');
    for (const value of [padded, unpadded]) {
      assert.deepEqual(decodeNavData(value), { addon: 'My Addon', app: 'my-app' });
    }
  });

  it('yields nothing for garbage', () => {
    for (const value of ['', '!!!', 'bnVsbA', Buffer.from('[1]').toString('base64url'), undefined]) {
      const nav = decodeNavData(value);
      assert.equal(nav.addon, undefined);
      assert.equal(nav.app, undefined);
    }
  });
});

describe('settings', () => {
  const KEY = 'ab'.repeat(32);
  const env = { HEROKU_USERNAME: 'u', HEROKU_PASSWORD: 'p', SSO_SALT: 's', ENCRYPTION_KEY: KEY };

  it('names missing variables without printing values', () => {
    assert.throws(() => settingsFromEnv({ HEROKU_PASSWORD: 'p' }), /HEROKU_USERNAME, ENCRYPTION_KEY/);
  });

  it('refuses a malformed ENCRYPTION_KEY, naming it but not its value', () => {
    for (const bad of ['abc', 'zz'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33)]) {
      assert.throws(() => settingsFromEnv({ ...env, ENCRYPTION_KEY: bad }), (err) =>
        /ENCRYPTION_KEY must be 64 hex characters/.test(err.message) && !err.message.includes(bad));
    }
    assert.equal(settingsFromEnv(env).encryptionKey.length, 32);
  });

  it('starts without SSO_SALT: single sign-on is off', () => {
    const { SSO_SALT: _s, ...withoutSso } = env;
    assert.equal(settingsFromEnv(withoutSso).ssoSalt, undefined);
    assert.equal(settingsFromEnv({ ...env, SSO_SALT: '' }).ssoSalt, undefined);
  });

  it('reads PORT, PUBLIC_URL, DATABASE_URL, ASYNC_DELAY_SECONDS and the session secret', () => {
    const s = settingsFromEnv({ ...env, PORT: '6000' });
    assert.equal(s.port, 6000);
    assert.equal(s.publicUrl, undefined, 'derived from each provision request');
    assert.equal(s.databaseUrl, undefined, 'the embedded database');
    assert.equal(s.asyncDelaySeconds, 0);
    assert.notEqual(s.sessionSecret, KEY);
    const t = settingsFromEnv({ ...env, PUBLIC_URL: 'https://x.example/', SESSION_SECRET: 'k', ASYNC_DELAY_SECONDS: '5',
      DATABASE_URL: 'postgres://u:p@db.example:5432/d', HEROKU_CLIENT_SECRET: 'cs', HEROKU_IDENTITY_URL: 'https://id.example/' });
    assert.equal(t.publicUrl, 'https://x.example');
    assert.equal(t.sessionSecret, 'k');
    assert.equal(t.asyncDelaySeconds, 5);
    assert.equal(t.databaseUrl, 'postgres://u:p@db.example:5432/d');
    assert.equal(t.clientSecret, 'cs');
    assert.equal(t.identityUrl, 'https://id.example');
    assert.throws(() => settingsFromEnv({ ...env, DATABASE_URL: 'mysql://x' }), /DATABASE_URL/);
    assert.throws(() => settingsFromEnv({ ...env, ASYNC_DELAY_SECONDS: 'soon' }), /ASYNC_DELAY_SECONDS/);
    assert.throws(() => settingsFromEnv({ ...env, NODE_ENV: 'production' }), /NODE_ENV=production needs DATABASE_URL/);
    assert.equal(settingsFromEnv({ ...env, NODE_ENV: 'production', DATABASE_URL: 'postgres://h/d' }).production, true);
  });
});

describe('sealed secrets (AES-256-GCM)', () => {
  const box = new SecretBox(Buffer.alloc(32, 1));

  it('round-trips, with a fresh nonce each time', () => {
    const a = box.seal('HRKU-secret-token', 'access_token:r1');
    const b = box.seal('HRKU-secret-token', 'access_token:r1');
    assert.notEqual(a, b);
    assert.ok(!a.includes('secret'));
    assert.equal(box.open(a, 'access_token:r1'), 'HRKU-secret-token');
  });

  it('refuses another key, another context or a changed value', () => {
    const sealed = box.seal('value', 'grant_code:r1');
    assert.throws(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'grant_code:r1'));
    assert.throws(() => box.open(sealed, 'grant_code:r2'));
    const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === 'A' ? 'B' : 'A'}${sealed.at(-1)}`;
    assert.throws(() => box.open(flipped, 'grant_code:r1'));
    assert.throws(() => box.open('garbage', 'grant_code:r1'));
  });

  it('hashes API tokens with SHA-256 and makes them from 256 random bits', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const token = newApiToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newApiToken(), token);
  });
});
