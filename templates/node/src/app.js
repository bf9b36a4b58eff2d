import express from 'express';
// cookie-session (maintained by the Express team) keeps the small session, a resource id and
// the nav-data names, in a signed cookie: nothing to store server-side, so it survives restarts
// and works across dynos. The cookie is signed, not encrypted: the user can read it but not
// change it, so never put secrets in the session.
import cookieSession from 'cookie-session';
import { SecretBox } from './crypto.js';
import { HerokuClient } from './heroku.js';
import { Provisioning } from './provisioning.js';
import { apiRouter } from './routes/api.js';
import { partnerRouter } from './routes/partner.js';
import { ssoRouter } from './routes/sso.js';
import { JobWorker } from './worker.js';

const QUIET = { log() {}, error() {} };

// Builds the app on an open database without listening, so tests drive it in process
// (server.js listens and starts the job worker: app.locals.worker). `heroku`: the client for
// Heroku's API used by asynchronous provisioning; `logger` gets the worker's reports;
// `workerOptions` tune its polling, lease and retries (tests make them short).
export function createApp(settings, {
  db,
  log = true,
  logger = log ? console : QUIET,
  heroku = new HerokuClient({ clientSecret: settings.clientSecret }),
  workerOptions = {},
}) {
  const box = new SecretBox(settings.encryptionKey);
  // The worker and the provisioning service need each other: the worker sets the config var
  // the service makes, and the service wakes the worker when there is a job.
  let worker;
  const provisioning = new Provisioning({
    db, box, wake: () => worker.wake(), asyncDelaySeconds: settings.asyncDelaySeconds,
  });
  worker = new JobWorker({
    db, box, heroku, logger, configFor: (resource) => provisioning.configFor(resource), ...workerOptions,
  });

  const app = express();
  app.locals.worker = worker;
  app.locals.provisioning = provisioning;
  app.disable('x-powered-by');
  // Heroku's router is one proxy hop: req.protocol and req.secure then follow the
  // X-Forwarded-Proto it sets (https for the public URL).
  app.set('trust proxy', 1);

  if (log) {
    // Method, path and status only: query strings carry SSO tokens, headers carry passwords.
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
  // Secure when the request came over https, so a local http run still gets its cookie.
  app.use((req, res, next) => {
    req.sessionOptions.secure = req.secure;
    next();
  });

  app.use(ssoRouter({ settings, db }));
  app.use('/heroku/resources', partnerRouter({ settings, provisioning, logger }));
  app.use(apiRouter({ db }));

  app.use((req, res) => res.status(404).json({ message: 'Not found.' }));

  // Express 5 forwards rejected promises here too. Client errors (malformed JSON, bad encoding,
  // an oversized body: 413) get their status and a JSON message; anything else is a logged 500.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status ?? err.statusCode;
    if (Number.isInteger(status) && status >= 400 && status < 500) {
      const message = err.type === 'entity.parse.failed' ? 'Malformed JSON in the request body.'
        : err.type === 'entity.too.large' ? 'The request body is too large.'
          : err.expose ? err.message : 'Bad request.';
      return res.status(status).json({ message });
    }
    console.error(err);
    res.status(500).json({ message: 'Internal error.' });
  });

  return app;
}
