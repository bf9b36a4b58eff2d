import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNavData, resourceToken, timestampIsFresh, userScopedResourceToken, v1Token } from '../src/tokens.js';
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
  const env = { HEROKU_USERNAME: 'u', HEROKU_PASSWORD: 'p', SSO_SALT: 's' };

  it('names missing variables without printing values', () => {
    assert.throws(() => settingsFromEnv({ HEROKU_PASSWORD: 'p' }), /HEROKU_USERNAME, SSO_SALT/);
  });

  it('defaults the public URL from PORT and derives a session secret from the salt', () => {
    const s = settingsFromEnv({ ...env, PORT: '6000' });
    assert.equal(s.port, 6000);
    assert.equal(s.publicUrl, 'http://localhost:6000');
    assert.notEqual(s.sessionSecret, 's');
    assert.equal(settingsFromEnv({ ...env, PUBLIC_URL: 'https://x.example/', SESSION_SECRET: 'k' }).publicUrl, 'https://x.example');
    assert.equal(settingsFromEnv({ ...env, SESSION_SECRET: 'k' }).sessionSecret, 'k');
  });
});
