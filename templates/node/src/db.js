import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// One small interface over the two databases the service runs on, so the SQL is the same:
//   - Postgres through node-postgres (`pg`) when DATABASE_URL is set (Heroku Postgres sets it);
//   - otherwise PGlite, Postgres compiled to WebAssembly and run inside this process, stored
//     under data/ in the project directory: nothing to install or start on a laptop.
//
// db.query(sql, params) → { rows, rowCount }     one statement, $1-style parameters
// db.exec(sql)                                    a script of several statements (migrations)
// db.transaction(async (tx) => …)                 tx has query and exec; commits or rolls back
// db.close()

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

export async function openDatabase({ databaseUrl, dataDir, schema } = {}) {
  return databaseUrl ? openPostgres(databaseUrl, { schema }) : openPGlite(dataDir);
}

// --- Postgres ------------------------------------------------------------------------------

// Whether node-postgres should use TLS for this URL: Heroku Postgres requires it, with a
// certificate that does not verify against the usual roots (hence rejectUnauthorized: false);
// a server on this machine (loopback or a Unix socket) usually has no TLS at all.
export function postgresTls(databaseUrl) {
  const url = new URL(databaseUrl);
  const host = decodeURIComponent(url.hostname || url.searchParams.get('host') || '');
  return host === '' || host.startsWith('/') || LOOPBACK.test(host) ? false : { rejectUnauthorized: false };
}

async function openPostgres(databaseUrl, { schema } = {}) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    ssl: postgresTls(databaseUrl),
    max: Number.parseInt(process.env.DATABASE_POOL_SIZE, 10) || 10,
    // Nothing waits forever: connecting, a statement, an idle connection.
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
    statement_timeout: 30_000,
    idleTimeoutMillis: 30_000,
    application_name: 'addon-service',
    // Tests run in a schema of their own.
    ...(schema && { options: `-c search_path=${schema}` }),
  });
  // A connection that breaks while idle in the pool must not crash the process.
  pool.on('error', (err) => console.error(`database connection error: ${err.message}`));
  const run = (client) => ({
    async query(sql, params = []) {
      const { rows, rowCount } = await client.query(sql, params);
      return { rows, rowCount };
    },
    async exec(sql) {
      await client.query(sql); // no parameters: the simple protocol, several statements allowed
    },
  });
  return {
    kind: 'postgres',
    ...run(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn(run(client));
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

// --- PGlite --------------------------------------------------------------------------------

// One process at a time may open a PGlite data directory (two would corrupt it, and PGlite
// does not check): a lock file holds the owner's pid. A lock left by a process that died (kill
// -9, a crash) is taken over.
function lockDataDir(dataDir) {
  const lockFile = join(dirname(dataDir), `${dataDir.split(/[\\/]/).pop()}.lock`);
  mkdirSync(dirname(dataDir), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => { try { unlinkSync(lockFile); } catch { /* already gone */ } };
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new Error(`the embedded database ${dataDir} is in use by process ${owner}; stop it first (or set DATABASE_URL)`);
      }
      unlinkSync(lockFile); // stale: its process is gone
    }
  }
  throw new Error(`cannot lock the embedded database ${dataDir}`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// dataDir undefined: in memory (tests).
async function openPGlite(dataDir) {
  // Loaded only here: a service on Heroku Postgres never loads the WebAssembly.
  const { PGlite } = await import('@electric-sql/pglite');
  const unlock = dataDir ? lockDataDir(dataDir) : () => {};
  let pglite;
  try {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    pglite = await PGlite.create(dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  const run = (handle) => ({
    async query(sql, params = []) {
      const { rows, affectedRows } = await handle.query(sql, params);
      return { rows, rowCount: affectedRows ?? rows.length };
    },
    async exec(sql) {
      await handle.exec(sql);
    },
  });
  return {
    kind: 'pglite',
    ...run(pglite),
    // PGlite runs one statement at a time; a transaction holds it until it ends.
    transaction: (fn) => pglite.transaction((tx) => fn(run(tx))),
    async close() {
      try {
        await pglite.close();
      } finally {
        unlock();
      }
    },
  };
}
