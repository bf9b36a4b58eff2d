import { randomUUID } from 'node:crypto';

// Provisioning is idempotent on Heroku's uuid. A unique index makes concurrent redeliveries
// agree on one row:  CREATE UNIQUE INDEX resources_uuid ON resources (uuid);
// A redelivery gets the same resource, and its setup (grant exchange, config) runs once.
export async function provisionOnce(db, { uuid, plan }) {
  const id = randomUUID();
  await db.run(
    'INSERT INTO resources (id, uuid, plan) VALUES (?, ?, ?) ON CONFLICT (uuid) DO NOTHING',
    [id, uuid, plan],
  );
  const resource = await db.get('SELECT * FROM resources WHERE uuid = ?', [uuid]);
  return { resource, created: resource.id === id };
}
