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
const server = createApp(settings).listen(settings.port, () => {
  console.log(`${ADDON_NAME} listening on port ${settings.port}`);
});

// Dynos get SIGTERM before they stop: finish in-flight requests, then exit.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
