(ns addon.settings
  "The service's settings, read once from the environment (`.env` locally, config vars on
  Heroku). `problems` says what is missing or malformed, so the service can refuse to start
  with a message instead of failing later."
  (:require [addon.config :as config]
            [addon.crypto :as crypto]
            [clojure.string :as str]))

(defn non-blank [s]
  (when (and (string? s) (not (str/blank? s))) s))

(defn- non-negative-long [s]
  (when (and (string? s) (re-matches #"\s*\d{1,9}\s*" s))
    (parse-long (str/trim s))))

(def default-job-retry
  "How a background job retries a failed call to Heroku (network error, 429 or 5xx): after
  base-delay-ms, doubling up to max-delay-ms (or what Retry-After asks), at most
  max-attempts tries per step. Heroku removes add-ons still provisioning after 12 hours."
  {:max-attempts 10
   :base-delay-ms 2000
   :max-delay-ms 600000})

(defn from-env
  "The settings in `env`, a map of variable name to value (System/getenv in production)."
  [env]
  (let [get-var #(non-blank (get env %))]
    {:port (or (some-> (get-var "PORT") str/trim parse-long) config/default-port)
     :username (or (get-var "HEROKU_USERNAME") config/addon-id)
     :password (get-var "HEROKU_PASSWORD")
     ;; nil: single sign-on is off (kensa create --without-sso writes no salt).
     :sso-salt (get-var "SSO_SALT")
     :session-secret (get-var "SESSION_SECRET")
     :encryption-key (crypto/parse-key (some-> (get-var "ENCRYPTION_KEY") str/trim))
     ;; The OAuth client secret from Heroku's Partner Portal: asynchronous provisioning.
     :client-secret (get-var "HEROKU_CLIENT_SECRET")
     :identity-url (get-var "HEROKU_IDENTITY_URL")
     ;; The base of the config var's URL; when unset, taken from each provision request.
     :public-url (some-> (get-var "PUBLIC_URL") str/trim (str/replace #"/+$" ""))
     :database-url (get-var "DATABASE_URL")
     :db-pool-size (or (some-> (get-var "DB_POOL_SIZE") non-negative-long) 10)
     :async-delay-ms (* 1000 (or (some-> (get-var "ASYNC_DELAY_SECONDS") non-negative-long) 0))
     ;; Heroku sets DYNO in every dyno: there the filesystem is ephemeral, and the release
     ;; phase has run the migrations.
     :on-heroku? (some? (get-var "DYNO"))
     :job-retry default-job-retry
     :worker-threads 4}))

(defn database-problems
  "What keeps the service (or its migrations) from opening the database, as messages."
  [settings env]
  (let [url (:database-url settings)]
    (cond-> []
      (and url (not (re-matches #"(?i)postgres(ql)?://.+" url)))
      (conj "DATABASE_URL must be a postgres:// URL (unset it to use the embedded SQLite database under data/).")

      (and (nil? url) (:on-heroku? settings))
      (conj "DATABASE_URL is not set: a dyno's filesystem is wiped on every restart, so the embedded database would lose every resource. Add Heroku Postgres: heroku addons:create heroku-postgresql.")

      (and (non-blank (get env "DB_POOL_SIZE")) (not (pos? (or (non-negative-long (get env "DB_POOL_SIZE")) 0))))
      (conj "DB_POOL_SIZE must be a positive number of connections."))))

(defn problems
  "Why the web process cannot start with `settings` (read from `env`), as messages."
  [settings env]
  (let [key-text (non-blank (get env "ENCRYPTION_KEY"))]
    (cond-> (database-problems settings env)
      (nil? (:password settings))
      (conj "HEROKU_PASSWORD is not set: use api.password from addon-manifest.json (kensa create wrote it to .env).")

      (nil? key-text)
      (conj "ENCRYPTION_KEY is not set: it must be 64 hex characters (a 256-bit key; kensa create wrote one to .env, or make one with `openssl rand -hex 32`).")

      (and key-text (nil? (:encryption-key settings)))
      (conj "ENCRYPTION_KEY is malformed: it must be exactly 64 hex characters (a 256-bit key, e.g. from `openssl rand -hex 32`).")

      (and (non-blank (get env "ASYNC_DELAY_SECONDS")) (nil? (non-negative-long (get env "ASYNC_DELAY_SECONDS"))))
      (conj "ASYNC_DELAY_SECONDS must be a whole number of seconds."))))
