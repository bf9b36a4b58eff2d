(ns addon.test-support
  "What the test namespaces share: the databases every test runs on (a throwaway SQLite
  file always, and Postgres as well when TEST_DATABASE_URL is set, in a fresh schema per
  run), a running system on one of them, and calls to the Ring handler."
  (:require [addon.crypto :as crypto]
            [addon.db :as db]
            [addon.migrations :as migrations]
            [addon.settings :as settings]
            [addon.web :as web]
            [addon.worker :as worker]
            [cheshire.core :as json]
            [clojure.java.io :as io]
            [clojure.test :refer [testing]]
            [ring.mock.request :as mock])
  (:import (java.nio.charset StandardCharsets)
           (java.nio.file Files)
           (java.nio.file.attribute FileAttribute)
           (java.util Base64)))

;; ---------------------------------------------------------------------------------------
;; Databases

(def ^:private scratch-dir
  (delay (doto (.toFile (Files/createTempDirectory "addon-test" (make-array FileAttribute 0)))
           (.deleteOnExit))))

(def ^:private cleanups (atom []))

(defonce ^:private cleanup-hook
  (.addShutdownHook (Runtime/getRuntime)
                    (Thread. #(doseq [f (rseq @cleanups)] (try (f) (catch Exception _ nil))))))

(defn fresh-databases
  "New, empty databases, one per kind under test: [{:name :db}]. They are closed (and the
  Postgres schema dropped) when the JVM exits."
  []
  (let [sqlite-path (str (io/file @scratch-dir (str (crypto/hex (crypto/random-bytes 6)) ".sqlite3")))
        sqlite (db/connect {:sqlite-path sqlite-path})
        postgres (when-let [url (settings/non-blank (System/getenv "TEST_DATABASE_URL"))]
                   (let [schema (str "addon_test_" (crypto/hex (crypto/random-bytes 6)))
                         admin (db/connect {:database-url url :pool-size 1})]
                     (db/execute! admin [(str "CREATE SCHEMA " schema)])
                     (swap! cleanups conj #(do (db/execute! admin [(str "DROP SCHEMA " schema " CASCADE")])
                                               (db/close! admin)))
                     (db/connect {:database-url url :schema schema :pool-size 8})))]
    (swap! cleanups conj #(db/close! sqlite) #(some-> postgres db/close!)
           #(doseq [suffix ["" "-wal" "-shm"]] (io/delete-file (str sqlite-path suffix) true)))
    (cond-> [{:name "sqlite" :db sqlite}]
      postgres (conj {:name "postgres" :db postgres}))))

(def ^:private shared
  ;; One migrated database per kind for the whole run; each test starts on empty tables.
  (delay (doto (fresh-databases)
           (->> (run! (comp migrations/migrate! :db))))))

(def ^:dynamic *db* nil)

(defn each-database
  "A :each fixture: runs the test once on every database, on empty tables, with what the
  service logs kept out of the report (and readable with `logged`)."
  [test]
  (doseq [{:keys [name db]} @shared]
    (db/execute! db ["DELETE FROM jobs"])
    (db/execute! db ["DELETE FROM resources"])
    (binding [*db* db
              *out* (java.io.StringWriter.)]
      (testing (str "[" name "]")
        (test)))))

(defn logged
  "Everything the service logged in this test so far (background jobs included: the
  worker conveys the test's bindings to its threads)."
  []
  (str *out*))

;; ---------------------------------------------------------------------------------------
;; A running system

(def encryption-key-hex (crypto/random-token))

(def base-env {"PORT" "5000"
               "HEROKU_USERNAME" "test-addon"
               "HEROKU_PASSWORD" "test-password"
               "SSO_SALT" "test-salt"
               "HEROKU_CLIENT_SECRET" "test-client-secret"
               "ENCRYPTION_KEY" encryption-key-hex})

(defn test-settings
  "Settings from base-env merged with `env` (a nil value removes a variable); background
  jobs retry within milliseconds."
  [& {:as env}]
  (-> (settings/from-env (into {} (remove (comp nil? val)) (merge base-env env)))
      (assoc :job-retry {:max-attempts 3 :base-delay-ms 10 :max-delay-ms 5000})))

(defn start-system
  "A system on *db*: {:db :settings :worker :app}. Stop it with `stop-system`."
  ([] (start-system (test-settings)))
  ([settings]
   (let [system {:db *db* :settings settings}
         system (assoc system :worker (worker/start! system))]
     (worker/resume! (:worker system))
     (assoc system :app (web/app system)))))

(defn stop-system [system]
  (worker/stop! (:worker system)))

(defmacro with-system
  "Runs `body` with `name` bound to a started system (see start-system)."
  [[name settings] & body]
  `(let [~name (start-system ~@(when settings [settings]))]
     (try ~@body (finally (stop-system ~name)))))

;; ---------------------------------------------------------------------------------------
;; Calling the handler

(defn basic-auth [user password]
  (str "Basic " (.encodeToString (Base64/getEncoder)
                                 (.getBytes (str user ":" password) StandardCharsets/UTF_8))))

(def heroku-auth (basic-auth "test-addon" "test-password"))

(defn call
  "Calls `system`'s handler: `method` on http://localhost:5000`path`, with a JSON body
  (a string is sent as it is) and headers. The response gains :json, the parsed body."
  [system method path & {:keys [body headers]}]
  (let [response ((:app system)
                  (cond-> (mock/request method (str "http://localhost:5000" path))
                    body (-> (mock/content-type "application/json")
                             (mock/body (if (string? body) body (json/generate-string body))))
                    true (update :headers merge headers)))]
    (assoc response :json (try (some-> (:body response) not-empty json/parse-string)
                               (catch Exception _ nil)))))

(defn heroku
  "Calls the provisioning API as Heroku does (Basic auth with the manifest's credentials)."
  [system method path & {:as options}]
  (call system method path (update options :headers merge {"authorization" heroku-auth})))

(defn eventually
  "Polls (pred) every 10 ms until it is truthy (returned) or 10 s have passed (nil)."
  [pred]
  (let [deadline (+ (System/currentTimeMillis) 10000)]
    (loop []
      (or (pred)
          (when (< (System/currentTimeMillis) deadline)
            (Thread/sleep 10)
            (recur))))))

(defn all-rows
  "Every row of every table, as text: to show that no secret is stored in clear."
  [db]
  (pr-str (for [table ["resources" "jobs" "schema_migrations"]]
            (db/query db [(str "SELECT * FROM " table)]))))
