import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Versioned schema migrations: migrations/NNN_what.sql, applied in order, each once. The
// schema_migrations table records the versions applied. `npm run migrate` (the Procfile's
// release: line, which Heroku runs before every deploy goes live) applies them; in development
// the server applies them on start.

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

// Any constant works: every process that migrates this database takes the same lock.
const LOCK_KEY = 72_311_017;

export function migrationFiles(dir = MIGRATIONS_DIR) {
  return readdirSync(dir)
    .filter((name) => /^\d+_[\w-]+\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: name.replace(/\.sql$/, ''), path: `${dir}/${name}` }));
}

async function appliedVersions(q) {
  const { rows: [{ exists }] } = await q.query("select to_regclass('schema_migrations') is not null as exists");
  if (!exists) return new Set();
  const { rows } = await q.query('select version from schema_migrations');
  return new Set(rows.map((row) => row.version));
}

// The versions not applied yet.
export async function pendingMigrations(db, dir = MIGRATIONS_DIR) {
  const applied = await appliedVersions(db);
  return migrationFiles(dir).filter(({ version }) => !applied.has(version)).map(({ version }) => version);
}

// Applies what is pending, all in one transaction (Postgres DDL is transactional: a failed
// migration leaves nothing half done). The advisory lock makes concurrent runs (two dynos
// starting, a release phase racing a developer) wait for each other instead of colliding.
// Returns the versions it applied.
export async function migrate(db, { dir = MIGRATIONS_DIR, log = () => {} } = {}) {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`create table if not exists schema_migrations (
      version text primary key,
      applied_at timestamptz not null default now()
    )`);
    const applied = await appliedVersions(tx);
    const done = [];
    for (const { version, path } of migrationFiles(dir)) {
      if (applied.has(version)) continue;
      await tx.exec(readFileSync(path, 'utf8'));
      await tx.query('insert into schema_migrations (version) values ($1)', [version]);
      log(`applied migration ${version}`);
      done.push(version);
    }
    return done;
  });
}

// What the web process does with the schema on start. In development it migrates (starting is
// one step). In production (NODE_ENV=production) the release phase has migrated before the
// deploy went live: a pending migration means it did not run, and the process refuses to
// serve a schema it was not written for. Returns the versions applied; throws when refused.
export async function prepareSchema(db, { production, log, dir = MIGRATIONS_DIR } = {}) {
  if (!production) return migrate(db, { dir, log });
  const pending = await pendingMigrations(db, dir);
  if (pending.length > 0) {
    throw new Error(`migrations pending (${pending.join(', ')}): run \`npm run migrate\``
      + ' (the Procfile\'s release: line does it on Heroku)');
  }
  return [];
}
