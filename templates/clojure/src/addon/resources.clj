(ns addon.resources
  "Provisioned resources in the database, and their credentials.

  Each resource gets an API token from the OS random number generator. The database keeps
  its SHA-256 (to check the token) and an AES-GCM encrypted copy (to answer a redelivered
  provision, or the asynchronous job, with the same config var); never the token itself."
  (:require [addon.crypto :as crypto]
            [addon.db :as db]
            [cheshire.core :as json])
  (:import (java.net URI)
           (java.time Instant ZoneOffset)
           (java.time.format DateTimeFormatter)
           (java.util UUID)))

(def columns
  "Every column but the credentials, for queries whose rows leave this namespace."
  "id, uuid, heroku_id, plan, region, options, status, base_url, usage_period,
   usage_requests, created_at, updated_at, deprovisioned_at")

(defn- credential-context [id]
  (str "resources.credential_secret:" id))

(defn insert-or-find!
  "Inserts a resource for `attrs` (:uuid :heroku-id :plan :region :options :status
  :base-url), or finds the one that already has its uuid: ONE statement on the unique uuid
  index, so concurrent deliveries of a uuid all get the same row. Returns
  {:resource row :created? bool :token (the new API token, when created)}."
  [db key {:keys [uuid heroku-id plan region options status base-url]}]
  (let [id (str (UUID/randomUUID))
        token (crypto/random-token)
        now (db/now-ms)
        row (db/query-one
             db
             [(str "INSERT INTO resources (id, uuid, heroku_id, plan, region, options, status, base_url,
                                           credential_hash, credential_secret, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (uuid) DO UPDATE SET uuid = resources.uuid
                    RETURNING " columns)
              id uuid heroku-id plan region (some-> options json/generate-string) status base-url
              (crypto/sha256-hex token) (crypto/encrypt key token (credential-context id)) now now])
        created? (= id (:id row))]
    {:resource row
     :created? created?
     :token (when created? token)}))

(defn find-by-id [db id]
  (db/query-one db [(str "SELECT " columns " FROM resources WHERE id = ?") id]))

(defn find-by-uuid [db uuid]
  (db/query-one db [(str "SELECT " columns " FROM resources WHERE uuid = ?") uuid]))

(defn token
  "The API token of resource `id`, decrypted; nil once revoked."
  [db key id]
  (when-let [secret (:credential-secret (db/query-one db ["SELECT credential_secret FROM resources WHERE id = ?" id]))]
    (crypto/decrypt key secret (credential-context id))))

(defn config-url
  "The config var's value: the resource API's URL with the credentials in its userinfo,
  https://<id>:<token>@host/api/resource (like DATABASE_URL)."
  [{:keys [id base-url]} token]
  (let [base (URI. base-url)]
    (str (URI. (.getScheme base) (str id ":" token) (.getHost base) (.getPort base)
               (str (.getPath base) "/api/resource") nil nil))))

(defn change-plan!
  "Moves a live resource to `plan`; returns the updated row, or nil if there is none."
  [db id plan]
  (db/query-one db [(str "UPDATE resources SET plan = ?, updated_at = ?
                          WHERE id = ? AND status <> 'deprovisioned' RETURNING " columns)
                    plan (db/now-ms) id]))

(defn set-status!
  "Moves resource `id` from status `from` to `to`; true when it was in `from`."
  [db id from to]
  (= 1 (db/execute! db ["UPDATE resources SET status = ?, updated_at = ? WHERE id = ? AND status = ?"
                        to (db/now-ms) id from])))

(defn deprovision!
  "Marks resource `id` deprovisioned and revokes its credentials (the row stays). Returns
  the row as it was before, or nil when there is no such live resource."
  [db id]
  (when-let [before (db/query-one db [(str "SELECT " columns " FROM resources
                                            WHERE id = ? AND status <> 'deprovisioned'") id])]
    (let [now (db/now-ms)]
      (when (= 1 (db/execute! db ["UPDATE resources
                                   SET status = 'deprovisioned', credential_hash = NULL,
                                       credential_secret = NULL, deprovisioned_at = ?, updated_at = ?
                                   WHERE id = ? AND status <> 'deprovisioned'" now now id]))
        before))))

(defn authenticate
  "The live resource `id` when `token` is its API token (compared in constant time), else nil."
  [db id token]
  (when (and (string? id) (string? token))
    (let [row (db/query-one db [(str "SELECT credential_hash, " columns " FROM resources
                                      WHERE id = ? AND status <> 'deprovisioned'") id])]
      (when (and row (crypto/secure= (:credential-hash row) (crypto/sha256-hex token)))
        (dissoc row :credential-hash)))))

(defn current-period
  "The month usage is counted in, e.g. \"2026-11\" (UTC)."
  []
  (.format (DateTimeFormatter/ofPattern "yyyy-MM") (.atOffset (Instant/now) ZoneOffset/UTC)))

(defn count-request!
  "Counts one API request for resource `id` in `period` (a new month starts from zero);
  returns the updated row."
  [db id period]
  (db/query-one db [(str "UPDATE resources
                          SET usage_requests = CASE WHEN usage_period = ? THEN usage_requests + 1 ELSE 1 END,
                              usage_period = ?
                          WHERE id = ? RETURNING " columns)
                    period period id]))
