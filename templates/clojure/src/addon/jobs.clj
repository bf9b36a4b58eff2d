(ns addon.jobs
  "Background jobs in the database: the asynchronous provision and deprovision of a
  resource. A job records the step it reached, so a restarted process resumes it there
  (and never exchanges a grant code twice: a code works once). Every change of step is
  conditional on the step it leaves, so two runners of one job cannot both advance it.

  The grant code and the OAuth tokens are stored AES-GCM encrypted (addon.crypto)."
  (:require [addon.crypto :as crypto]
            [addon.db :as db])
  (:import (java.util UUID)))

(def finished-steps #{"done" "failed"})

(defn- context [job-id column]
  (str "jobs." column ":" job-id))

(defn create!
  "Stores a new job at step accepted; returns it. `attrs`: :resource-id :uuid :kind
  :callback-url :identity-url :run-at, and for a provision :grant-code :grant-expires-at;
  a deprovision job takes the OAuth tokens of the resource's provision job."
  [db key {:keys [resource-id uuid kind callback-url identity-url grant-code grant-expires-at run-at]}]
  (let [id (str (UUID/randomUUID))
        now (db/now-ms)]
    (db/execute! db ["INSERT INTO jobs (id, resource_id, uuid, kind, step, callback_url, identity_url,
                                        grant_code, grant_expires_at, run_at, created_at, updated_at)
                      VALUES (?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?, ?)"
                     id resource-id uuid kind callback-url identity-url
                     (crypto/encrypt key grant-code (context id "grant_code")) grant-expires-at
                     run-at now now])
    (db/query-one db ["SELECT * FROM jobs WHERE id = ?" id])))

(defn find-by-id [db id]
  (db/query-one db ["SELECT * FROM jobs WHERE id = ?" id]))

(defn for-resource [db resource-id kind]
  (db/query-one db ["SELECT * FROM jobs WHERE resource_id = ? AND kind = ?" resource-id kind]))

(defn unfinished
  "Every job that is neither done nor failed, earliest first."
  [db]
  (db/query db ["SELECT * FROM jobs WHERE step NOT IN ('done', 'failed') ORDER BY run_at"]))

(defn secrets
  "The decrypted :grant-code :access-token :refresh-token of `job`."
  [key {:keys [id grant-code access-token refresh-token]}]
  {:grant-code (crypto/decrypt key grant-code (context id "grant_code"))
   :access-token (crypto/decrypt key access-token (context id "access_token"))
   :refresh-token (crypto/decrypt key refresh-token (context id "refresh_token"))})

(defn- token-columns
  "Column values for OAuth `tokens` {:access-token :refresh-token :expires-at}."
  [key job-id {:keys [access-token refresh-token expires-at]}]
  [(crypto/encrypt key access-token (context job-id "access_token"))
   (crypto/encrypt key refresh-token (context job-id "refresh_token"))
   expires-at])

(defn advance!
  "Moves `job` from step `from` to `to`; with `tokens`, stores them too (and forgets the
  grant code, which is spent). True when the job was still at `from`."
  ([db job from to] (advance! db nil job from to nil))
  ([db key {:keys [id]} from to tokens]
   (= 1 (if tokens
          (let [[access refresh expires-at] (token-columns key id tokens)]
            (db/execute! db ["UPDATE jobs SET step = ?, access_token = ?, refresh_token = ?,
                                              access_token_expires_at = ?, grant_code = NULL,
                                              attempts = 0, last_error = NULL, updated_at = ?
                              WHERE id = ? AND step = ?"
                             to access refresh expires-at (db/now-ms) id from]))
          (db/execute! db ["UPDATE jobs SET step = ?, attempts = 0, last_error = NULL, updated_at = ?
                            WHERE id = ? AND step = ?"
                           to (db/now-ms) id from])))))

(defn save-tokens!
  "Stores refreshed OAuth `tokens` for `job`."
  [db key {:keys [id]} tokens]
  (let [[access refresh expires-at] (token-columns key id tokens)]
    (db/execute! db ["UPDATE jobs SET access_token = ?, refresh_token = ?, access_token_expires_at = ?,
                                      updated_at = ?
                      WHERE id = ?"
                     access refresh expires-at (db/now-ms) id])))

(defn copy-tokens!
  "Gives the deprovision job `to-id` the OAuth tokens of the provision job `from` (each
  value re-encrypted for its new row)."
  [db key from to-id]
  (let [{:keys [access-token refresh-token]} (secrets key from)
        [access refresh expires-at] (token-columns key to-id {:access-token access-token
                                                              :refresh-token refresh-token
                                                              :expires-at (:access-token-expires-at from)})]
    (db/execute! db ["UPDATE jobs SET access_token = ?, refresh_token = ?, access_token_expires_at = ?
                      WHERE id = ?"
                     access refresh expires-at to-id])))

(defn retry-later!
  "Records a failed try of `job`'s current step and when to try again; true when the job
  was still at that step."
  [db {:keys [id step attempts]} error run-at]
  (= 1 (db/execute! db ["UPDATE jobs SET attempts = ?, last_error = ?, run_at = ?, updated_at = ?
                         WHERE id = ? AND step = ?"
                        (inc attempts) error run-at (db/now-ms) id step])))

(defn fail!
  "Gives up `job` (still at `from`, or at any unfinished step when `from` is nil) with
  `reason`; true when it was changed."
  [db {:keys [id]} from reason]
  (= 1 (if from
         (db/execute! db ["UPDATE jobs SET step = 'failed', last_error = ?, updated_at = ?
                           WHERE id = ? AND step = ?"
                          reason (db/now-ms) id from])
         (db/execute! db ["UPDATE jobs SET step = 'failed', last_error = ?, updated_at = ?
                           WHERE id = ? AND step NOT IN ('done', 'failed')"
                          reason (db/now-ms) id]))))
