-- The asynchronous (v3) work for one resource: provisioning through Heroku's Platform API and,
-- later, the deprovision callback. The step reached is stored, so a restarted process resumes
-- where it stopped (a grant code works once: a job past `accepted` never exchanges it again).
create table async_jobs (
  id                      bigint generated always as identity primary key,
  resource_id             uuid not null unique references resources (id),
  -- accepted -> grant_exchanged -> config_set -> done, or failed (last_error says why)
  step                    text not null
                          check (step in ('accepted', 'grant_exchanged', 'config_set', 'done', 'failed')),
  -- null until Heroku deprovisions the resource; then pending -> done, or failed
  deprovision             text check (deprovision in ('pending', 'done', 'failed')),
  callback_url            text not null,
  identity_url            text not null,         -- where the grant and refreshes go
  grant_code_sealed       text,                  -- sealed with ENCRYPTION_KEY; null once exchanged
  grant_expires_at        timestamptz,
  access_token_sealed     text,
  refresh_token_sealed    text,
  access_token_expires_at timestamptz,
  attempts                integer not null default 0,   -- failed tries of the current step
  last_error              text,
  run_at                  timestamptz,           -- due from then on; null: nothing left to do
  locked_by               text,                  -- the process running it, until locked_until
  locked_until            timestamptz,
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now()
);

create index async_jobs_due on async_jobs (run_at) where run_at is not null;
