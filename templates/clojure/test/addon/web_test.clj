(ns addon.web-test
  "The provisioning API, the resource API, SSO and the dashboard, through the Ring handler."
  (:require [addon.config :as config]
            [addon.crypto :as crypto]
            [addon.db :as db]
            [addon.http :as http]
            [addon.sso :as sso]
            [addon.test-support :as t :refer [*db* call heroku with-system]]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [ring.mock.request :as mock])
  (:import (java.net URI)
           (java.nio.charset StandardCharsets)
           (java.util Base64)))

(use-fixtures :each t/each-database)

;; --- helpers ---------------------------------------------------------------------------

(defn- provision! [system body & {:as options}]
  (apply heroku system :post "/heroku/resources" (mapcat identity (assoc options :body body))))

(defn- config-url [response]
  (get-in response [:json "config" config/config-var]))

(defn- credentials
  "[id token] from a config var URL's userinfo."
  [url]
  (vec (str/split (.getUserInfo (URI. url)) #":" 2)))

(defn- resource-api [system [id token]]
  (call system :get "/api/resource" :headers (when id {"authorization" (t/basic-auth id token)})))

(defn- row [id]
  (first (db/query *db* ["SELECT * FROM resources WHERE id = ?" id])))

(defn- now [] (quot (System/currentTimeMillis) 1000))

(defn- base64url [s]
  (.encodeToString (.withoutPadding (Base64/getUrlEncoder)) (.getBytes ^String s StandardCharsets/UTF_8)))

(def nav-data (base64url "{\"addon\":\"My Addon\",\"appname\":\"my-app\"}"))

(defn- set-cookies [response]
  (let [header (get-in response [:headers "Set-Cookie"])]
    (if (string? header) [header] header)))

(defn- cookie-header
  "The Cookie header a browser would send back after `response`."
  [response]
  (str/join "; " (map #(first (str/split % #";")) (set-cookies response))))

(defn- v3-params [resource-uuid ts & {:as extra}]
  (merge {"resource_id" resource-uuid
          "timestamp" (str ts)
          "resource_token" (sso/resource-token resource-uuid "test-salt" ts)
          "user_id" "user-1"
          "email" "user@example.com"
          "user_scoped_resource_token" (sso/user-scoped-token resource-uuid "test-salt" ts
                                                              "user-1" "user@example.com")
          "app" "my-app"
          "nav-data" nav-data}
         extra))

(defn- v1-params [id ts & {:as extra}]
  (merge {"id" id
          "timestamp" (str ts)
          "token" (sso/v1-token id "test-salt" ts)
          "nav-data" nav-data}
         extra))

(defn- sso-post [system params & {:keys [headers]}]
  ((:app system) (update (mock/request :post "/sso/login" params) :headers merge headers)))

(defn- sso-get [system id params]
  ((:app system) (mock/request :get (str "/heroku/resources/" id) params)))

(defn- dashboard [system cookie]
  ((:app system) (cond-> (mock/request :get "/") cookie (mock/header "Cookie" cookie))))

;; --- provisioning ----------------------------------------------------------------------

(deftest provision-creates-a-resource-with-credentials
  (with-system [system]
    (let [response (provision! system {:uuid "uuid-1" :name "acme-inc-primary" :plan "test"
                                       :region "amazon-web-services::us-east-1"
                                       :callback_url "https://api.heroku.com/addons/uuid-1"
                                       :oauth_grant {:code "c" :type "authorization_code"}
                                       :options {:foo "bar"} :something_new true})
          {:strs [id message]} (:json response)
          url (config-url response)
          [user token] (credentials url)]
      (is (= 201 (:status response)))
      (is (str/starts-with? (get-in response [:headers "Content-Type"]) "application/json"))
      (is (string? message))
      (testing "the config var is the resource API's URL with the credentials in it"
        (is (= (str "http://" id ":" token "@localhost:5000/api/resource") url))
        (is (= id user))
        (is (re-matches #"[0-9a-f]{64}" token) "256 random bits"))
      (testing "the database keeps the token's hash, never the token"
        (is (= (crypto/sha256-hex token) (:credential-hash (row id))))
        (is (not (str/includes? (t/all-rows *db*) token))))
      (testing "the options are kept"
        (is (= "{\"foo\":\"bar\"}" (:options (row id))))))))

(deftest the-base-url-follows-the-request-or-public-url
  (with-system [system]
    (is (str/starts-with? (config-url (provision! system {:uuid "u-1" :plan "test"}
                                                  :headers {"x-forwarded-proto" "https" "host" "addon.example.com"}))
                          "https://"))
    (is (str/ends-with? (config-url (provision! system {:uuid "u-2" :plan "test"}
                                                :headers {"x-forwarded-proto" "https" "host" "addon.example.com"}))
                        "@addon.example.com/api/resource")))
  (with-system [system (t/test-settings "PUBLIC_URL" "https://my-addon.herokuapp.com/")]
    (let [url (config-url (provision! system {:uuid "u-3" :plan "test"}))]
      (is (re-matches #"https://[^:]+:[0-9a-f]{64}@my-addon\.herokuapp\.com/api/resource" url)))))

(deftest provision-v1-id-is-not-derived-from-heroku-id
  (with-system [system]
    (let [response (provision! system {:heroku_id "app123@heroku.com" :plan "test" :region "us"
                                       :callback_url "http://localhost:7779/callback/999"
                                       :logplex_token "t" :options {}})]
      (is (= 201 (:status response)))
      (is (not (str/includes? (get-in response [:json "id"]) "app123"))))))

(deftest provision-is-idempotent-on-uuid
  (with-system [system]
    (let [first-response (provision! system {:uuid "uuid-1" :plan "test"})
          replay (provision! system {:uuid "uuid-1" :plan "test"})
          other (provision! system {:uuid "uuid-2" :plan "test"})]
      (is (= 201 (:status first-response)))
      (is (= 200 (:status replay)))
      (is (= (select-keys (:json first-response) ["id" "config"])
             (select-keys (:json replay) ["id" "config"]))
          "the same id and the same credentials")
      (is (= 201 (:status other)))
      (is (not= (get-in first-response [:json "id"]) (get-in other [:json "id"]))))
    (testing "requests without uuid always create"
      (is (not= (get-in (provision! system {:plan "test"}) [:json "id"])
                (get-in (provision! system {:plan "test"}) [:json "id"]))))))

(deftest concurrent-redelivery-makes-one-resource
  (with-system [system]
    (let [start (promise)
          copies (doall (for [_ (range 16)]
                          (future @start (provision! system {:uuid "uuid-16" :plan "test"}))))
          _ (deliver start true)
          responses (map deref copies)]
      (is (every? #(#{200 201} (:status %)) responses))
      (is (= 1 (count (filter #(= 201 (:status %)) responses))) "exactly one copy created it")
      (is (= 1 (count (set (map #(select-keys (:json %) ["id" "config"]) responses))))
          "every copy got the same id and config")
      (is (= 1 (count (db/query *db* ["SELECT id FROM resources WHERE uuid = 'uuid-16'"])))))))

(deftest unknown-plans-are-refused
  (with-system [system]
    (let [response (provision! system {:uuid "uuid-1" :plan "platinum"})]
      (is (= 422 (:status response)))
      (is (str/includes? (get-in response [:json "message"]) "platinum"))
      (is (empty? (db/query *db* ["SELECT id FROM resources"]))))))

(deftest provisioning-api-requires-basic-auth
  (with-system [system]
    (doseq [[label auth] [["missing" nil]
                          ["wrong password" (t/basic-auth "test-addon" "nope")]
                          ["wrong user" (t/basic-auth "someone" "test-password")]
                          ["empty password" (t/basic-auth "test-addon" "")]
                          ["not basic" "Bearer test-password"]
                          ["garbage" "Basic %%%"]]
            response [(call system :post "/heroku/resources" :body {:plan "test"} :headers {"authorization" auth})
                      (call system :put "/heroku/resources/x" :body {:plan "premium"} :headers {"authorization" auth})
                      (call system :delete "/heroku/resources/x" :headers {"authorization" auth})]]
      (testing label
        (is (= 401 (:status response)))
        (is (re-matches #"Basic realm=\"[^\"\\]+\"" (get-in response [:headers "WWW-Authenticate"])))
        (is (string? (get-in response [:json "message"])))))
    (is (empty? (db/query *db* ["SELECT id FROM resources"])))))

(deftest provision-rejects-bad-bodies
  (with-system [system]
    (testing "malformed JSON is 400"
      (doseq [body ["{\"plan\":" "not json" "" (apply str (repeat 30000 "["))]]
        (let [response (provision! system body)]
          (is (= 400 (:status response)))
          (is (string? (get-in response [:json "message"]))))))
    (testing "JSON that is not a request is 422"
      (doseq [body [{:uuid "u"} {:plan ""} {:plan 5} {:plan "test" :uuid ""} "[1,2]" "\"plan\"" "null"]]
        (let [response (provision! system body)]
          (is (= 422 (:status response)) (pr-str body))
          (is (string? (get-in response [:json "message"]))))))))

(deftest request-bodies-are-limited
  (with-system [system]
    (let [padding (apply str (repeat (* 70 1024) "x"))]
      (testing "a body over 64 KiB is 413, as JSON"
        (let [response (provision! system (str "{\"plan\":\"test\",\"pad\":\"" padding "\"}"))]
          (is (= 413 (:status response)))
          (is (string? (get-in response [:json "message"])))))
      (testing "a Content-Length over the limit is refused before reading"
        (let [response (provision! system "{\"plan\":\"test\"}" :headers {"content-length" "10000000"})]
          (is (= 413 (:status response)))))
      (testing "SSO forms too"
        (is (= 413 (:status (sso-post system {"id" "x" "pad" padding})))))
      (testing "a body just under the limit is read"
        (let [fits (apply str (repeat (- http/max-body-bytes 100) "x"))]
          (is (= 201 (:status (provision! system (str "{\"plan\":\"test\",\"pad\":\"" fits "\"}"))))))))
    (is (= 1 (count (db/query *db* ["SELECT id FROM resources"]))))))

(deftest the-callback-url-decides-where-oauth-credentials-may-go
  (with-system [system]
    (doseq [callback ["https://evil.example.com/addons/x"
                      "http://api.heroku.com/addons/x"
                      "https://api.heroku.com.evil.example.com/addons/x"
                      "https://localhost.evil.example.com/addons/x"
                      "http://10.0.0.1/addons/x"
                      "ftp://127.0.0.1/addons/x"
                      "not a url"]]
      (testing callback
        (let [response (provision! system {:uuid "uuid-1" :plan "test" :callback_url callback})]
          (is (= 422 (:status response)))
          (is (string? (get-in response [:json "message"]))))))
    (is (empty? (db/query *db* ["SELECT id FROM resources"])) "nothing was stored")
    (doseq [[n callback] (map-indexed vector ["https://api.heroku.com/addons/x"
                                              "http://127.0.0.1:4567/addons/x"
                                              "http://localhost:4567/addons/x"
                                              "http://[::1]:4567/addons/x"])]
      (testing callback
        (is (= 201 (:status (provision! system {:uuid (str "ok-" n) :plan "test" :callback_url callback})))))))
  (testing "on a dyno (DYNO set) a loopback callback_url is refused too"
    (with-system [system (t/test-settings "DYNO" "web.1")]
      (let [response (provision! system {:uuid "uuid-dyno" :plan "test" :callback_url "http://127.0.0.1:4567/addons/x"})]
        (is (= 422 (:status response)))
        (is (re-find #"loopback" (get-in response [:json "message"]))))
      (is (empty? (db/query *db* ["SELECT id FROM resources WHERE uuid = 'uuid-dyno'"])) "nothing was stored")
      (is (= 201 (:status (provision! system {:uuid "uuid-dyno-2" :plan "test"
                                              :callback_url "https://api.heroku.com/addons/x"}))))))
  (testing "HEROKU_IDENTITY_URL names the identity service: any callback_url goes"
    (with-system [system (t/test-settings "HEROKU_IDENTITY_URL" "https://id.example.com")]
      (is (= 201 (:status (provision! system {:uuid "uuid-x" :plan "test"
                                              :callback_url "https://api.example.com/addons/x"})))))))

;; --- the resource API ------------------------------------------------------------------

(deftest the-resource-api-serves-the-credentials-holder
  (with-system [system]
    (let [{:strs [id]} (:json (provision! system {:uuid "uuid-1" :plan "test"}))
          creds (credentials (config-url (provision! system {:uuid "uuid-1" :plan "test"})))
          first-call (resource-api system creds)
          second-call (resource-api system creds)]
      (is (= 200 (:status first-call)))
      (is (= {"id" id "plan" "test" "status" "provisioned"
              "limits" {"requests_per_month" 1000}}
             (dissoc (:json first-call) "usage")))
      (is (= 1 (get-in first-call [:json "usage" "requests"])))
      (is (= 2 (get-in second-call [:json "usage" "requests"])) "usage counts the calls")
      (testing "wrong credentials are 401 JSON"
        (doseq [bad [[id "0000"] [id (apply str (repeat 64 "0"))] ["other-id" (second creds)] [nil nil]]]
          (let [response (resource-api system bad)]
            (is (= 401 (:status response)) (pr-str bad))
            (is (string? (get-in response [:json "message"])))
            (is (some? (get-in response [:headers "WWW-Authenticate"]))))))
      (testing "a plan's monthly quota is enforced"
        (db/execute! *db* ["UPDATE resources SET usage_requests = 1000 WHERE id = ?" id])
        (let [response (resource-api system creds)]
          (is (= 429 (:status response)))
          (is (string? (get-in response [:json "message"]))))))))

;; --- plan change and deprovision -------------------------------------------------------

(deftest plan-change-changes-what-the-resource-may-do
  (with-system [system]
    (let [response (provision! system {:uuid "uuid-1" :plan "test"})
          id (get-in response [:json "id"])
          creds (credentials (config-url response))
          change #(heroku system :put (str "/heroku/resources/" id) :body %)]
      (let [changed (change {:plan "premium" :uuid "uuid-1"})]
        (is (= 200 (:status changed)))
        (is (string? (get-in changed [:json "message"]))))
      (is (= {"plan" "premium" "limits" {"requests_per_month" 1000000}}
             (select-keys (:json (resource-api system creds)) ["plan" "limits"])))
      (testing "the current plan again is a no-op 200"
        (is (= 200 (:status (change {:plan "premium"}))))
        (is (= "premium" (:plan (row id)))))
      (testing "an unknown plan is 422 naming it"
        (let [refused (change {:plan "platinum"})]
          (is (= 422 (:status refused)))
          (is (str/includes? (get-in refused [:json "message"]) "platinum"))
          (is (= "premium" (:plan (row id))))))
      (testing "bad bodies"
        (is (= 400 (:status (change "{oops"))))
        (is (= 422 (:status (change {:uuid "uuid-1"})))))
      (testing "unknown and deprovisioned resources"
        (is (= 404 (:status (heroku system :put "/heroku/resources/nope" :body {:plan "premium"}))))
        (heroku system :delete (str "/heroku/resources/" id))
        (is (= 410 (:status (change {:plan "premium"}))))))))

(deftest deprovision-revokes-and-remembers
  (with-system [system]
    (let [response (provision! system {:uuid "uuid-1" :plan "test"})
          id (get-in response [:json "id"])
          creds (credentials (config-url response))
          deleted (heroku system :delete (str "/heroku/resources/" id))]
      (is (= 204 (:status deleted)))
      (is (empty? (:body deleted)))
      (testing "the credentials are revoked"
        (is (= 401 (:status (resource-api system creds))))
        (is (nil? (:credential-hash (row id))))
        (is (nil? (:credential-secret (row id)))))
      (testing "the row stays, marked deprovisioned"
        (is (= "deprovisioned" (:status (row id)))))
      (testing "a second DELETE is 410, an unknown id 404, both JSON"
        (let [again (heroku system :delete (str "/heroku/resources/" id))
              unknown (heroku system :delete "/heroku/resources/nope")]
          (is (= 410 (:status again)))
          (is (string? (get-in again [:json "message"])))
          (is (= 404 (:status unknown)))
          (is (string? (get-in unknown [:json "message"])))))
      (testing "the uuid cannot be provisioned again: 410 JSON"
        (let [again (provision! system {:uuid "uuid-1" :plan "test"})]
          (is (= 410 (:status again)))
          (is (string? (get-in again [:json "message"])))))
      (testing "SSO no longer finds it"
        (is (= 404 (:status (sso-post system (v1-params id (now))))))))))

;; --- single sign-on --------------------------------------------------------------------

(defn- provisioned [system uuid]
  (get-in (provision! system {:uuid uuid :plan "test"}) [:json "id"]))

(defn- assert-logged-in [system response]
  (is (= 302 (:status response)))
  (is (= "/" (get-in response [:headers "Location"])))
  (is (some #(str/starts-with? % (str "heroku-nav-data=" nav-data ";")) (set-cookies response))
      "the nav-data cookie carries the value sent")
  (let [page (dashboard system (cookie-header response))]
    (is (= 200 (:status page)))
    (is (str/includes? (:body page) "<div id=\"heroku-header\">"))
    (is (str/includes? (:body page) "My Addon"))
    (is (str/includes? (:body page) "my-app"))
    page))

(deftest sso-with-v1-token
  (with-system [system]
    (let [id (provisioned system "uuid-1")
          ts (now)]
      (testing "form POST"
        (let [page (assert-logged-in system (sso-post system (v1-params id ts)))]
          (is (str/includes? (:body page) id))
          (is (str/includes? (:body page) "test"))))
      (testing "legacy GET"
        (assert-logged-in system (sso-get system id (dissoc (v1-params id ts) "id")))))))

(deftest sso-with-v3-tokens
  (with-system [system]
    (let [id (provisioned system "uuid-1")
          ts (now)]
      (testing "resource_token and user_scoped_resource_token"
        (let [page (assert-logged-in system (sso-post system (assoc (v3-params "uuid-1" ts) "id" id)))]
          (is (str/includes? (:body page) "user@example.com"))))
      (testing "resource_token only, found by resource_id"
        (assert-logged-in system (sso-post system (dissoc (v3-params "uuid-1" ts) "user_scoped_resource_token"))))
      (testing "legacy GET"
        (assert-logged-in system (sso-get system id (v3-params "uuid-1" ts)))))))

(deftest session-cookies-are-httponly-lax-and-secure-over-https
  (with-system [system]
    (let [id (provisioned system "uuid-1")
          session-cookie (fn [response]
                           (first (filter #(str/starts-with? % (str config/addon-id "-session=")) (set-cookies response))))
          nav-cookie (fn [response]
                       (first (filter #(str/starts-with? % "heroku-nav-data=") (set-cookies response))))]
      (testing "over plain http (development)"
        (let [response (sso-post system (v1-params id (now)))]
          (doseq [cookie [(session-cookie response) (nav-cookie response)]]
            (is (re-find #"(?i);\s*SameSite=Lax" cookie))
            (is (not (re-find #"(?i);\s*Secure" cookie))))
          (is (re-find #"(?i);\s*HttpOnly" (session-cookie response)))
          (is (not (re-find #"(?i);\s*HttpOnly" (nav-cookie response)))
              "Heroku's header script reads the nav-data cookie in the browser")))
      (testing "behind Heroku's router, which terminates https"
        (let [response (sso-post system (v1-params id (now)) :headers {"x-forwarded-proto" "https"})]
          (doseq [cookie [(session-cookie response) (nav-cookie response)]]
            (is (re-find #"(?i);\s*SameSite=Lax" cookie))
            (is (re-find #"(?i);\s*Secure" cookie)))
          (is (re-find #"(?i);\s*HttpOnly" (session-cookie response))))))))

(deftest sso-refusals
  (with-system [system]
    (let [id (provisioned system "uuid-1")
          ts (now)
          stale (- ts 360)
          future (+ ts 360)]
      (doseq [[label params status]
              [["wrong v1 token" (v1-params id ts "token" (sso/v1-token id "wrong-salt" ts)) 403]
               ["wrong resource_token" (v3-params "uuid-1" ts "resource_token" (sso/resource-token "uuid-1" "x" ts)) 403]
               ["wrong user-scoped token" (v3-params "uuid-1" ts "email" "other@example.com") 403]
               ["no token" (dissoc (v1-params id ts) "token") 403]
               ["stale timestamp" (v1-params id stale) 403]
               ["future timestamp" (v1-params id future) 403]
               ["timestamp not a number" (v1-params id ts "timestamp" "yesterday") 403]
               ["unknown id" (v1-params "nope" ts) 404]
               ["unknown resource_id" (v3-params "uuid-unknown" ts) 404]]]
        (testing label
          (let [response (sso-post system params)]
            (is (= status (:status response)))
            (is (nil? (get-in response [:headers "Location"])))
            (is (= 403 (:status (dashboard system (cookie-header response))))))))
      (testing "legacy GET with an unknown id"
        (is (= 404 (:status (sso-get system "nope" (dissoc (v1-params "nope" ts) "id"))))))
      (testing "repeated parameters do not crash"
        (is (= 403 (:status ((:app system) (-> (mock/request :post "/sso/login"
                                                             (str "id=" id "&token=a&token=b&timestamp=" ts))
                                               (mock/content-type "application/x-www-form-urlencoded"))))))))))

(deftest without-sso-salt-sso-is-off-and-the-rest-works
  (with-system [system (t/test-settings "SSO_SALT" nil)]
    (let [response (provision! system {:uuid "uuid-1" :plan "test"})
          id (get-in response [:json "id"])
          ts (now)]
      (is (= 201 (:status response)))
      (doseq [refused [(sso-post system (v1-params id ts))
                       (sso-get system id (dissoc (v1-params id ts) "id"))]]
        (is (= 404 (:status refused)))
        (is (str/includes? (get-in refused [:headers "Content-Type"]) "application/json"))
        (is (str/includes? (:body refused) "not enabled")))
      (is (= 200 (:status (resource-api system (credentials (config-url response))))))
      (is (= 204 (:status (heroku system :delete (str "/heroku/resources/" id))))))))

(deftest dashboard-needs-a-session
  (with-system [system]
    (let [response (dashboard system nil)]
      (is (= 403 (:status response)))
      (is (str/includes? (:body response) "log in through Heroku")))
    (testing "a forged session cookie"
      (is (= 403 (:status (dashboard system (str config/addon-id "-session=forged%2B%2B--abc"))))))
    (testing "no header content from garbage nav-data, but no failure either"
      (let [id (provisioned system "uuid-1")
            response (sso-post system (v1-params id (now) "nav-data" "!!not-base64!!"))
            page (dashboard system (cookie-header response))]
        (is (= 302 (:status response)))
        (is (= 200 (:status page)))
        (is (str/includes? (:body page) "<div id=\"heroku-header\">"))
        (is (not (str/includes? (:body page) "my-app")))))))

(deftest dashboard-escapes-what-it-shows
  (with-system [system]
    (let [id (provisioned system "uuid-1")
          evil (base64url "{\"addon\":\"<b>x</b>\",\"appname\":\"<script>alert(1)</script>\"}")
          response (sso-post system (v1-params id (now) "nav-data" evil "email" "\"><i>@example.com"))
          body (:body (dashboard system (cookie-header response)))]
      (is (str/includes? body "&lt;script&gt;alert(1)&lt;/script&gt;"))
      (is (str/includes? body "&lt;b&gt;x&lt;/b&gt;"))
      (is (not (str/includes? body "<script>")))
      (is (not (str/includes? body "<i>"))))))

(deftest unknown-routes-answer-json-404
  (with-system [system]
    (let [response (call system :get "/nowhere")]
      (is (= 404 (:status response)))
      (is (string? (get-in response [:json "message"]))))))
