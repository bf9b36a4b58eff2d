(ns addon.web-test
  (:require [addon.config :as config]
            [addon.sso :as sso]
            [addon.store :as store]
            [addon.web :as web]
            [cheshire.core :as json]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [ring.mock.request :as mock])
  (:import (java.nio.charset StandardCharsets)
           (java.util Base64)))

(def settings (web/settings {"PORT" "5000"
                             "HEROKU_USERNAME" "test-addon"
                             "HEROKU_PASSWORD" "test-password"
                             "SSO_SALT" "test-salt"}))

(def app (web/app settings))

;; Each test starts with an empty store; the service's log lines are kept out of the report.
(use-fixtures :each (fn [test]
                      (store/clear!)
                      (binding [*out* (java.io.StringWriter.)]
                        (test))))

;; --- helpers ---------------------------------------------------------------------------

(defn- basic-auth [user password]
  (str "Basic " (.encodeToString (Base64/getEncoder)
                                 (.getBytes (str user ":" password) StandardCharsets/UTF_8))))

(defn- api
  "Calls the provisioning API as Heroku does: JSON body, Basic auth (unless :auth nil)."
  [method path body & {:keys [auth] :or {auth (basic-auth "test-addon" "test-password")}}]
  (cond-> (mock/request method path)
    auth (mock/header "Authorization" auth)
    body (mock/content-type "application/json")
    body (mock/body (if (string? body) body (json/generate-string body)))
    true app))

(defn- json-body [response]
  (json/parse-string (:body response)))

(defn- provision! [body]
  (api :post "/heroku/resources" body))

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

(defn- sso-post [params]
  (app (mock/request :post "/sso/login" params)))

(defn- sso-get [id params]
  (app (mock/request :get (str "/heroku/resources/" id) params)))

(defn- dashboard [cookie]
  (app (cond-> (mock/request :get "/") cookie (mock/header "Cookie" cookie))))

;; --- provisioning ----------------------------------------------------------------------

(deftest provision-creates-a-resource
  (let [response (provision! {:uuid "uuid-1" :name "acme-inc-primary" :plan "test"
                              :region "amazon-web-services::us-east-1"
                              :callback_url "https://api.heroku.com/addons/uuid-1"
                              :oauth_grant {:code "c" :type "authorization_code"}
                              :options {:foo "bar"} :something_new true})
        {:strs [id config message]} (json-body response)]
    (is (= 201 (:status response)))
    (is (str/starts-with? (get-in response [:headers "Content-Type"]) "application/json"))
    (is (string? id))
    (is (= {config/config-var (str "http://localhost:5000/resources/" id)} config))
    (is (string? message))))

(deftest provision-reads-json-whatever-the-content-type
  (let [response (app (-> (mock/request :post "/heroku/resources")
                          (mock/header "Authorization" (basic-auth "test-addon" "test-password"))
                          (mock/body "{\"plan\":\"test\"}")
                          (mock/content-type "application/x-www-form-urlencoded")))]
    (is (= 201 (:status response)))))

(deftest provision-v1-id-is-not-derived-from-heroku-id
  (let [response (provision! {:heroku_id "app123@heroku.com" :plan "test" :region "us"
                              :callback_url "http://localhost:7779/callback/999"
                              :logplex_token "t" :options {}})
        id (get (json-body response) "id")]
    (is (= 201 (:status response)))
    (is (not (str/includes? id "app123")))))

(deftest provision-is-idempotent-on-uuid
  (let [first-response (provision! {:uuid "uuid-1" :plan "test"})
        replay (provision! {:uuid "uuid-1" :plan "test"})
        other (provision! {:uuid "uuid-2" :plan "test"})]
    (is (= 201 (:status first-response)))
    (is (= 200 (:status replay)))
    (is (= (select-keys (json-body first-response) ["id" "config"])
           (select-keys (json-body replay) ["id" "config"])))
    (is (= 201 (:status other)))
    (is (not= (get (json-body first-response) "id") (get (json-body other) "id"))))
  (testing "requests without uuid always create"
    (is (not= (get (json-body (provision! {:plan "test"})) "id")
              (get (json-body (provision! {:plan "test"})) "id")))))

