(ns addon.async-test
  "Asynchronous (v3) provisioning against an in-process fake of Heroku's identity service
  and Platform API (the JDK's com.sun.net.httpserver, on 127.0.0.1 and a free port)."
  (:require [addon.config :as config]
            [addon.heroku :as heroku]
            [addon.store :as store]
            [addon.web :as web]
            [cheshire.core :as json]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [ring.mock.request :as mock]
            [ring.util.codec :as codec])
  (:import (com.sun.net.httpserver HttpExchange HttpHandler HttpServer)
           (java.net InetSocketAddress ServerSocket)
           (java.nio.charset StandardCharsets)
           (java.util Base64)))

(def client-secret "test-client-secret")
(def access-token "fake-access-token")
(def refresh-token "fake-refresh-token")

(defn- settings [& {:as env}]
  (-> (web/settings (merge {"PORT" "5000"
                            "HEROKU_USERNAME" "test-addon"
                            "HEROKU_PASSWORD" "test-password"
                            "SSO_SALT" "test-salt"
                            "HEROKU_CLIENT_SECRET" client-secret}
                           env))
      ;; Retry quickly: the real pauses are half a second and more.
      (assoc :retry-delays-ms [10 20])))

;; Everything the service logs, background jobs included (futures convey *out*).
(def ^:dynamic *log* nil)

(use-fixtures :each (fn [test]
                      (store/clear!)
                      (let [out (java.io.StringWriter.)]
                        (binding [*out* out *log* out]
                          (test)))))

;; --- a fake Heroku ---------------------------------------------------------------------

(defn- heroku-answer
  "What Heroku answers when everything is right."
  [{:keys [method path]}]
  (cond
    (= [:post "/oauth/token"] [method path])
    [200 {:access_token access-token :refresh_token refresh-token :expires_in 28800
          :token_type "Bearer" :user_id "user-1"}]
    (and (= :patch method) (str/ends-with? path "/config")) [200 []]
    (and (= :post method) (re-find #"/actions/(de)?provision$" path)) [200 {}]
    :else [404 {:id "not_found" :message "Not found."}]))

(defn- start-fake
  "Starts a fake Heroku; `respond` maps a recorded request {:method :path :headers :body}
  to [status json-body]. Returns {:url :requests (an atom) :server}."
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
                                        :body (slurp (.getRequestBody exchange) :encoding "UTF-8")}
                               _ (swap! requests conj request)
                               [status body] (try (respond request)
                                                  (catch Throwable _ [500 {:message "fake failed"}]))
                               bytes (.getBytes (json/generate-string body) StandardCharsets/UTF_8)]
                           (.add (.getResponseHeaders exchange) "Content-Type" "application/json")
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

(defn- eventually
  "Polls (pred) every 10 ms until it is truthy (returned) or 10 s have passed (nil)."
  [pred]
  (let [deadline (+ (System/currentTimeMillis) 10000)]
    (loop []
      (or (pred)
          (when (< (System/currentTimeMillis) deadline)
            (Thread/sleep 10)
            (recur))))))

(defn- calls [fake method path]
  (filter #(and (= method (:method %)) (= path (:path %))) @(:requests fake)))

(defn- form [body]
  (into {} (for [pair (str/split body #"&")
                 :let [[k v] (str/split pair #"=" 2)]]
             [(codec/url-decode k) (codec/url-decode (or v ""))])))

;; --- calling the service as Heroku does ------------------------------------------------

(defn- basic-auth []
  (str "Basic " (.encodeToString (Base64/getEncoder)
                                 (.getBytes "test-addon:test-password" StandardCharsets/UTF_8))))

(defn- api [app method path body]
  (let [response (cond-> (-> (mock/request method path)
                             (mock/header "Authorization" (basic-auth)))
                   body (-> (mock/content-type "application/json")
                            (mock/body (json/generate-string body)))
                   true app)]
    (assoc response :json (some-> (:body response) not-empty json/parse-string))))

(defn- v3-request [fake uuid & {:as extra}]
  (merge {:uuid uuid :name "acme-inc-primary" :plan "async"
          :region "amazon-web-services::us-east-1"
          :callback_url (str (:url fake) "/addons/" uuid)
          :oauth_grant {:code (str "code-" uuid) :type "authorization_code"
                        :expires_at "2030-01-01T00:00:00Z"}
          :options {}}
         extra))

(defn- provisioned? [fake uuid]
  (first (calls fake :post (str "/addons/" uuid "/actions/provision"))))

(defn- assert-no-secrets-logged []
  (let [logged (str *log*)]
    (doseq [secret [client-secret access-token refresh-token "code-"]]
      (is (not (str/includes? logged secret)) (str "the log shows " secret)))))

;; --- the tests -------------------------------------------------------------------------

(deftest identity-url-rule
  (testing "HEROKU_IDENTITY_URL wins"
    (is (= "http://127.0.0.1:9999"
           (heroku/identity-url "http://127.0.0.1:9999/" "https://api.heroku.com/addons/u"))))
  (testing "callbacks to api.heroku.com: Heroku's identity service"
    (is (= "https://id.heroku.com" (heroku/identity-url nil "https://api.heroku.com/addons/u")))
    (is (= "https://id.heroku.com" (heroku/identity-url "" "https://API.heroku.com/addons/u"))))
  (testing "any other callback_url: its origin"
    (is (= "http://127.0.0.1:4567" (heroku/identity-url nil "http://127.0.0.1:4567/addons/u")))
    (is (= "https://heroku.example.com" (heroku/identity-url nil "https://heroku.example.com/addons/u")))))

(deftest async-provision-runs-the-v3-flow
  (with-fake [fake]
    (let [app (web/app (settings))
          response (api app :post "/heroku/resources" (v3-request fake "uuid-1"))
          id (get-in response [:json "id"])
          url (str "http://localhost:5000/resources/" id)]
      (testing "202 with an id and a message, no config"
        (is (= 202 (:status response)))
        (is (string? id))
        (is (string? (get-in response [:json "message"])))
        (is (not (contains? (:json response) "config"))))
      (is (eventually #(provisioned? fake "uuid-1")) "actions/provision was called")
      (testing "the grant exchange, at the callback_url's origin"
        (let [[exchange :as all] (calls fake :post "/oauth/token")]
          (is (= 1 (count all)))
          (is (str/starts-with? (get-in exchange [:headers "content-type"]) "application/x-www-form-urlencoded"))
          (is (= {"grant_type" "authorization_code" "code" "code-uuid-1" "client_secret" client-secret}
                 (form (:body exchange))))))
      (testing "the config, set with the token"
        (let [[patch :as all] (calls fake :patch "/addons/uuid-1/config")]
          (is (= 1 (count all)))
          (is (= (str "Bearer " access-token) (get-in patch [:headers "authorization"])))
          (is (= "application/vnd.heroku+json; version=3" (get-in patch [:headers "accept"])))
          (is (= {"config" [{"name" config/config-var "value" url}]} (json/parse-string (:body patch))))))
      (testing "the provision action, with the token"
        (let [action (provisioned? fake "uuid-1")]
          (is (= (str "Bearer " access-token) (get-in action [:headers "authorization"])))
          (is (= "application/vnd.heroku+json; version=3" (get-in action [:headers "accept"])))))
      (testing "plain HTTP/1.1 (no h2c upgrade, which kensa's fake Heroku does not answer)"
        (is (every? #(nil? (get-in % [:headers "upgrade"])) @(:requests fake))))
      (testing "the steps ran in order"
        (is (= ["/oauth/token" "/addons/uuid-1/config" "/addons/uuid-1/actions/provision"]
               (map :path @(:requests fake)))))
      (testing "the tokens are kept with the resource"
        (is (eventually #(= :provisioned (:status (store/find-by-id id)))))
        (is (= access-token (:access-token (store/find-by-id id))))
        (is (= refresh-token (:refresh-token (store/find-by-id id)))))
      (testing "a replay once done: the same resource, now with its config"
        (let [replay (api app :post "/heroku/resources" (v3-request fake "uuid-1"))]
          (is (= 200 (:status replay)))
          (is (= id (get-in replay [:json "id"])))
          (is (= {config/config-var url} (get-in replay [:json "config"])))))
      (is (= 1 (count (calls fake :post "/oauth/token"))) "a replay exchanges nothing")
      (assert-no-secrets-logged))))

(deftest heroku-identity-url-setting
  (with-fake [identity]
    (with-fake [api-host]
      (let [app (web/app (settings "HEROKU_IDENTITY_URL" (:url identity)))]
        (is (= 202 (:status (api app :post "/heroku/resources" (v3-request api-host "uuid-1")))))
        (is (eventually #(provisioned? api-host "uuid-1")))
        (is (= 1 (count (calls identity :post "/oauth/token"))))
        (is (empty? (calls api-host :post "/oauth/token")))))))

(deftest replays-while-provisioning-give-the-same-id
  (let [gate (promise)]
    (with-fake [fake (fn [request]
                       (when (= "/oauth/token" (:path request))
                         (deref gate 5000 nil))
                       (heroku-answer request))]
      (let [app (web/app (settings))
            id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])
            replays (doall (pmap (fn [_] (api app :post "/heroku/resources" (v3-request fake "uuid-1")))
                                 (range 5)))]
        (is (every? #(= 202 (:status %)) replays))
        (is (every? #(= id (get-in % [:json "id"])) replays))
        (is (every? #(not (contains? (:json %) "config")) replays))
        (deliver gate true)
        (is (eventually #(provisioned? fake "uuid-1")))
        (is (= 1 (count (calls fake :post "/oauth/token"))) "one background job for one uuid")))))

(deftest concurrent-deliveries-make-one-resource
  (with-fake [fake]
    (let [app (web/app (settings))
          responses (doall (pmap (fn [_] (api app :post "/heroku/resources" (v3-request fake "uuid-1")))
                                 (range 8)))]
      (is (= 1 (count (set (map #(get-in % [:json "id"]) responses)))))
      (is (eventually #(provisioned? fake "uuid-1")))
      (is (= 1 (count (calls fake :post "/oauth/token"))))
      (is (= 1 (count (calls fake :patch "/addons/uuid-1/config")))))))

(deftest retries-on-5xx
  (let [failures (atom {"/oauth/token" 2 "/addons/uuid-1/config" 1 "/addons/uuid-1/actions/provision" 2})]
    (with-fake [fake (fn [{:keys [path] :as request}]
                       (if (pos? (get @failures path 0))
                         (do (swap! failures update path dec)
                             [503 {:id "unavailable" :message "Try again."}])
                         (heroku-answer request)))]
      (let [app (web/app (settings))
            id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])]
        (is (eventually #(= :provisioned (:status (store/find-by-id id)))))
        (is (= 3 (count (calls fake :post "/oauth/token"))))
        (is (= 2 (count (calls fake :patch "/addons/uuid-1/config"))))
        (is (= 3 (count (calls fake :post "/addons/uuid-1/actions/provision"))))
        (assert-no-secrets-logged)))))

(deftest gives-up-after-three-tries
  (with-fake [fake (fn [request]
                     (if (= "/oauth/token" (:path request))
                       [500 {:id "server_error" :message "Down."}]
                       (heroku-answer request)))]
    (let [app (web/app (settings))
          id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])]
      (is (eventually #(= :failed (:status (store/find-by-id id)))))
      (is (= 3 (count (calls fake :post "/oauth/token"))))
      (is (empty? (calls fake :patch "/addons/uuid-1/config")))
      (is (str/includes? (str *log*) "async provision failed"))
      (assert-no-secrets-logged))))

(deftest no-retry-on-4xx
  (with-fake [fake (fn [request]
                     (if (= "/oauth/token" (:path request))
                       [400 {:id "invalid_grant" :message "The code was already used."}]
                       (heroku-answer request)))]
    (let [app (web/app (settings))
          id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])]
      (is (eventually #(= :failed (:status (store/find-by-id id)))))
      (is (= 1 (count (calls fake :post "/oauth/token"))))
      (is (empty? (calls fake :patch "/addons/uuid-1/config")))
      (is (str/includes? (str *log*) "invalid_grant"))
      (assert-no-secrets-logged))))

(deftest retries-on-network-errors
  (let [closed-port (with-open [socket (ServerSocket. 0)] (.getLocalPort socket))]
    (with-fake [fake]
      (let [app (web/app (settings "HEROKU_IDENTITY_URL" (str "http://127.0.0.1:" closed-port)))
            id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])]
        (is (eventually #(= :failed (:status (store/find-by-id id)))))
        (is (= 2 (count (re-seq #"token exchange attempt \d failed" (str *log*)))) "two retries logged")
        (is (empty? (calls fake :patch "/addons/uuid-1/config")))))))

(deftest async-deprovision
  (with-fake [fake]
    (let [app (web/app (settings))
          id (get-in (api app :post "/heroku/resources" (v3-request fake "uuid-1")) [:json "id"])
          _ (is (eventually #(= :provisioned (:status (store/find-by-id id)))))
          response (api app :delete (str "/heroku/resources/" id) nil)]
      (is (= 202 (:status response)))
      (is (string? (get-in response [:json "message"])))
      (is (nil? (store/find-by-id id)) "the resource is gone")
      (let [action (eventually #(first (calls fake :post "/addons/uuid-1/actions/deprovision")))]
        (is action "actions/deprovision was called")
        (is (= (str "Bearer " access-token) (get-in action [:headers "authorization"])))
        (is (= "application/vnd.heroku+json; version=3" (get-in action [:headers "accept"]))))
      (is (= 404 (:status (api app :delete (str "/heroku/resources/" id) nil))))
      (assert-no-secrets-logged))))

(deftest other-plans-stay-synchronous
  (with-fake [fake]
    (let [app (web/app (settings))
          response (api app :post "/heroku/resources" (v3-request fake "uuid-1" :plan "test"))
          id (get-in response [:json "id"])]
      (is (= 201 (:status response)))
      (is (= {config/config-var (str "http://localhost:5000/resources/" id)} (get-in response [:json "config"])))
      (is (= 204 (:status (api app :delete (str "/heroku/resources/" id) nil))))
      (is (empty? @(:requests fake)) "Heroku is not called"))))

(deftest async-needs-a-v3-request-and-a-client-secret
  (with-fake [fake]
    (testing "no callback_url or grant: 422, nothing stored"
      (let [app (web/app (settings))]
        (doseq [body [(dissoc (v3-request fake "uuid-1") :callback_url)
                      (assoc (v3-request fake "uuid-1") :callback_url "ftp://example.com/x")
                      (dissoc (v3-request fake "uuid-1") :oauth_grant)
                      (assoc (v3-request fake "uuid-1") :oauth_grant "code")
                      (dissoc (v3-request fake "uuid-1") :uuid)]]
          (let [response (api app :post "/heroku/resources" body)]
            (is (= 422 (:status response)))
            (is (string? (get-in response [:json "message"])))))
        (is (nil? (store/find-by-uuid "uuid-1")))))
    (testing "no HEROKU_CLIENT_SECRET: 503"
      (let [app (web/app (dissoc (settings) :client-secret))
            response (api app :post "/heroku/resources" (v3-request fake "uuid-1"))]
        (is (= 503 (:status response)))
        (is (string? (get-in response [:json "message"])))))
    (is (empty? @(:requests fake)))))
