import { createHmac } from 'node:crypto';
import { DEFAULT_PORT } from './config.js';

const REQUIRED = ['HEROKU_USERNAME', 'HEROKU_PASSWORD', 'SSO_SALT'];

// Reads the runtime settings from the environment (the .env written by kensa locally,
// `heroku config:set` in production). Fails early and by name, never printing values.
export function settingsFromEnv(env = process.env) {
  const missing = REQUIRED.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(`missing environment variable(s): ${missing.join(', ')} (see .env)`);
  }
  const port = Number.parseInt(env.PORT, 10) || DEFAULT_PORT;
  return {
    port,
    username: env.HEROKU_USERNAME,
    password: env.HEROKU_PASSWORD,
    ssoSalt: env.SSO_SALT,
    // A separate SESSION_SECRET lets you rotate sessions without touching the SSO salt; without
    // one, derive a key from the salt rather than reusing the salt itself.
    sessionSecret:
      env.SESSION_SECRET || createHmac('sha256', env.SSO_SALT).update('session-cookie').digest('hex'),
    // Base of the URL handed to apps in the config var; set PUBLIC_URL in production.
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    // Asynchronous provisioning: the OAuth client secret from Heroku's Partner Portal (needed only
    // by the async plan), and where Heroku's identity service is when not derived from callback_url.
    clientSecret: env.HEROKU_CLIENT_SECRET || undefined,
    identityUrl: env.HEROKU_IDENTITY_URL || undefined,
  };
}
