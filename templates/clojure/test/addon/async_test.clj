(ns addon.async-test
  "Asynchronous (v3) provisioning and deprovisioning as persisted background jobs, against
  an in-process fake of Heroku's identity service and Platform API (the JDK's
  com.sun.net.httpserver, on 127.0.0.1 and a free port)."
  (:require [addon.config :as config]
            [addon.db :as db]
            [addon.heroku :as heroku]
            [addon.jobs :as jobs]
            [addon.test-support :as t :refer [*db* call eventually heroku start-system stop-system with-system]]
            [cheshire.core :as json]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [ring.util.codec :as codec])
  (:import (com.sun.net.httpserver HttpExchange HttpHandler HttpServer)
           (java.net InetSocketAddress ServerSocket URI)
           (java.nio.charset StandardCharsets)))

(use-fixtures :each t/each-database)

(def client-secret "test-client-secret")
(def access-token "fake-access-token-1")
(def refresh-token "fake-refresh-token-1")

;; --- a fake Heroku ---------------------------------------------------------------------

(defn- form [body]
  (into {} (for [pair (str/split body #"&")
                 :let [[k v] (str/split pair #"=" 2)]]
             [(codec/url-decode k) (codec/url-decode (or v ""))])))

(defn- heroku-answer
  "What Heroku answers when everything is right: [status json-body headers]."
  [{:keys [method path body]}]
  (cond
    (= [:post "/oauth/token"] [method path])
    (if (= "refresh_token" (get (form body) "grant_type"))
      [200 {:access_token "fake-access-token-2" :expires_in 28800 :token_type "Bearer"}]
      [200 {:access_token access-token :refresh_token refresh-token :expires_in 28800
            :token_type "Bearer" :user_id "user-1"}])
    (and (= :patch method) (str/ends-with? path "/config")) [200 []]
    (and (= :post method) (re-find #"/actions/(de)?provision$" path)) [200 {}]
    :else [404 {:id "not_found" :message "Not found."}]))

(defn- start-fake
  "Starts a fake Heroku; `respond` maps a recorded request {:method :path :headers :body :at}
  to [status json-body headers?]. Returns {:url :requests (an atom) :server}."
  ([] (start-fake heroku-answer))
  ([respond]
   (let [requests (atom [])
         server (HttpServer/create (InetSocketAddress. "127.0.0.1" 0) 0)]
     (.createContext server "/"
                     (reify HttpHandler
                       (handle [_ exchange]
                         (let [^HttpExchange exchange exchange
                               request {:method (keyword (str/lower-case (.getRequestMethod exchange)))
                                        :path (.getPath (.getRequestURI exchange))
                                        :headers (into {} (for [[k vs] (.getRequestHeaders exchange)]
                                                            [(str/lower-case k) (first vs)]))
                                        :body (slurp (.getRequestBody exchange) :encoding "UTF-8")
                                        :at (System/currentTimeMillis)}
                               _ (swap! requests conj request)
                               [status body headers] (try (respond request)
                                                          (catch Throwable _ [500 {:message "fake failed"}]))
                               bytes (.getBytes (json/generate-string body) StandardCharsets/UTF_8)]
                           (.add (.getResponseHeaders exchange) "Content-Type" "application/json")
                           (doseq [[k v] headers] (.add (.getResponseHeaders exchange) k v))
                           (.sendResponseHeaders exchange status (alength bytes))
                           (with-open [out (.getResponseBody exchange)]
                             (.write out bytes))))))
     (.start server)
     {:server server
      :requests requests
      :url (str "http://127.0.0.1:" (.getPort (.getAddress server)))})))

(defmacro with-fake [[binding respond] & body]
  `(let [~binding (start-fake ~@(when respond [respond]))]
     (try ~@body (finally (.stop ^HttpServer (:server ~binding) 0)))))

(defn- calls [fake method path]
  (filter #(and (= method (:method %)) (= path (:path %))) @(:requests fake)))

(defn- exchanges [fake]
  (filter #(= "authorization_code" (get (form (:body %)) "grant_type")) (calls fake :post "/oauth/token")))

(defn- refreshes [fake]
  (filter #(= "refresh_token" (get (form (:body %)) "grant_type")) (calls fake :post "/oauth/token")))

(defn- provisioned? [fake uuid]
  (first (calls fake :post (str "/addons/" uuid "/actions/provision"))))

;; --- calling the service as Heroku does ------------------------------------------------

(defn- v3-request [fake uuid & {:as extra}]
  (merge {:uuid uuid :name "acme-inc-primary" :plan "async"
          :region "amazon-web-services::us-east-1"
          :callback_url (str (:url fake) "/addons/" uuid)
          :oauth_grant {:code (str "grant-code-" uuid) :type "authorization_code"
                        :expires_at "2099-01-01T00:00:00Z"}
          :options {}}
         extra))

(defn- provision! [system fake uuid & extra]
  (heroku system :post "/heroku/resources" :body (apply v3-request fake uuid extra)))

(defn- resource [id]
  (first (db/query *db* ["SELECT * FROM resources WHERE id = ?" id])))

(defn- job-of [id kind]
  (jobs/for-resource *db* id kind))

(defn- status-of [id] (:status (resource id)))

(defn- assert-no-secrets-logged []
  (let [logged (t/logged)]
    (doseq [secret [client-secret access-token refresh-token "fake-access-token-2" "grant-code-"]]
      (is (not (str/includes? logged secret)) (str "the log shows " secret)))))

(defn- assert-no-secrets-stored []
  (let [stored (t/all-rows *db*)]
    (doseq [secret [access-token refresh-token "fake-access-token-2" "grant-code-"]]
      (is (not (str/includes? stored secret)) (str "the database holds " secret " in clear")))))

;; --- the rule for the identity service -------------------------------------------------

(deftest identity-url-rule
  (testing "HEROKU_IDENTITY_URL wins"
    (is (= "http://127.0.0.1:9999"
           (heroku/identity-url "http://127.0.0.1:9999/" "https://api.heroku.com/addons/u")))
    (is (= "https://id.example.com" (heroku/identity-url "https://id.example.com" "https://elsewhere.example.com/x"))))
  (testing "callbacks to https://api.heroku.com: Heroku's identity service"
    (is (= "https://id.heroku.com" (heroku/identity-url nil "https://api.heroku.com/addons/u")))
    (is (= "https://id.heroku.com" (heroku/identity-url "" "https://API.heroku.com/addons/u"))))
  (testing "loopback callbacks (kensa's fake Heroku): their origin"
    (is (= "http://127.0.0.1:4567" (heroku/identity-url nil "http://127.0.0.1:4567/addons/u")))
    (is (= "http://localhost:4567" (heroku/identity-url nil "http://localhost:4567/addons/u")))
    (is (= "http://[::1]:4567" (heroku/identity-url nil "http://[::1]:4567/addons/u"))))
  (testing "on a dyno (loopback? false) a loopback callback is refused: Heroku never sends one"
    (doseq [callback ["http://127.0.0.1:4567/addons/u" "http://localhost:4567/addons/u" "http://[::1]:4567/addons/u"]]
      (is (nil? (heroku/identity-url nil callback false)) callback))
    (is (= "https://id.heroku.com" (heroku/identity-url nil "https://api.heroku.com/addons/u" false))))
  (testing "anything else: nowhere"
    (doseq [callback ["https://heroku.example.com/addons/u" "http://api.heroku.com/addons/u"
                      "https://api.heroku.com.example.com/x" "http://127.0.0.1.example.com/x"
                      "http://192.168.1.1/x" "nonsense" nil]]
      (is (nil? (heroku/identity-url nil callback)) (pr-str callback)))))

;; --- provisioning ----------------------------------------------------------------------

(deftest async-provision-runs-the-v3-flow
  (with-fake [fake]
    (with-system [system]
      (let [response (provision! system fake "uuid-1")
            id (get-in response [:json "id"])]
        (testing "202 with an id and a message, no config"
          (is (= 202 (:status response)))
          (is (string? id))
          (is (string? (get-in response [:json "message"])))
          (is (not (contains? (:json response) "config"))))
        (is (eventually #(= "provisioned" (status-of id))) "the job finished")
        (testing "the grant exchange, at the callback_url's origin"
          (let [[exchange :as all] (exchanges fake)]
            (is (= 1 (count all)))
            (is (str/starts-with? (get-in exchange [:headers "content-type"]) "application/x-www-form-urlencoded"))
            (is (= {"grant_type" "authorization_code" "code" "grant-code-uuid-1" "client_secret" client-secret}
                   (form (:body exchange))))))
        (let [[patch :as all] (calls fake :patch "/addons/uuid-1/config")
              config-url (-> (json/parse-string (:body patch)) (get "config") first (get "value"))]
          (testing "the config, set with the token"
            (is (= 1 (count all)))
            (is (= (str "Bearer " access-token) (get-in patch [:headers "authorization"])))
            (is (= "application/vnd.heroku+json; version=3" (get-in patch [:headers "accept"])))
            (is (= config/config-var (-> (json/parse-string (:body patch)) (get "config") first (get "name")))))
          (testing "the config var's credentials work on the resource API"
            (let [[user token] (str/split (.getUserInfo (URI. config-url)) #":" 2)]
              (is (= id user))
              (is (= 200 (:status (call system :get "/api/resource" :headers {"authorization" (t/basic-auth user token)}))))))
          (testing "a replay once done: the same resource, now with the same config"
            (let [replay (provision! system fake "uuid-1")]
              (is (= 200 (:status replay)))
              (is (= id (get-in replay [:json "id"])))
              (is (= {config/config-var config-url} (get-in replay [:json "config"]))))))
        (testing "the provision action, with the token"
          (let [action (provisioned? fake "uuid-1")]
            (is (= (str "Bearer " access-token) (get-in action [:headers "authorization"])))
            (is (= "application/vnd.heroku+json; version=3" (get-in action [:headers "accept"])))))
        (testing "plain HTTP/1.1 (no h2c upgrade, which kensa's fake Heroku does not answer)"
          (is (every? #(nil? (get-in % [:headers "upgrade"])) @(:requests fake))))
        (testing "the steps ran in order, and the job says so"
          (is (= ["/oauth/token" "/addons/uuid-1/config" "/addons/uuid-1/actions/provision"]
                 (map :path @(:requests fake))))
          (is (= "done" (:step (job-of id "provision")))))
        (testing "tokens and the grant code are stored encrypted, the code dropped once used"
          (let [job (job-of id "provision")]
            (is (nil? (:grant-code job)))
            (is (str/starts-with? (:access-token job) "v1."))
            (is (= {:access-token access-token :refresh-token refresh-token}
                   (select-keys (jobs/secrets (get-in system [:settings :encryption-key]) job)
                                [:access-token :refresh-token]))))
          (assert-no-secrets-stored))
        (is (= 1 (count (exchanges fake))) "a replay exchanges nothing")
        (assert-no-secrets-logged)))))

(deftest heroku-identity-url-setting
  (with-fake [identity]
    (with-fake [api-host]
      (with-system [system (t/test-settings "HEROKU_IDENTITY_URL" (:url identity))]
        (is (= 202 (:status (provision! system api-host "uuid-1"))))
        (is (eventually #(provisioned? api-host "uuid-1")))
        (is (= 1 (count (exchanges identity))))
        (is (empty? (calls api-host :post "/oauth/token")))))))

(deftest replays-while-provisioning-give-the-same-id
  (let [gate (promise)]
    (with-fake [fake (fn [request]
                       (when (= "/oauth/token" (:path request))
                         (deref gate 5000 nil))
                       (heroku-answer request))]
      (with-system [system]
        (let [id (get-in (provision! system fake "uuid-1") [:json "id"])
              replays (doall (pmap (fn [_] (provision! system fake "uuid-1")) (range 5)))]
          (is (every? #(= 202 (:status %)) replays))
          (is (every? #(= id (get-in % [:json "id"])) replays))
          (is (every? #(not (contains? (:json %) "config")) replays))
          (deliver gate true)
          (is (eventually #(provisioned? fake "uuid-1")))
          (is (= 1 (count (exchanges fake))) "one background job for one uuid"))))))

(deftest concurrent-deliveries-make-one-resource-and-one-job
  (with-fake [fake]
    (with-system [system]
      (let [start (promise)
            copies (doall (for [_ (range 16)] (future @start (provision! system fake "uuid-1"))))
            _ (deliver start true)
            responses (map deref copies)]
        ;; 202 while the job runs; a late copy may find it done already: 200 with the config.
        (is (every? #(#{200 202} (:status %)) responses))
        (is (= 1 (count (set (map #(get-in % [:json "id"]) responses)))))
        (is (eventually #(provisioned? fake "uuid-1")))
        (is (= 1 (count (db/query *db* ["SELECT id FROM jobs"]))))
        (is (= 1 (count (exchanges fake))))
        (is (= 1 (count (calls fake :patch "/addons/uuid-1/config"))))))))

;; --- restarts --------------------------------------------------------------------------

(deftest a-restart-resumes-the-job-where-it-stopped
  (with-fake [fake]
    (testing "killed before the first step (ASYNC_DELAY_SECONDS keeps the job waiting)"
      (let [system (start-system (t/test-settings "ASYNC_DELAY_SECONDS" "1"))
            id (get-in (provision! system fake "uuid-1") [:json "id"])]
        (stop-system system)
        (is (= "accepted" (:step (job-of id "provision"))) "the job is in the database")
        (is (empty? @(:requests fake)) "and nothing was called yet")
        (with-system [restarted (t/test-settings "ASYNC_DELAY_SECONDS" "1")]
          (is (eventually #(= "provisioned" (status-of id))) "the restarted service finished it")
          (is (= 1 (count (exchanges fake))))
          (is (provisioned? fake "uuid-1")))))))

(deftest a-restart-never-exchanges-a-grant-twice
  (let [config-down (atom true)]
    (with-fake [fake (fn [{:keys [method] :as request}]
                       (if (and (= :patch method) @config-down)
                         [503 {:id "unavailable" :message "Try again."}]
                         (heroku-answer request)))]
      (let [settings (assoc (t/test-settings) :job-retry {:max-attempts 100 :base-delay-ms 20 :max-delay-ms 20})
            system (start-system settings)
            id (get-in (provision! system fake "uuid-1") [:json "id"])]
        (is (eventually #(= "grant_exchanged" (:step (job-of id "provision")))))
        (is (eventually #(pos? (:attempts (job-of id "provision")))))
        (stop-system system)
        (testing "the failed tries are recorded"
          (let [job (job-of id "provision")]
            (is (pos? (:attempts job)))
            (is (str/includes? (:last-error job) "503"))))
        (reset! config-down false)
        (with-system [restarted settings]
          (is (eventually #(= "provisioned" (status-of id))))
          (is (= 1 (count (exchanges fake))) "the grant was exchanged once, before the restart"))))))

(deftest with-postgres-one-process-runs-a-job
  (when (db/postgres? *db*)
    (let [gate (promise)]
      (with-fake [fake (fn [request]
                         (when (= "/oauth/token" (:path request)) (deref gate 5000 nil))
                         (heroku-answer request))]
        ;; Two web dynos: the second starts while the first runs the job.
        (with-system [first-dyno]
          (let [id (get-in (provision! first-dyno fake "uuid-1") [:json "id"])]
            (is (eventually #(seq (exchanges fake))))
            (with-system [second-dyno]
              (Thread/sleep 200)
              (deliver gate true)
              (is (eventually #(= "provisioned" (status-of id))))
              (is (= 1 (count (exchanges fake)))))))))))

;; --- tokens ----------------------------------------------------------------------------

(deftest an-expiring-access-token-is-refreshed-before-use
  (with-fake [fake (fn [{:keys [path body] :as request}]
                     (if (and (= "/oauth/token" path) (= "authorization_code" (get (form body) "grant_type")))
                       ;; Inside the service's one-minute margin: refresh before any API call.
                       [200 {:access_token access-token :refresh_token refresh-token :expires_in 30}]
                       (heroku-answer request)))]
    (with-system [system]
      (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
        (is (eventually #(= "provisioned" (status-of id))))
        (let [[refresh :as all] (refreshes fake)]
          (is (= 1 (count all)) "refreshed once: the new token lives 8 hours")
          (is (= {"grant_type" "refresh_token" "refresh_token" refresh-token "client_secret" client-secret}
                 (form (:body refresh)))))
        (is (= "Bearer fake-access-token-2"
               (get-in (first (calls fake :patch "/addons/uuid-1/config")) [:headers "authorization"])))
        (is (= "Bearer fake-access-token-2" (get-in (provisioned? fake "uuid-1") [:headers "authorization"])))
        (testing "the new token is stored, encrypted; the refresh token kept"
          (is (= {:access-token "fake-access-token-2" :refresh-token refresh-token}
                 (select-keys (jobs/secrets (get-in system [:settings :encryption-key]) (job-of id "provision"))
                              [:access-token :refresh-token])))
          (assert-no-secrets-stored))
        (assert-no-secrets-logged)))))

;; --- failures and retries --------------------------------------------------------------

(deftest retries-on-5xx
  (let [failures (atom {"/oauth/token" 1 "/addons/uuid-1/config" 1 "/addons/uuid-1/actions/provision" 1})]
    (with-fake [fake (fn [{:keys [path] :as request}]
                       (if (pos? (get @failures path 0))
                         (do (swap! failures update path dec)
                             [503 {:id "unavailable" :message "Try again."}])
                         (heroku-answer request)))]
      (with-system [system]
        (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
          (is (eventually #(= "provisioned" (status-of id))))
          (is (= 2 (count (exchanges fake))))
          (is (= 2 (count (calls fake :patch "/addons/uuid-1/config"))))
          (is (= 2 (count (calls fake :post "/addons/uuid-1/actions/provision"))))
          (is (str/includes? (t/logged) "retrying"))
          (assert-no-secrets-logged))))))

(deftest retry-after-is-honoured
  (let [limited (atom true)]
    (with-fake [fake (fn [{:keys [path] :as request}]
                       (if (and (= "/oauth/token" path) @limited)
                         (do (reset! limited false)
                             [429 {:id "rate_limit" :message "Slow down."} {"Retry-After" "1"}])
                         (heroku-answer request)))]
      (with-system [system]
        (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
          (is (eventually #(= "provisioned" (status-of id))))
          (let [[first-try second-try] (exchanges fake)]
            (is (<= 1000 (- (:at second-try) (:at first-try)))
                "the second try waited the second Heroku asked for")))))))

(deftest gives-up-after-the-last-try
  (with-fake [fake (fn [request]
                     (if (= "/oauth/token" (:path request))
                       [500 {:id "server_error" :message "Down."}]
                       (heroku-answer request)))]
    (with-system [system]
      (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
        (is (eventually #(= "failed" (status-of id))))
        (is (= 3 (count (exchanges fake))) "max-attempts tries")
        (is (empty? (calls fake :patch "/addons/uuid-1/config")))
        (let [job (job-of id "provision")]
          (is (= "failed" (:step job)))
          (is (str/includes? (:last-error job) "HTTP 500")))
        (is (str/includes? (t/logged) "failed"))
        (testing "a replay is told it failed"
          (is (= 422 (:status (provision! system fake "uuid-1")))))
        (assert-no-secrets-logged)))))

(deftest no-retry-on-4xx
  (with-fake [fake (fn [request]
                     (if (= "/oauth/token" (:path request))
                       [400 {:id "invalid_grant" :message "The code was already used."}]
                       (heroku-answer request)))]
    (with-system [system]
      (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
        (is (eventually #(= "failed" (status-of id))))
        (is (= 1 (count (exchanges fake))))
        (is (str/includes? (:last-error (job-of id "provision")) "invalid_grant"))
        (assert-no-secrets-logged)))))

(deftest retries-on-network-errors
  (let [closed-port (with-open [socket (ServerSocket. 0)] (.getLocalPort socket))]
    (with-fake [fake]
      (with-system [system (t/test-settings "HEROKU_IDENTITY_URL" (str "http://127.0.0.1:" closed-port))]
        (let [id (get-in (provision! system fake "uuid-1") [:json "id"])]
          (is (eventually #(= "failed" (status-of id))))
          (is (= 2 (count (re-seq #"try \d failed: token exchange failed: java.net.ConnectException" (t/logged))))
              "two retries logged")
          (is (empty? @(:requests fake))))))))

(deftest an-expired-grant-is-not-exchanged
  (with-fake [fake]
    (with-system [system]
      (let [id (get-in (provision! system fake "uuid-1" :oauth_grant {:code "grant-code-x" :type "authorization_code"
                                                                      :expires_at "2001-01-01T00:00:00Z"})
                       [:json "id"])]
        (is (eventually #(= "failed" (status-of id))))
        (is (str/includes? (:last-error (job-of id "provision")) "expired"))
        (is (empty? @(:requests fake)))))))

;; --- deprovisioning --------------------------------------------------------------------

(deftest async-deprovision
  (with-fake [fake]
    (with-system [system]
      (let [id (get-in (provision! system fake "uuid-1") [:json "id"])
            _ (is (eventually #(= "provisioned" (status-of id))))
            response (heroku system :delete (str "/heroku/resources/" id))]
        (is (= 202 (:status response)))
        (is (string? (get-in response [:json "message"])))
        (is (= "deprovisioned" (status-of id)))
        (let [action (eventually #(first (calls fake :post "/addons/uuid-1/actions/deprovision")))]
          (is action "actions/deprovision was called")
          (is (= (str "Bearer " access-token) (get-in action [:headers "authorization"])))
          (is (= "application/vnd.heroku+json; version=3" (get-in action [:headers "accept"]))))
        (is (eventually #(= "done" (:step (job-of id "deprovision")))))
        (is (= 410 (:status (heroku system :delete (str "/heroku/resources/" id)))))
        (assert-no-secrets-stored)
        (assert-no-secrets-logged)))))

(deftest deprovision-before-the-grant-was-exchanged
  (with-fake [fake]
    (with-system [system (t/test-settings "ASYNC_DELAY_SECONDS" "1")]
      (let [id (get-in (provision! system fake "uuid-1") [:json "id"])
            response (heroku system :delete (str "/heroku/resources/" id))]
        (is (= 204 (:status response)) "no token, so nobody to call back")
        (is (= "failed" (:step (job-of id "provision"))) "the provision job is stopped")
        (is (nil? (job-of id "deprovision")))
        (Thread/sleep 1500)
        (is (empty? @(:requests fake)) "and never runs, though its time has come")))))

(deftest other-plans-stay-synchronous
  (with-fake [fake]
    (with-system [system]
      (let [response (provision! system fake "uuid-1" :plan "test")
            id (get-in response [:json "id"])]
        (is (= 201 (:status response)))
        (is (string? (get-in response [:json "config" config/config-var])))
        (is (= 204 (:status (heroku system :delete (str "/heroku/resources/" id)))))
        (is (empty? @(:requests fake)) "Heroku is not called")))))

(deftest async-needs-a-v3-request-and-a-client-secret
  (with-fake [fake]
    (with-system [system]
      (testing "no callback_url or grant: 422, nothing stored"
        (doseq [body [(dissoc (v3-request fake "uuid-1") :callback_url)
                      (assoc (v3-request fake "uuid-1") :callback_url "ftp://example.com/x")
                      (dissoc (v3-request fake "uuid-1") :oauth_grant)
                      (assoc (v3-request fake "uuid-1") :oauth_grant "code")
                      (dissoc (v3-request fake "uuid-1") :uuid)]]
          (let [response (heroku system :post "/heroku/resources" :body body)]
            (is (= 422 (:status response)))
            (is (string? (get-in response [:json "message"])))))
        (is (empty? (db/query *db* ["SELECT id FROM resources"])))))
    (testing "no HEROKU_CLIENT_SECRET: 503"
      (with-system [system (t/test-settings "HEROKU_CLIENT_SECRET" nil)]
        (let [response (provision! system fake "uuid-1")]
          (is (= 503 (:status response)))
          (is (string? (get-in response [:json "message"]))))))
    (is (empty? @(:requests fake)))))
