import express from 'express';
// cookie-session (maintained by the Express team) keeps the small session, a resource id and
// the nav-data names, in a signed cookie: nothing to store server-side, so it survives restarts
// and works across dynos. express-session would need a session store (its default one leaks
// memory and is not for production) just to remember those few fields. The cookie is signed,
// not encrypted: the user can read it but not change it, so never put secrets in the session.
import cookieSession from 'cookie-session';
import { CONFIG_VAR } from './config.js';
import { HerokuClient } from './heroku.js';
import { AsyncProvisioner } from './provisioning.js';
import { resourcesRouter } from './resources.js';
import { ssoRouter } from './sso.js';
import { MemoryStore } from './store.js';

// Builds the app without listening, so tests drive it in process (server.js listens). `heroku`
// is the client for Heroku's API used by asynchronous provisioning; `logger` gets its reports.
export function createApp(settings, {
  store = new MemoryStore(),
  log = true,
  heroku = new HerokuClient({ clientSecret: settings.clientSecret, identityUrl: settings.identityUrl }),
  logger = log ? console : undefined,
} = {}) {
  const app = express();
  app.disable('x-powered-by');

  const configFor = (resource) => ({ [CONFIG_VAR]: `${settings.publicUrl}/resources/${resource.id}` });
  const provisioner = new AsyncProvisioner({ store, heroku, configFor, logger });
  // server.js waits for background jobs on shutdown; tests wait for them too.
  app.locals.provisioner = provisioner;

  if (log) {
    // Method, path and status only: query strings carry SSO tokens, headers carry the password.
    app.use((req, res, next) => {
      const { method, path } = req; // read now: routers rewrite req.path while they run
      res.on('finish', () => console.log(`${method} ${path} ${res.statusCode}`));
      next();
    });
  }

  app.use(cookieSession({
    name: 'session',
    keys: [settings.sessionSecret],
    httpOnly: true,
    // Lax still sends the cookie on the top-level redirect that follows Heroku's SSO POST.
    sameSite: 'lax',
    maxAge: 8 * 60 * 60 * 1000,
  }));

  app.use(ssoRouter({ settings, store }));
  app.use('/heroku/resources', resourcesRouter({ settings, store, provisioner, configFor }));

  app.use((req, res) => res.status(404).json({ message: 'Not found.' }));

  // Express 5 forwards rejected promises here too. Client errors (malformed JSON, bad encoding,
  // oversized body) get their status and a JSON message; anything else is a logged 500.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? err.statusCode;
    if (Number.isInteger(status) && status >= 400 && status < 500) {
      const message = err.type === 'entity.parse.failed' ? 'Malformed JSON in the request body.'
        : err.expose ? err.message : 'Bad request.';
      return res.status(status).json({ message });
    }
    console.error(err);
    res.status(500).json({ message: 'Internal error.' });
  });

  return app;
}
