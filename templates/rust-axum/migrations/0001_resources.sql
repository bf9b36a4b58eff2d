-- Resources Heroku provisioned. The same SQL runs on SQLite and on Postgres: only TEXT and
-- BIGINT columns, times in Unix epoch milliseconds.
CREATE TABLE resources (
    -- Ours, random: never derived from anything Heroku sends.
    id           TEXT PRIMARY KEY,
    -- Heroku's id for the add-on (v3); NULL for a v1 request.
    uuid         TEXT,
    plan         TEXT NOT NULL,
    region       TEXT,
    -- provisioning | provisioned | failed | deprovisioned (the row stays: a later provision
    -- of the same uuid is answered 410).
    state        TEXT NOT NULL,
    -- The public base URL of this service when it was provisioned: the config var points there.
    base_url     TEXT NOT NULL,
    -- SHA-256 of the resource's credential, what the resource API checks; NULL once revoked.
    token_hash   TEXT,
    -- The same credential encrypted with ENCRYPTION_KEY, only so that a redelivered provision
    -- (or a resumed asynchronous one) hands Heroku the very same config var; NULL once revoked.
    token_sealed TEXT,
    api_calls    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Heroku delivers at least once, sometimes many copies at a time: with this index, provisioning
-- is one INSERT … ON CONFLICT (uuid) that finds the first copy's resource.
CREATE UNIQUE INDEX resources_uuid ON resources (uuid);