(deftest provisioning-api-requires-basic-auth
  (doseq [[label auth] [["missing" nil]
                        ["wrong password" (basic-auth "test-addon" "nope")]
                        ["wrong user" (basic-auth "someone" "test-password")]
                        ["empty password" (basic-auth "test-addon" "")]
                        ["not basic" "Bearer test-password"]
                        ["garbage" "Basic %%%"]]
          response [(api :post "/heroku/resources" {:plan "test"} :auth auth)
                    (api :put "/heroku/resources/x" {:plan "foo"} :auth auth)
                    (api :delete "/heroku/resources/x" nil :auth auth)]]
    (testing label
      (is (= 401 (:status response)))
      (is (re-matches #"Basic realm=\"[^\"\\]+\"" (get-in response [:headers "WWW-Authenticate"])))
      (is (string? (get (json-body response) "message"))))))

(deftest provision-rejects-bad-bodies
  (testing "malformed JSON is 400"
    (doseq [body ["{\"plan\":" "not json" "" (str (apply str (repeat 100000 "[")))]]
      (let [response (provision! body)]
        (is (= 400 (:status response)))
        (is (string? (get (json-body response) "message"))))))
  (testing "JSON that is not a request is 422"
    (doseq [body [{:uuid "u"} {:plan ""} {:plan 5} "[1,2]" "\"plan\"" "null"]]
      (let [response (provision! body)]
        (is (= 422 (:status response)) (pr-str body))
        (is (string? (get (json-body response) "message")))))))

;; --- plan change and deprovision -------------------------------------------------------

(deftest plan-change
  (let [{:strs [id config]} (json-body (provision! {:uuid "uuid-1" :plan "test"}))
        response (api :put (str "/heroku/resources/" id) {:plan "foo" :uuid "uuid-1"})]
    (is (= 200 (:status response)))
    (is (= config (get (json-body response) "config")))
    (is (string? (get (json-body response) "message")))
    (is (= "foo" (:plan (store/find-by-id id))))
    (testing "bad bodies"
      (is (= 400 (:status (api :put (str "/heroku/resources/" id) "{oops"))))
      (is (= 422 (:status (api :put (str "/heroku/resources/" id) {:uuid "uuid-1"})))))))

(deftest unknown-ids-are-404
  (is (= 404 (:status (api :put "/heroku/resources/nope" {:plan "foo"}))))
  (is (= 404 (:status (api :delete "/heroku/resources/nope" nil))))
  (is (string? (get (json-body (api :delete "/heroku/resources/nope" nil)) "message"))))

(deftest deprovision
  (let [id (get (json-body (provision! {:uuid "uuid-1" :plan "test"})) "id")
        response (api :delete (str "/heroku/resources/" id) nil)]
    (is (= 204 (:status response)))
    (is (empty? (:body response)))
    (is (= 404 (:status (api :delete (str "/heroku/resources/" id) nil))))
    (testing "the uuid can be provisioned again, as a new resource"
      (let [again (provision! {:uuid "uuid-1" :plan "test"})]
        (is (= 201 (:status again)))
        (is (not= id (get (json-body again) "id")))))))

;; --- single sign-on --------------------------------------------------------------------

(defn- provisioned [uuid]
  (get (json-body (provision! {:uuid uuid :plan "test"})) "id"))

(defn- assert-logged-in [response]
  (is (= 302 (:status response)))
  (is (= "/" (get-in response [:headers "Location"])))
  (is (some #(str/starts-with? % (str "heroku-nav-data=" nav-data ";")) (set-cookies response))
      "the nav-data cookie carries the value sent")
  (let [page (dashboard (cookie-header response))]
    (is (= 200 (:status page)))
    (is (str/includes? (:body page) "id=\"heroku-header\""))
    (is (str/includes? (:body page) "My Addon"))
    (is (str/includes? (:body page) "my-app"))
    page))

(deftest sso-with-v1-token
  (let [id (provisioned "uuid-1")
        ts (now)]
    (testing "form POST"
      (let [page (assert-logged-in (sso-post (v1-params id ts)))]
        (is (str/includes? (:body page) id))
        (is (str/includes? (:body page) "test"))))
    (testing "legacy GET"
      (assert-logged-in (sso-get id (dissoc (v1-params id ts) "id"))))))

(deftest sso-with-v3-tokens
  (let [id (provisioned "uuid-1")
        ts (now)]
    (testing "resource_token and user_scoped_resource_token"
      (let [page (assert-logged-in (sso-post (assoc (v3-params "uuid-1" ts) "id" id)))]
        (is (str/includes? (:body page) "user@example.com"))))
    (testing "resource_token only, found by resource_id"
      (assert-logged-in (sso-post (dissoc (v3-params "uuid-1" ts) "user_scoped_resource_token"))))
    (testing "legacy GET"
      (assert-logged-in (sso-get id (v3-params "uuid-1" ts))))))

(deftest sso-refusals
  (let [id (provisioned "uuid-1")
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
        (let [response (sso-post params)]
          (is (= status (:status response)))
          (is (nil? (get-in response [:headers "Location"])))
          (is (= 403 (:status (dashboard (cookie-header response))))))))
    (testing "legacy GET with an unknown id"
      (is (= 404 (:status (sso-get "nope" (dissoc (v1-params "nope" ts) "id"))))))
    (testing "repeated parameters do not crash"
      (is (= 403 (:status (app (-> (mock/request :post "/sso/login"
                                                  (str "id=" id "&token=a&token=b&timestamp=" ts))
                                    (mock/content-type "application/x-www-form-urlencoded")))))))))

(deftest dashboard-needs-a-session
  (let [response (dashboard nil)]
    (is (= 403 (:status response)))
    (is (str/includes? (:body response) "log in through Heroku")))
  (testing "a forged session cookie"
    (is (= 403 (:status (dashboard (str config/addon-id "-session=forged%2B%2B--abc"))))))
  (testing "no header content from garbage nav-data, but no failure either"
    (let [id (provisioned "uuid-1")
          response (sso-post (v1-params id (now) "nav-data" "!!not-base64!!"))
          page (dashboard (cookie-header response))]
      (is (= 302 (:status response)))
      (is (= 200 (:status page)))
      (is (str/includes? (:body page) "id=\"heroku-header\""))
      (is (not (str/includes? (:body page) "my-app"))))))

(deftest dashboard-escapes-what-it-shows
  (let [id (provisioned "uuid-1")
        evil (base64url "{\"addon\":\"<b>x</b>\",\"appname\":\"<script>alert(1)</script>\"}")
        response (sso-post (v1-params id (now) "nav-data" evil "email" "\"><i>@example.com"))
        body (:body (dashboard (cookie-header response)))]
    (is (str/includes? body "&lt;script&gt;alert(1)&lt;/script&gt;"))
    (is (str/includes? body "&lt;b&gt;x&lt;/b&gt;"))
    (is (not (str/includes? body "<script>")))
    (is (not (str/includes? body "<i>")))))

(deftest unknown-routes-answer-json-404
  (let [response (app (mock/request :get "/nowhere"))]
    (is (= 404 (:status response)))
    (is (string? (get (json-body response) "message")))))
