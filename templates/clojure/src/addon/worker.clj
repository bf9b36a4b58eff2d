(ns addon.worker
  "Runs the background jobs of addon.jobs inside the web process: a few threads, started
  with the server, which first resume every unfinished job from the step it reached.

  Each step calls Heroku once. A step that fails for a reason that may pass (network
  error, 429, 5xx) is tried again later, with exponential backoff or after Retry-After;
  the attempts and the next time are in the database, so a restart keeps them. Before
  every Platform API call, an access token within a minute of expiry is refreshed.
  On Postgres each job runs under an advisory lock, so with several web dynos only one
  runs it. See https://devcenter.heroku.com/articles/getting-started-with-asynchronous-provisioning"
  (:require [addon.config :as config]
            [addon.db :as db]
            [addon.heroku :as heroku]
            [addon.jobs :as jobs]
            [addon.log :as log]
            [addon.resources :as resources])
  (:import (java.util.concurrent ConcurrentHashMap Executors RejectedExecutionException
                                 ScheduledExecutorService ThreadFactory TimeUnit)))

(def refresh-margin-ms
  "An access token that expires within this margin is refreshed before use."
  60000)

(def ^:private db-trouble-delay-ms
  "When the database itself fails, try the job again after this long."
  30000)

(declare run-job!)

(defn schedule!
  "Runs job `job-id` at `run-at` (unix ms), or as soon as possible when that has passed."
  [{:keys [^ScheduledExecutorService executor] :as worker} job-id run-at]
  (try
    (let [^Runnable task (bound-fn [] (run-job! worker job-id))]
      (.schedule executor task (long (max 0 (- run-at (db/now-ms)))) TimeUnit/MILLISECONDS))
    (catch RejectedExecutionException _
      ;; Shutting down: the job stays in the database and resumes on the next start.
      nil)))

(defn start!
  "Starts the worker for `system` ({:db :settings}); `resume!` then hands it the jobs a
  previous process left unfinished."
  [{:keys [db settings]}]
  {:db db
   :settings settings
   :executor (Executors/newScheduledThreadPool
              (int (:worker-threads settings))
              (reify ThreadFactory
                (newThread [_ runnable]
                  ;; Daemon threads: a job cut short by shutdown resumes on the next start.
                  (doto (Thread. runnable "addon-worker") (.setDaemon true)))))
   ;; The jobs running in this process, so one job never runs twice at once here.
   :running (ConcurrentHashMap/newKeySet)})

(defn resume!
  "Schedules every unfinished job, each from the step it reached and not before its
  run_at. Returns how many there were."
  [{:keys [db] :as worker}]
  (let [unfinished (jobs/unfinished db)]
    (when (seq unfinished)
      (log/info "resuming" (count unfinished) "unfinished background job(s)"))
    (doseq [{:keys [id run-at]} unfinished]
      (schedule! worker id run-at))
    (count unfinished)))

(defn stop!
  "Stops the worker; jobs in flight stay in the database, where the next start finds them."
  [{:keys [^ScheduledExecutorService executor]}]
  (.shutdownNow executor)
  (.awaitTermination executor 10 TimeUnit/SECONDS))

;; ---------------------------------------------------------------------------------------
;; The steps

(defn- access-token!
  "The job's access token, refreshed first when it expires within refresh-margin-ms."
  [{:keys [db settings]} {:keys [id access-token-expires-at identity-url] :as job}]
  (let [key (:encryption-key settings)
        {:keys [access-token refresh-token]} (jobs/secrets key job)]
    (cond
      (nil? access-token)
      (throw (ex-info "no access token" {:retryable? false}))

      (and access-token-expires-at (< access-token-expires-at (+ (db/now-ms) refresh-margin-ms)))
      (if refresh-token
        (let [tokens (heroku/refresh! identity-url (:client-secret settings) refresh-token)]
          (jobs/save-tokens! db key job tokens)
          (log/info "job" id "refreshed its access token")
          (:access-token tokens))
        (throw (ex-info "the access token expired and there is no refresh token" {:retryable? false})))

      :else access-token)))

