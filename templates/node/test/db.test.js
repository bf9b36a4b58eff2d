import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase, postgresTls } from '../src/db.js';
import { migrate, migrationFiles, pendingMigrations, prepareSchema } from '../src/migrate.js';
import { eachDatabase } from './helpers.js';

describe('migrations', () => {
  eachDatabase((ctx) => {
    it('applies every migration once, in order, and records it in schema_migrations', async () => {
      const all = migrationFiles().map((m) => m.version);
      assert.deepEqual(all, [...all].sort());
      assert.deepEqual(await pendingMigrations(ctx.db), all);
      assert.deepEqual(await migrate(ctx.db), all);
      assert.deepEqual(await pendingMigrations(ctx.db), []);
      assert.deepEqual(await migrate(ctx.db), [], 'a second run applies nothing');
      const { rows } = await ctx.db.query('select version from schema_migrations order by version');
      assert.deepEqual(rows.map((r) => r.version), all);
    });

    it('survives concurrent runs (the advisory lock serialises them)', async () => {
      const results = await Promise.all([migrate(ctx.db), migrate(ctx.db), migrate(ctx.db)]);
      assert.deepEqual(results, [[], [], []]);
    });

    it('in production (NODE_ENV=production) refuses pending migrations instead of applying them', async () => {
      // The real migrations (applied above) and a new one, as after a deploy whose release
      // phase did not run.
      const dir = mkdtempSync(join(tmpdir(), 'addon-migrations-'));
      try {
        for (const { version, path } of migrationFiles()) writeFileSync(join(dir, `${version}.sql`), readFileSync(path));
        writeFileSync(join(dir, '999_add_probe.sql'), 'create table prepare_schema_probe (id int)');
        assert.deepEqual(await prepareSchema(ctx.db, { production: true }), [], 'nothing pending: it starts');
        await assert.rejects(prepareSchema(ctx.db, { production: true, dir }),
          /migrations pending \(999_add_probe\): run `npm run migrate`/);
        assert.deepEqual(await pendingMigrations(ctx.db, dir), ['999_add_probe'], 'the web process applied nothing');
        assert.deepEqual(await prepareSchema(ctx.db, { production: false, dir }), ['999_add_probe'],
          'in development it migrates on start');
        assert.deepEqual(await prepareSchema(ctx.db, { production: true, dir }), []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('creates a unique index on Heroku\'s uuid', async () => {
      const insert = (id) => ctx.db.query(
        "insert into resources (id, uuid, plan, state, base_url) values ($1, 'same-uuid', 'test', 'provisioned', 'http://x')",
        [id],
      );
      await insert('00000000-0000-4000-8000-000000000001');
      await assert.rejects(insert('00000000-0000-4000-8000-000000000002'), /duplicate key|unique/i);
    });
  }, { migrated: false });
});

describe('the embedded database on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'addon-pglite-'));
  const dataDir = join(dir, 'data', 'pglite');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps its data across a close and reopen, and one process at a time may open it', async () => {
    let db = await openDatabase({ dataDir });
    try {
      await migrate(db);
      await db.query(
        "insert into resources (id, uuid, plan, state, base_url) values ('00000000-0000-4000-8000-00000000000a', 'u-kept', 'test', 'provisioned', 'http://x')",
      );
      assert.ok(existsSync(`${dataDir}.lock`), 'a lock file while open');
      // Another opener is refused while this one has it (this process stands in for another).
      writeFileSync(`${dataDir}.lock`, String(process.ppid));
      await assert.rejects(openDatabase({ dataDir }), /in use by process/);
      writeFileSync(`${dataDir}.lock`, String(process.pid));
    } finally {
      await db.close();
    }
    assert.ok(!existsSync(`${dataDir}.lock`), 'the lock goes with the close');

    // A lock left by a process that died (kill -9) is taken over.
    writeFileSync(`${dataDir}.lock`, '2147483646');
    db = await openDatabase({ dataDir });
    try {
      assert.deepEqual(await pendingMigrations(db), []);
      const { rows } = await db.query("select uuid from resources where uuid = 'u-kept'");
      assert.equal(rows.length, 1);
    } finally {
      await db.close();
    }
  });
});

describe('TLS for node-postgres', () => {
  it('is on without certificate verification for a remote server (Heroku Postgres)', () => {
    assert.deepEqual(postgresTls('postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d1'), { rejectUnauthorized: false });
  });

  it('is off for loopback and Unix sockets', () => {
    for (const url of ['postgres://u:p@localhost/db', 'postgresql://u@127.0.0.1:5433/db', 'postgres://u@[::1]:5432/db',
      'postgresql:///db?host=/var/run/postgresql', 'postgres:///db']) {
      assert.equal(postgresTls(url), false, url);
    }
  });
});
