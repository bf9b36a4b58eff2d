(ns addon.migrations
  "Versioned schema migrations: an ordered list, each applied once and recorded in
  schema_migrations. Heroku runs them in the release phase (Procfile `release: bin/migrate`);
  in development the web process runs them on start. Append new migrations at the end and
  never edit one that has shipped. The SQL runs on Postgres and SQLite alike.

  Concurrent runs (two dynos starting, or release and web at once) are safe: on Postgres
  the whole run holds a transaction-scoped advisory lock and DDL is transactional; SQLite
  transactions here take the write lock when they begin."
  (:require [addon.db :as db]
            [addon.log :as log]
            [addon.settings :as settings]
            [clojure.string :as str]))

(def migrations
  [{:version 1
    :name "create resources"
    :statements
    ;; One row per add-on resource, kept after deprovisioning (status 'deprovisioned'): that
    ;; is what makes a later provision of the same uuid a 410.
    ["CREATE TABLE resources (
        id TEXT PRIMARY KEY,              -- the provider's own id, random
        uuid TEXT,                        -- Heroku's resource uuid (v3; v1 may omit it)
        heroku_id TEXT,                   -- v1 only
        plan TEXT NOT NULL,
        region TEXT,
        options TEXT,                     -- the provision's options, as JSON
        status TEXT NOT NULL,             -- provisioning | provisioned | failed | deprovisioned
        base_url TEXT NOT NULL,           -- public base of the config var's URL
        credential_hash TEXT,             -- sha256 of the API token; NULL once revoked
        credential_secret TEXT,           -- the same token, AES-GCM encrypted (for replays)
        usage_period TEXT,                -- the month usage_requests counts, e.g. 2026-11
        usage_requests BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,       -- unix milliseconds, like every time here
        updated_at BIGINT NOT NULL,
        deprovisioned_at BIGINT)"
     ;; Heroku delivers at least once: this index makes provisioning idempotent on uuid.
     "CREATE UNIQUE INDEX resources_uuid ON resources (uuid)"]}

   {:version 2
    :name "create jobs"
    :statements
    ;; Asynchronous provisioning and deprovisioning, one row per resource and kind, so a
    ;; restarted process resumes each from the step it reached.
    ["CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        resource_id TEXT NOT NULL REFERENCES resources (id),
        uuid TEXT NOT NULL,
        kind TEXT NOT NULL,               -- provision | deprovision
        step TEXT NOT NULL,               -- accepted | grant_exchanged | config_set | done | failed
        callback_url TEXT NOT NULL,
        identity_url TEXT NOT NULL,       -- where the grant and refresh tokens go
        grant_code TEXT,                  -- encrypted; NULL once exchanged
        grant_expires_at BIGINT,
        access_token TEXT,                -- encrypted
        refresh_token TEXT,               -- encrypted
        access_token_expires_at BIGINT,
        attempts INTEGER NOT NULL DEFAULT 0,  -- failed tries of the current step
        last_error TEXT,
        run_at BIGINT NOT NULL,           -- not before (backoff, ASYNC_DELAY_SECONDS)
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)"
     "CREATE UNIQUE INDEX jobs_resource_kind ON jobs (resource_id, kind)"
     "CREATE INDEX jobs_step ON jobs (step)"]}])

(defn- applied-versions [tx]
  (set (map :version (db/query tx ["SELECT version FROM schema_migrations"]))))

(defn pending
  "The migrations not applied yet."
  [db]
  (db/transaction [tx db]
    (db/execute! tx ["CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"])
    (let [done (applied-versions tx)]
      (remove (comp done :version) migrations))))

(defn migrate!
  "Applies every pending migration, in order, in one transaction. Returns the versions
  applied now (empty when the schema was current)."
  [db]
  (db/transaction [tx db]
    (db/lock-transaction! tx "addon.migrations")
    (db/execute! tx ["CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"])
    (let [done (applied-versions tx)]
      (vec (for [{:keys [version name statements]} migrations
                 :when (not (done version))]
             (do (doseq [statement statements]
                   (db/execute! tx [statement]))
                 (db/execute! tx ["INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
                                  version name (db/now-ms)])
                 version))))))

(defn prepare!
  "What the web process does with the schema on start. In development it migrates, so that
  starting is one step. On Heroku (`on-heroku?`: DYNO is set) the release phase (bin/migrate)
  has migrated before the release took traffic: a pending migration means it did not run, and
  the process must not serve a schema it was not written for. Returns nil when the service
  may start, else the reason it may not."
  [db on-heroku?]
  (if on-heroku?
    (when-let [behind (seq (pending db))]
      (str "The database schema is behind (pending migrations: "
           (str/join ", " (map :version behind))
           "). Keep `release: bin/migrate` in the Procfile, or run `heroku run bin/migrate`."))
    (let [applied (migrate! db)]
      (when (seq applied)
        (log/info "migrations applied:" (str/join ", " applied)))
      nil)))

(defn -main
  "The release phase: `bin/migrate`."
  [& _]
  (let [env (System/getenv)
        settings (settings/from-env env)
        problems (settings/database-problems settings env)]
    (when (seq problems)
      (binding [*out* *err*] (run! println problems))
      (System/exit 1))
    (let [database (db/connect {:database-url (:database-url settings) :pool-size 1})]
      (try
        (let [applied (migrate! database)]
          (log/info (if (seq applied)
                      (str "migrations applied: " (str/join ", " applied))
                      "migrations: the schema is up to date")))
        (finally (db/close! database))))
    (shutdown-agents)))
