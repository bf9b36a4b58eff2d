import { createApp } from './src/app.js';
import { ADDON_NAME } from './src/config.js';
import { openDatabase } from './src/db.js';
import { prepareSchema } from './src/migrate.js';
import { EMBEDDED_DATA_DIR, settingsFromEnv } from './src/settings.js';

const fail = (message) => {
  console.error(`${ADDON_NAME}: ${message}`);
  process.exit(1);
};

let settings;
try {
  settings = settingsFromEnv();
} catch (err) {
  fail(err.message);
}

let db;
try {
  db = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: EMBEDDED_DATA_DIR });
  await prepareSchema(db, { production: settings.production, log: console.log });
} catch (err) {
  fail(`database: ${err.message}`);
}
console.log(`${ADDON_NAME}: database ${db.kind === 'postgres' ? 'Postgres (DATABASE_URL)' : `embedded PGlite in ${EMBEDDED_DATA_DIR}`}`);

// Heroku (and `heroku local`) set PORT; the app itself never listens, so tests can import it.
const app = createApp(settings, { db });
const { worker } = app.locals;
const server = app.listen(settings.port, () => {
  console.log(`${ADDON_NAME} listening on port ${settings.port}`);
  if (!settings.ssoSalt) console.log(`${ADDON_NAME}: single sign-on is off (SSO_SALT is not set)`);
  worker.start(); // resumes unfinished asynchronous jobs, then polls for due ones
});

// Dynos get SIGTERM, then SIGKILL 30 s later: finish in-flight requests and the job steps under
// way (each call has a deadline; an unfinished job resumes on the next start), then exit.
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 25_000).unref();
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  Promise.all([closed, worker.stop()])
    .then(() => db.close())
    .catch((err) => console.error(`${ADDON_NAME}: shutdown: ${err.message}`))
    .finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
