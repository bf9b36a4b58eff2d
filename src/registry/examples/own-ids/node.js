import { randomUUID } from 'node:crypto';

// Every resource gets an id of its own, unique across the whole service: never built from
// heroku_id or the app's name (Heroku's uuid is a fine id too).
export async function createResource(db, { uuid, plan }) {
  const id = randomUUID();
  await db.run('INSERT INTO resources (id, uuid, plan) VALUES (?, ?, ?)', [id, uuid, plan]);
  return { id, uuid, plan };
}
