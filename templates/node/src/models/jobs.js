// The `async_jobs` table: one row per asynchronously provisioned resource, holding the step it
// reached, the sealed grant code and OAuth tokens, and when it is next due. Every function
// takes `q`: the database, or a transaction's handle.

const COLUMNS = `id, resource_id, step, deprovision, callback_url, identity_url, grant_code_sealed,
  grant_expires_at, access_token_sealed, refresh_token_sealed, access_token_expires_at, attempts,
  last_error, run_at, locked_by, locked_until, created_at, updated_at`;

// The columns the worker may change, by their JavaScript names.
const WRITABLE = {
  step: 'step',
  deprovision: 'deprovision',
  grantCodeSealed: 'grant_code_sealed',
  accessTokenSealed: 'access_token_sealed',
  refreshTokenSealed: 'refresh_token_sealed',
  accessTokenExpiresAt: 'access_token_expires_at',
  attempts: 'attempts',
  lastError: 'last_error',
};

const toJob = (row) => row && {
  id: row.id,
  resourceId: row.resource_id,
  step: row.step,
  deprovision: row.deprovision ?? undefined,
  callbackUrl: row.callback_url,
  identityUrl: row.identity_url,
  grantCodeSealed: row.grant_code_sealed ?? undefined,
  grantExpiresAt: row.grant_expires_at ?? undefined,
  accessTokenSealed: row.access_token_sealed ?? undefined,
  refreshTokenSealed: row.refresh_token_sealed ?? undefined,
  accessTokenExpiresAt: row.access_token_expires_at ?? undefined,
  attempts: row.attempts,
  lastError: row.last_error ?? undefined,
  runAt: row.run_at ?? undefined,
  lockedBy: row.locked_by ?? undefined,
  lockedUntil: row.locked_until ?? undefined,
};

// Whether a job still has work, from its step and deprovision state: the rule for run_at.
const STILL_DUE = (step, deprovision) => `(coalesce(${deprovision}, deprovision) = 'pending'
  or (coalesce(${deprovision}, deprovision) is null and coalesce(${step}, step) not in ('done', 'failed')))`;

// The job for a new asynchronous resource, due `delaySeconds` from now (ASYNC_DELAY_SECONDS).
// A redelivery finds it there and changes nothing.
export async function create(q, { resourceId, callbackUrl, identityUrl, grantCodeSealed, grantExpiresAt, delaySeconds = 0 }) {
  await q.query(
    `insert into async_jobs (resource_id, step, callback_url, identity_url, grant_code_sealed,
                             grant_expires_at, run_at)
     values ($1, 'accepted', $2, $3, $4, $5, now() + make_interval(secs => $6))
     on conflict (resource_id) do nothing`,
    [resourceId, callbackUrl, identityUrl, grantCodeSealed, grantExpiresAt ?? null, delaySeconds],
  );
}

export async function findByResource(q, resourceId) {
  const { rows: [row] } = await q.query(`select ${COLUMNS} from async_jobs where resource_id = $1`, [resourceId]);
  return toJob(row);
}

// Takes up to `limit` due jobs for `owner` for `leaseMs`: a job whose owner died (kill -9, a
// lost dyno) is taken again once its lease ran out. `skip locked`: two processes polling at
// once never take the same job.
export async function claimDue(q, owner, leaseMs, limit) {
  const { rows } = await q.query(
    `update async_jobs set locked_by = $1, locked_until = now() + make_interval(secs => $2)
     where id in (select id from async_jobs
                  where run_at <= now() and (locked_until is null or locked_until < now())
                  order by run_at
                  limit $3
                  for update skip locked)
     returning ${COLUMNS}`,
    [owner, leaseMs / 1000, limit],
  );
  return rows.map(toJob);
}

// Saves the worker's progress on a job it holds. `release`: give the lease back (the job is
// finished, or waits for its next attempt `runInMs` from now); otherwise the lease is renewed.
// run_at follows from the step and deprovision state (STILL_DUE), including a deprovision that
// Heroku asked for meanwhile. Returns false when `owner` no longer holds the job (its lease ran
// out and another process took it): the caller must stop.
export async function save(q, job, owner, changes, { release = false, runInMs = 0, leaseMs = 60_000 } = {}) {
  const sets = [];
  const params = [job.id, owner, runInMs / 1000, leaseMs / 1000];
  for (const [key, value] of Object.entries(changes)) {
    if (!WRITABLE[key]) throw new Error(`async_jobs has no writable column ${key}`);
    params.push(value ?? null);
    sets.push(`${WRITABLE[key]} = $${params.length}`);
  }
  const param = (key) => (key in changes ? `$${5 + Object.keys(changes).indexOf(key)}::text` : 'null::text');
  const { rowCount } = await q.query(
    `update async_jobs set ${sets.map((s) => `${s}, `).join('')}
       run_at = case when ${STILL_DUE(param('step'), param('deprovision'))}
                     then now() + make_interval(secs => $3) end,
       locked_by = case when ${release} then null else locked_by end,
       locked_until = case when ${release} then null else now() + make_interval(secs => $4) end,
       updated_at = now()
     where id = $1 and locked_by = $2`,
    params,
  );
  if (rowCount === 1) Object.assign(job, changes);
  return rowCount === 1;
}

// Heroku deprovisioned the resource: the job calls back POST …/actions/deprovision, if it has
// or can still get a token to do it with. Returns whether it will.
export async function requestDeprovision(q, resourceId) {
  const { rowCount } = await q.query(
    `update async_jobs set deprovision = 'pending', attempts = 0, run_at = now(), updated_at = now()
     where resource_id = $1 and deprovision is null
       and (access_token_sealed is not null or (grant_code_sealed is not null and grant_expires_at > now()))`,
    [resourceId],
  );
  return rowCount === 1;
}

// A redelivered provision request for a resource whose job failed: try again from where it
// can (with the new grant code when it never got a token). Returns whether it restarts.
export async function retryFailed(q, resourceId, { grantCodeSealed, grantExpiresAt }) {
  const { rowCount } = await q.query(
    `update async_jobs
     set step = case when access_token_sealed is not null then 'grant_exchanged' else 'accepted' end,
         grant_code_sealed = case when access_token_sealed is not null then null else $2 end,
         grant_expires_at = case when access_token_sealed is not null then grant_expires_at else $3 end,
         attempts = 0, last_error = null, run_at = now(), updated_at = now()
     where resource_id = $1 and step = 'failed' and deprovision is null
       and (access_token_sealed is not null or $2::text is not null)`,
    [resourceId, grantCodeSealed ?? null, grantExpiresAt ?? null],
  );
  return rowCount === 1;
}