(defn- step!
  "Performs `job`'s current step. True when the job advanced (run the next step), false
  when it was changed meanwhile (cancelled, or advanced by another runner)."
  [{:keys [db settings] :as worker} {:keys [kind step resource-id callback-url identity-url grant-expires-at] :as job}]
  (let [key (:encryption-key settings)]
    (case [kind step]
      ["provision" "accepted"]
      (let [{:keys [grant-code]} (jobs/secrets key job)]
        (when-not (:client-secret settings)
          (throw (ex-info "HEROKU_CLIENT_SECRET is not set" {})))
        (when (or (nil? grant-code) (and grant-expires-at (< grant-expires-at (db/now-ms))))
          (throw (ex-info "the grant code expired before it could be exchanged" {:retryable? false})))
        (jobs/advance! db key job "accepted" "grant_exchanged"
                       (heroku/exchange-grant! identity-url (:client-secret settings) grant-code)))

      ["provision" "grant_exchanged"]
      (let [resource (resources/find-by-id db resource-id)
            token (resources/token db key resource-id)]
        (if (and token (= "provisioning" (:status resource)))
          (do (heroku/set-config! callback-url (access-token! worker job)
                                  {config/config-var (resources/config-url resource token)})
              (jobs/advance! db job "grant_exchanged" "config_set"))
          (do (jobs/fail! db job step "the resource was deprovisioned")
              false)))

      ["provision" "config_set"]
      (do (heroku/action! callback-url (access-token! worker job) "provision")
          (db/transaction [tx db]
            (when (jobs/advance! tx job "config_set" "done")
              (resources/set-status! tx resource-id "provisioning" "provisioned")
              true)))

      ["deprovision" "accepted"]
      (do (heroku/action! callback-url (access-token! worker job) "deprovision")
          (jobs/advance! db job "accepted" "done")))))

(defn- backoff-ms
  "How long to wait before try number (inc attempts) of a step."
  [{:keys [base-delay-ms max-delay-ms]} attempts retry-after-ms]
  (min max-delay-ms (or retry-after-ms (* base-delay-ms (bit-shift-left 1 (min 20 (dec attempts)))))))

(defn- failure-reason
  "A loggable reason: ex-info messages here and in addon.heroku hold no secrets; for any
  other exception only its class."
  [^Throwable e]
  (if (instance? clojure.lang.ExceptionInfo e) (ex-message e) (.getName (class e))))

(defn- give-up! [{:keys [db]} {:keys [id kind step resource-id] :as job} reason]
  (when (jobs/fail! db job step reason)
    (when (= "provision" kind)
      (resources/set-status! db resource-id "provisioning" "failed"))
    (log/info "job" id kind "for" resource-id "failed:" reason)))

(defn- run-steps!
  "Runs `job-id`'s steps until it finishes, waits for a retry (returns when to run it
  again) or is changed by someone else (returns nil)."
  [{:keys [db settings] :as worker} job-id]
  (loop []
    (let [{:keys [id kind step resource-id run-at attempts] :as job} (jobs/find-by-id db job-id)]
      (cond
        (or (nil? job) (jobs/finished-steps step)) nil
        (> run-at (db/now-ms)) run-at
        :else
        (let [outcome (try
                        (if (step! worker job) ::advanced ::changed)
                        (catch InterruptedException e (throw e))
                        (catch Exception e e))]
          (cond
            (= ::advanced outcome)
            (let [{next-step :step} (jobs/find-by-id db job-id)]
              (log/info "job" id kind "for" resource-id (str step " -> " next-step))
              (recur))

            (= ::changed outcome) nil

            :else
            (let [{:keys [retryable? retry-after-ms]} (ex-data outcome)
                  reason (failure-reason outcome)
                  tries (inc attempts)
                  retry (:job-retry settings)]
              (if (and (not= false retryable?) (< tries (:max-attempts retry)))
                (let [next-run (+ (db/now-ms) (backoff-ms retry tries retry-after-ms))]
                  (when (jobs/retry-later! db job reason next-run)
                    (log/info "job" id kind "for" resource-id "try" tries "failed:" reason "- retrying")
                    next-run))
                (do (give-up! worker job reason)
                    nil)))))))))

(defn run-job!
  "Runs job `job-id` now, unless this process or another one is already running it."
  [{:keys [db ^java.util.Set running] :as worker} job-id]
  (when (.add running job-id)
    (let [next-run (try
                     (let [outcome (db/with-lock db (str "addon.job:" job-id) #(run-steps! worker job-id))]
                       (when-not (= ::db/busy outcome) outcome))
                     (catch InterruptedException _ nil)
                     (catch Exception e
                       (log/info "job" job-id "could not run:" (failure-reason e) "- retrying later")
                       (+ (db/now-ms) db-trouble-delay-ms))
                     (finally (.remove running job-id)))]
      (when next-run
        (schedule! worker job-id next-run)))))
