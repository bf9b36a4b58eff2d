// Applies the database migrations: the Procfile's `release:` line (Heroku runs it before every
// deploy goes live) and `npm run migrate`. DATABASE_URL selects Postgres; without it, the
// embedded database under data/.
import { openDatabase } from '../src/db.js';
import { migrate } from '../src/migrate.js';
import { databaseUrlFromEnv, EMBEDDED_DATA_DIR } from '../src/settings.js';

let db;
try {
  db = await openDatabase({ databaseUrl: databaseUrlFromEnv(), dataDir: EMBEDDED_DATA_DIR });
  const applied = await migrate(db, { log: (line) => console.log(line) });
  const where = db.kind === 'postgres' ? 'Postgres (DATABASE_URL)' : EMBEDDED_DATA_DIR;
  console.log(applied.length > 0 ? `migrated ${where}` : `${where} is up to date`);
} catch (err) {
  console.error(`migrate: ${err.message}`);
  process.exitCode = 1;
} finally {
  await db?.close();
}
