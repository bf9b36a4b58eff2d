import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORT } from './config.js';
import { parseEncryptionKey } from './crypto.js';

// The project directory (where package.json is): the embedded database lives in its data/.
export const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
export const EMBEDDED_DATA_DIR = fileURLToPath(new URL('../data/pglite', import.meta.url));

const REQUIRED = ['HEROKU_USERNAME', 'HEROKU_PASSWORD', 'ENCRYPTION_KEY'];

// DATABASE_URL, or undefined for the embedded database. In production (NODE_ENV=production, as
// Heroku's Node.js buildpack sets) the embedded database is refused: a dyno's filesystem is
// discarded at every restart, and every resource with it.
export function databaseUrlFromEnv(env = process.env) {
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  if (!databaseUrl && env.NODE_ENV === 'production') {
    throw new Error('NODE_ENV=production needs DATABASE_URL (on Heroku: heroku addons:create heroku-postgresql); '
      + 'the embedded database would be lost with the dyno\'s filesystem');
  }
  return databaseUrl;
}

// Reads the runtime settings from the environment (the .env written by kensa locally,
// `heroku config:set` in production). Fails early and by name, never printing a value.
export function settingsFromEnv(env = process.env) {
  const missing = REQUIRED.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(`missing environment variable(s): ${missing.join(', ')} (see .env)`);
  }
  const encryptionKey = parseEncryptionKey(env.ENCRYPTION_KEY);
  const port = Number.parseInt(env.PORT, 10) || DEFAULT_PORT;
  const databaseUrl = databaseUrlFromEnv(env);
  const delay = env.ASYNC_DELAY_SECONDS === undefined || env.ASYNC_DELAY_SECONDS === ''
    ? 0 : Number(env.ASYNC_DELAY_SECONDS);
  if (!Number.isFinite(delay) || delay < 0) {
    throw new Error('ASYNC_DELAY_SECONDS must be a number of seconds (0 or more)');
  }
  return {
    port,
    production: env.NODE_ENV === 'production',
    databaseUrl,
    username: env.HEROKU_USERNAME,
    password: env.HEROKU_PASSWORD,
    // Without SSO_SALT single sign-on is off (`kensa create --without-sso`): the service still
    // runs and its SSO routes say so.
    ssoSalt: env.SSO_SALT || undefined,
    encryptionKey,
    // A separate SESSION_SECRET lets you rotate sessions on its own; without one, derive a key
    // from ENCRYPTION_KEY rather than reusing that key itself.
    sessionSecret: env.SESSION_SECRET
      || createHmac('sha256', encryptionKey).update('session-cookie').digest('hex'),
    // Base of the config var's URL. Unset: taken from the provision request (Host and
    // X-Forwarded-Proto, which Heroku's router sets) and kept with the resource.
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : undefined,
    // Asynchronous provisioning: the OAuth client secret from Heroku's Partner Portal, and where
    // Heroku's identity service is when it is not derived from callback_url (src/identity.js).
    clientSecret: env.HEROKU_CLIENT_SECRET || undefined,
    identityUrl: env.HEROKU_IDENTITY_URL ? env.HEROKU_IDENTITY_URL.replace(/\/+$/, '') : undefined,
    asyncDelaySeconds: delay,
  };
}
