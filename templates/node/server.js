import { createApp } from './src/app.js';
import { ADDON_NAME } from './src/config.js';
import { settingsFromEnv } from './src/settings.js';

let settings;
try {
  settings = settingsFromEnv();
} catch (err) {
  console.error(`${ADDON_NAME}: ${err.message}`);
  process.exit(1);
}

// Heroku (and `heroku local`) set PORT; the app itself never listens, so tests can import it.
const app = createApp(settings);
const server = app.listen(settings.port, () => {
  console.log(`${ADDON_NAME} listening on port ${settings.port}`);
});

// Dynos get SIGTERM, then SIGKILL 30 s later: finish in-flight requests and background
// provisioning jobs (each bounded by its retries and timeouts), then exit.
process.on('SIGTERM', () => {
  const closed = new Promise((resolve) => server.close(resolve));
  Promise.all([closed, app.locals.provisioner.settled()]).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 25_000).unref();
});
