(ns addon.provisioning
  "Heroku's Add-on Partner API: provision, plan change and deprovision, behind HTTP Basic
  auth with the manifest's id and api.password. See
  https://devcenter.heroku.com/articles/add-on-partner-api-reference"
  (:require [addon.config :as config]
            [addon.crypto :as crypto]
            [addon.db :as db]
            [addon.heroku :as heroku]
            [addon.http :as http]
            [addon.jobs :as jobs]
            [addon.log :as log]
            [addon.plans :as plans]
            [addon.resources :as resources]
            [addon.settings :refer [non-blank]]
            [addon.worker :as worker]
            [clojure.string :as str])
  (:import (java.nio.charset StandardCharsets)
           (java.time Instant OffsetDateTime)
           (java.util Base64)))

;; ---------------------------------------------------------------------------------------
;; Basic auth

(defn basic-credentials
  "[user password] from an `Authorization: Basic ...` header, or nil."
  [request]
  (when-let [[_ encoded] (some->> (get-in request [:headers "authorization"])
                                  (re-matches #"(?i)\s*Basic\s+(\S+)\s*"))]
    (try
      (let [decoded (String. (.decode (Base64/getDecoder) ^String encoded) StandardCharsets/UTF_8)
            colon (str/index-of decoded ":")]
        (when colon
          [(subs decoded 0 colon) (subs decoded (inc colon))]))
      (catch IllegalArgumentException _ nil))))

(defn- authorized? [{:keys [username password]} request]
  (let [[user pass] (basic-credentials request)
        ;; Both comparisons always run, so timing does not tell which one failed.
        user-ok (crypto/secure= user username)
        pass-ok (crypto/secure= pass password)]
    (boolean (and password user-ok pass-ok))))

(defn unauthorized [text]
  (let [realm (str/replace config/addon-name #"[\"\\\r\n]" "")]
    (-> (http/message 401 text)
        (assoc-in [:headers "WWW-Authenticate"] (str "Basic realm=\"" realm "\"")))))

(defn wrap-heroku-auth [handler settings]
  (fn [request]
    (if (authorized? settings request)
      (handler request)
      (unauthorized "Authentication required: use the add-on id and api.password from addon-manifest.json."))))

;; ---------------------------------------------------------------------------------------
;; Provision

(defn- parse-instant
  "oauth_grant.expires_at (RFC 3339) as unix ms, or nil."
  [s]
  (when (string? s)
    (try (.toEpochMilli (.toInstant (OffsetDateTime/parse s)))
         (catch Exception _
           (try (.toEpochMilli (Instant/parse s)) (catch Exception _ nil))))))

(defn- config-for
  "The config vars Heroku sets on the customer's app."
  [resource token]
  {config/config-var (resources/config-url resource token)})

(defn- plan-refusal
  "Why `plan` (from a request body) cannot be served, as a 422 response, or nil."
  [plan]
  (cond
    (not (non-blank plan))
    (http/message 422 "The request must name a plan.")

    (not (plans/known? plan))
    (http/message 422 (str "Unknown plan " (pr-str plan) ": this add-on sells "
                           (str/join ", " (sort (keys plans/plans))) "."))))

(defn- refusal
  "Why provision `body` cannot be served, as a response, or nil. Checked before anything
  is stored."
  [{:keys [settings]} body]
  (let [plan (get body "plan")
        uuid (get body "uuid")
        callback-url (get body "callback_url")]
    (or
     (plan-refusal plan)
     (cond
       (and (some? uuid) (not (non-blank uuid)))
       (http/message 422 "uuid must be a non-empty string.")

       ;; The client secret and OAuth tokens go only to Heroku (or a loopback Heroku in
       ;; development): a callback_url elsewhere would receive them.
       (and (some? callback-url) (not (heroku/callback-url? callback-url)))
       (http/message 422 "callback_url must be an http(s) URL.")

       (and (some? callback-url)
            (nil? (heroku/identity-url (:identity-url settings) callback-url (not (:on-heroku? settings)))))
       (http/message 422 (str "callback_url must be on https://api.heroku.com (or on a loopback address in "
                              "development, or set HEROKU_IDENTITY_URL): this service sends Heroku's OAuth "
                              "credentials nowhere else."))

       (not (plans/async? plan))
       nil

       (not (and (non-blank uuid) (some? callback-url) (non-blank (get-in body ["oauth_grant" "code"]))))
       (http/message 422 (str "The " plan " plan needs a v3 request (uuid, callback_url and oauth_grant)."))

       (not (:client-secret settings))
       (do (log/info "async provision refused: HEROKU_CLIENT_SECRET is not set")
           (http/message 503 (str config/addon-name " cannot provision asynchronously yet; please try again later.")))))))

(defn- store!
  "Inserts the resource (or finds the one with the same uuid) and, for a new asynchronous
  one, its job, in one transaction. Returns {:resource :created? :token :job}."
  [{:keys [db settings]} body base-url]
  (let [key (:encryption-key settings)
        plan (get body "plan")
        async? (plans/async? plan)]
    (db/transaction [tx db]
      (let [{:keys [resource created?] :as outcome}
            (resources/insert-or-find! tx key {:uuid (non-blank (get body "uuid"))
                                               :heroku-id (non-blank (get body "heroku_id"))
                                               :plan plan
                                               :region (let [r (get body "region")] (when (string? r) r))
                                               :options (get body "options")
                                               :status (if async? "provisioning" "provisioned")
                                               :base-url base-url})]
        (cond-> outcome
          (and created? async?)
          (assoc :job (jobs/create! tx key {:resource-id (:id resource)
                                            :uuid (:uuid resource)
                                            :kind "provision"
                                            :callback-url (get body "callback_url")
                                            :identity-url (heroku/identity-url (:identity-url settings)
                                                                               (get body "callback_url")
                                                                               (not (:on-heroku? settings)))
                                            :grant-code (get-in body ["oauth_grant" "code"])
                                            :grant-expires-at (parse-instant (get-in body ["oauth_grant" "expires_at"]))
                                            :run-at (+ (db/now-ms) (:async-delay-ms settings))})))))))

(defn provision
  "POST /heroku/resources. v3 sends uuid/name/callback_url/oauth_grant, v1 sends
  heroku_id/logplex_token; unknown fields are ignored. The same uuid again (Heroku delivers
  at least once) gets the same resource and the same answer."
  [{:keys [db settings worker] :as system} request]
  (http/with-json-object request
    (fn [body]
      (or (refusal system body)
          (let [base-url (or (:public-url settings) (http/base-url request)
                             (str "http://localhost:" (:port settings)))
                {:keys [resource created? token job]} (store! system body base-url)
                {:keys [id status]} resource]
            (when job
              (worker/schedule! worker (:id job) (:run-at job)))
            (log/info (if created? "provisioned" "provision replayed") id "plan" (:plan resource) "status" status)
            (case status
              "deprovisioned" (http/message 410 "This resource was deprovisioned; a deprovisioned uuid cannot be provisioned again.")
              "failed" (http/message 422 "Provisioning this resource failed; please try again with a new add-on.")
              "provisioning" (http/json-response 202 {:id id
                                                      :message (str config/addon-name " is being provisioned; it will be ready in a moment.")})
              (http/json-response (if created? 201 200)
                                  {:id id
                                   :config (config-for resource (or token (resources/token db (:encryption-key settings) id)))
                                   :message (if created?
                                              (str config/addon-name " is ready.")
                                              (str config/addon-name " was already provisioned for this resource."))})))))))

;; ---------------------------------------------------------------------------------------
;; Plan change and deprovision

(defn- gone-or-missing [db id]
  (if (resources/find-by-id db id)
    (http/message 410 "This resource was deprovisioned.")
    (http/message 404 "No such resource.")))

(defn change-plan
  "PUT /heroku/resources/:id. A change to the current plan is a no-op."
  [{:keys [db]} id request]
  (http/with-json-object request
    (fn [body]
      (let [plan (get body "plan")]
        (or (plan-refusal plan)
            (if (resources/change-plan! db id plan)
              (do (log/info "plan changed" id "plan" plan)
                  (http/json-response 200 {:message (str "Plan changed to " plan ".")}))
              (gone-or-missing db id)))))))

(defn- deprovision-job!
  "After an asynchronous resource is deprovisioned: stops its provision job, and when that
  job holds an OAuth token (so Heroku can be told), creates the deprovision job. Returns
  the new job, or nil when there is nobody to call back."
  [tx key resource]
  (when-let [provision-job (jobs/for-resource tx (:id resource) "provision")]
    (jobs/fail! tx provision-job nil "the resource was deprovisioned")
    (let [current (jobs/find-by-id tx (:id provision-job))]
      (when (:access-token current)
        (let [job (jobs/create! tx key {:resource-id (:id resource)
                                        :uuid (:uuid resource)
                                        :kind "deprovision"
                                        :callback-url (:callback-url current)
                                        :identity-url (:identity-url current)
                                        :run-at (db/now-ms)})]
          (jobs/copy-tokens! tx key current (:id job))
          job)))))

(defn deprovision
  "DELETE /heroku/resources/:id: revokes the resource's credentials and marks it
  deprovisioned. A resource provisioned asynchronously is deprovisioned asynchronously
  too (202, then actions/deprovision on its callback_url); a second DELETE gets 410."
  [{:keys [db settings worker]} id]
  (let [outcome (db/transaction [tx db]
                  (when-let [before (resources/deprovision! tx id)]
                    {:resource before
                     :job (deprovision-job! tx (:encryption-key settings) before)}))]
    (cond
      (nil? outcome) (gone-or-missing db id)
      (:job outcome) (do (worker/schedule! worker (:id (:job outcome)) (:run-at (:job outcome)))
                         (log/info "deprovisioned" id "(async)")
                         (http/message 202 (str config/addon-name " is being deprovisioned.")))
      :else (do (log/info "deprovisioned" id)
                {:status 204 :headers {} :body nil}))))
