-- Asynchronous work for Heroku (v3): one row per resource and kind, advanced step by step by
-- the worker (src/worker.rs), so that a restart resumes each job where it stopped.
CREATE TABLE jobs (
    resource_id  TEXT NOT NULL REFERENCES resources (id),
    -- provision | deprovision
    kind         TEXT NOT NULL,
    -- accepted → grant_exchanged → config_set → done, or failed (last_error says why).
    -- A deprovision job goes from accepted to done.
    step         TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    -- Where the grant was (and tokens are) exchanged: see heroku::identity_url.
    identity_url TEXT NOT NULL,
    -- Secrets are stored encrypted with ENCRYPTION_KEY (AES-256-GCM), never in clear.
    -- The grant code works once: it is dropped as soon as it is exchanged.
    grant_code_sealed       TEXT,
    grant_expires_at        TEXT,
    access_token_sealed     TEXT,
    refresh_token_sealed    TEXT,
    access_token_expires_at BIGINT,
    -- Tries of the current step; the step is retried with backoff after a network error, a 429
    -- or a 5xx, and fails for good after a 4xx or too many tries.
    attempts     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT,
    -- Not run before this time (ASYNC_DELAY_SECONDS, backoff, Retry-After).
    run_after    BIGINT NOT NULL,
    -- Claimed by a worker until this time, so two dynos never run the same step at once.
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (resource_id, kind)
);

CREATE INDEX jobs_due ON jobs (step, run_after);
