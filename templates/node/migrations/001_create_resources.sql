-- One row per add-on resource Heroku provisioned. Rows are never deleted: a deprovisioned
-- resource keeps its uuid, so a late redelivery of its provision request gets 410 instead of
-- creating it again.
create table resources (
  id               uuid primary key,              -- the provider's own id: random
  uuid             text,                          -- Heroku's id of the add-on
  heroku_id        text,                          -- v1 only: the app, e.g. app123@heroku.com
  plan             text not null,
  region           text,
  name             text,
  options          jsonb not null default '{}',
  state            text not null
                   check (state in ('provisioning', 'provisioned', 'failed', 'deprovisioned')),
  async            boolean not null default false,
  base_url         text not null,                 -- public base of the config var's URL
  token_hash       text,                          -- SHA-256 of the API token; null once revoked
  token_sealed     text,                          -- the token sealed with ENCRYPTION_KEY, to
                                                  -- repeat the config var; null once revoked
  api_calls        bigint not null default 0,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  deprovisioned_at timestamptz
);

-- Heroku delivers a provision request at least once: the uuid makes it idempotent.
create unique index resources_uuid_key on resources (uuid);
