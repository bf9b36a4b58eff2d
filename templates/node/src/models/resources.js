import { hashToken, safeEqual } from '../crypto.js';

// The `resources` table. Every function takes `q`: the database, or a transaction's handle.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Our ids are uuids: anything else is no resource of ours (and never reaches the database).
export const isResourceId = (id) => typeof id === 'string' && UUID.test(id);

const COLUMNS = `id, uuid, heroku_id, plan, region, name, options, state, async, base_url,
  token_hash, token_sealed, api_calls, created_at, updated_at, deprovisioned_at`;

const toResource = (row) => row && {
  id: row.id,
  uuid: row.uuid ?? undefined,
  herokuId: row.heroku_id ?? undefined,
  plan: row.plan,
  region: row.region ?? undefined,
  name: row.name ?? undefined,
  options: row.options ?? {},
  state: row.state,
  async: row.async,
  baseUrl: row.base_url,
  tokenHash: row.token_hash ?? undefined,
  tokenSealed: row.token_sealed ?? undefined,
  apiCalls: Number(row.api_calls), // bigint: a string from node-postgres
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  deprovisionedAt: row.deprovisioned_at ?? undefined,
};

// Creates the resource for Heroku's uuid, or returns the one an earlier delivery of the same
// request created: ONE statement on the unique index of uuid. `on conflict … do update` (a
// no-op update) rather than `do nothing` so that the existing row comes back too; concurrent
// copies wait for the first to commit and all get the same row. Without a uuid (old v1
// requests) every call creates a resource. Returns { resource, created }.
export async function insertOrFind(q, fields) {
  const { rows: [row] } = await q.query(
    `insert into resources (id, uuid, heroku_id, plan, region, name, options, state, async, base_url,
                            token_hash, token_sealed)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (uuid) do update set uuid = excluded.uuid
     returning ${COLUMNS}`,
    [fields.id, fields.uuid ?? null, fields.herokuId ?? null, fields.plan, fields.region ?? null,
      fields.name ?? null, JSON.stringify(fields.options ?? {}), fields.state, fields.async,
      fields.baseUrl, fields.tokenHash, fields.tokenSealed],
  );
  return { resource: toResource(row), created: row.id === fields.id };
}

export async function findById(q, id) {
  if (!isResourceId(id)) return undefined;
  const { rows: [row] } = await q.query(`select ${COLUMNS} from resources where id = $1`, [id]);
  return toResource(row);
}

export async function findByUuid(q, uuid) {
  const { rows: [row] } = await q.query(`select ${COLUMNS} from resources where uuid = $1`, [uuid]);
  return toResource(row);
}

// The live resource these credentials (user = resource id, password = API token) belong to,
// else undefined. The token's hash is compared in constant time, and compared even when there
// is nothing to compare with, so timing does not tell an unknown id from a wrong token.
export async function authenticate(q, id, token) {
  const resource = await findById(q, id);
  const matches = safeEqual(hashToken(token), resource?.tokenHash ?? '');
  return matches && resource.tokenHash && resource.state !== 'deprovisioned' ? resource : undefined;
}

// Counts one API call, unless the plan's limit is reached: one conditional update, so
// concurrent calls cannot overshoot it. Returns the resource as counted, or undefined.
export async function countCall(q, id, limit) {
  const { rows: [row] } = await q.query(
    `update resources set api_calls = api_calls + 1
     where id = $1 and state <> 'deprovisioned' and ($2::bigint is null or api_calls < $2::bigint)
     returning ${COLUMNS}`,
    [id, limit ?? null],
  );
  return toResource(row);
}

// Returns the resource with its new plan, or undefined when it is unknown or deprovisioned.
export async function changePlan(q, id, plan) {
  const { rows: [row] } = await q.query(
    `update resources set plan = $2, updated_at = now()
     where id = $1 and state <> 'deprovisioned'
     returning ${COLUMNS}`,
    [id, plan],
  );
  return toResource(row);
}

// Revokes the credentials and marks the resource deprovisioned; the row stays, so its uuid is
// never provisioned again. Returns the resource, or undefined when it is unknown or already
// deprovisioned.
export async function deprovision(q, id) {
  if (!isResourceId(id)) return undefined;
  const { rows: [row] } = await q.query(
    `update resources
     set state = 'deprovisioned', token_hash = null, token_sealed = null,
         deprovisioned_at = now(), updated_at = now()
     where id = $1 and state <> 'deprovisioned'
     returning ${COLUMNS}`,
    [id],
  );
  return toResource(row);
}

// Moves a resource from one of the states `from` to `state` (the asynchronous job's outcome).
// Returns whether it moved.
export async function setState(q, id, state, from) {
  const { rowCount } = await q.query(
    'update resources set state = $2, updated_at = now() where id = $1 and state = any($3::text[])',
    [id, state, from],
  );
  return rowCount === 1;
}
