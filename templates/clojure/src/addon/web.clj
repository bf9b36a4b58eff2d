(ns addon.web
  "The add-on's HTTP service: Heroku's provisioning API (Basic auth), single sign-on and
  the dashboard the user lands on. Start it with `clojure -M -m addon.web` (see bin/web)."
  (:require [addon.config :as config]
            [addon.heroku :as heroku]
            [addon.sso :as sso]
            [addon.store :as store]
            [addon.views :as views]
            [cheshire.core :as json]
            [clojure.string :as str]
            [compojure.core :refer [DELETE GET POST PUT routes wrap-routes]]
            [ring.middleware.cookies :refer [wrap-cookies]]
            [ring.middleware.params :refer [wrap-params]]
            [ring.middleware.session :refer [wrap-session]]
            [ring.middleware.session.cookie :refer [cookie-store]]
            [ring.util.codec :as codec])
  (:import (java.nio.charset StandardCharsets)
           (java.security MessageDigest)
           (java.util Arrays Base64)))

;; ---------------------------------------------------------------------------------------
;; Settings

(defn- non-blank [s]
  (when (and (string? s) (not (str/blank? s))) s))

(defn settings
  "The service's settings, from the environment (.env locally, config vars on Heroku)."
  [env]
  (let [port (or (some-> (get env "PORT") str/trim parse-long) config/default-port)]
    {:port port
     :username (or (non-blank (get env "HEROKU_USERNAME")) config/addon-id)
     :password (non-blank (get env "HEROKU_PASSWORD"))
     :sso-salt (non-blank (get env "SSO_SALT"))
     :session-secret (non-blank (get env "SESSION_SECRET"))
     ;; Asynchronous provisioning (plan "async"): the OAuth client secret from Heroku's
     ;; Partner Portal, and where Heroku's identity service is (see addon.heroku/identity-url).
     :client-secret (non-blank (get env "HEROKU_CLIENT_SECRET"))
     :identity-url (non-blank (get env "HEROKU_IDENTITY_URL"))
     :retry-delays-ms heroku/default-retry-delays-ms
     ;; The URL customers' apps receive in the config var; set it in production.
     :public-url (str/replace (or (non-blank (get env "PUBLIC_URL"))
                                  (str "http://localhost:" port))
                              #"/+$" "")}))

(defn- log [& parts]
  ;; Never pass credentials, the salt or tokens here: logs end up in log drains.
  (println (str/join " " parts)))

;; ---------------------------------------------------------------------------------------
;; Responses

(defn- json-response [status body]
  {:status status
   :headers {"Content-Type" "application/json; charset=utf-8"}
   :body (json/generate-string body)})

(defn- html-response [status page]
  {:status status
   :headers {"Content-Type" "text/html; charset=utf-8"}
   :body page})

(defn- not-found []
  (json-response 404 {:message "No such resource."}))

(defn- addon-config
  "The config vars Heroku sets on the customer's app for `resource`."
  [{:keys [public-url]} resource]
  {config/config-var (str public-url "/resources/" (codec/url-encode (:id resource)))})

;; ---------------------------------------------------------------------------------------
;; Heroku's provisioning API

(defn- credentials
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
  (let [[user pass] (credentials request)
        ;; Both comparisons always run, so timing does not tell which one failed.
        user-ok (sso/secure= user username)
        pass-ok (sso/secure= pass password)]
    (boolean (and password user-ok pass-ok))))

(defn- wrap-heroku-auth [handler settings]
  (let [realm (str/replace config/addon-name #"[\"\\\r\n]" "")]
    (fn [request]
      (if (authorized? settings request)
        (handler request)
        (-> (json-response 401 {:message "Authentication required: use the add-on id and api.password from addon-manifest.json."})
            (assoc-in [:headers "WWW-Authenticate"] (str "Basic realm=\"" realm "\"")))))))

(defn- read-json
  "The parsed JSON request body, or ::malformed. parse-string-strict, because parse-string
  returns a lazy seq for a top-level array and would fail later, outside this try."
  [request]
  (try
    (let [text (some-> (:body request) (slurp :encoding "UTF-8"))]
      (if (str/blank? text) ::malformed (json/parse-string-strict text)))
    ;; Throwable: a deeply nested document can overflow the stack while parsing.
    (catch Throwable _ ::malformed)))

(defn- with-plan
  "Calls (f body) when the JSON body is an object naming a plan; otherwise answers 400
  (not JSON) or 422 (JSON, but not a request this service can serve)."
  [request f]
  (let [body (read-json request)]
    (cond
      (= ::malformed body) (json-response 400 {:message "The request body is not valid JSON."})
      (not (map? body)) (json-response 422 {:message "The request body must be a JSON object."})
      (not (non-blank (get body "plan"))) (json-response 422 {:message "The request must name a plan."})
      :else (f body))))

;; --- Asynchronous provisioning (v3) ----------------------------------------------------
;; A provision for this plan is answered 202 without a config; a background job (a future)
;; then exchanges the OAuth grant, sets the config through Heroku's Platform API and marks
;; the add-on provisioned. Replace the plan test with whatever makes your provisioning slow.

(def async-plan "async")

(defn- heroku-client
  "What addon.heroku needs to call Heroku back about a resource with `callback-url`."
  [settings callback-url]
  {:identity-url (heroku/identity-url (:identity-url settings) callback-url)
   :client-secret (:client-secret settings)
   :retry-delays-ms (:retry-delays-ms settings)})

(defn- failure-reason
  "A loggable reason: ex-info messages come from addon.heroku and hold no secrets; for
  anything else only the exception's class."
  [^Throwable e]
  (if (instance? clojure.lang.ExceptionInfo e) (ex-message e) (.getName (class e))))

(defn- provision-in-background
  "Steps 1-3 of PROTOCOL.md section 5, in a future (which returns at once). Stops quietly
  if the resource is deprovisioned meanwhile."
  [settings {:keys [id callback-url]} code]
  (future
    (try
      (let [client (heroku-client settings callback-url)
            tokens (heroku/exchange-grant! client code)]
        (when-let [resource (store/update! id tokens)]
          (heroku/set-config! client callback-url (:access-token tokens) (addon-config settings resource))
          (when (store/find-by-id id)
            (heroku/action! client callback-url (:access-token tokens) "provision")
            (when (store/update! id {:status :provisioned})
              (log "async provision done" id)))))
      (catch Throwable e
        (store/update! id {:status :failed})
        (log "async provision failed" id "-" (failure-reason e))))))

(defn- deprovision-in-background [settings {:keys [id callback-url access-token]}]
  (future
    (try
      (heroku/action! (heroku-client settings callback-url) callback-url access-token "deprovision")
      (log "async deprovision done" id)
      (catch Throwable e
        (log "async deprovision failed" id "-" (failure-reason e))))))

(defn- async-refusal
  "Why an async provision cannot be served, as a response, or nil."
  [settings body]
  (cond
    (not (and (non-blank (get body "uuid"))
              (heroku/callback-url? (get body "callback_url"))
              (non-blank (get-in body ["oauth_grant" "code"]))))
    (json-response 422 {:message (str "The " async-plan " plan needs a v3 request (uuid, callback_url and oauth_grant).")})

    (not (:client-secret settings))
    (do (log "async provision refused: HEROKU_CLIENT_SECRET is not set")
        (json-response 503 {:message (str config/addon-name " cannot provision asynchronously yet; please try again later.")}))))

(defn- provision
  "POST /heroku/resources. v3 sends uuid/name/callback_url/oauth_grant, v1 sends
  heroku_id/logplex_token; unknown fields are ignored. Any plan name is accepted: check it
  against your plans here (and answer 422) once you have some."
  [settings request]
  (with-plan request
    (fn [body]
      (let [async? (= async-plan (get body "plan"))]
        (or (when async? (async-refusal settings body))
            ;; store/provision! is an atomic update: of concurrent deliveries of one uuid,
            ;; exactly one gets created? true, so the background job starts once.
            (let [{:keys [resource created?]}
                  (store/provision! (cond-> {:uuid (non-blank (get body "uuid"))
                                             :plan (get body "plan")
                                             :region (get body "region")
                                             :heroku-id (get body "heroku_id")
                                             :options (get body "options")}
                                      async? (assoc :async? true
                                                    :status :provisioning
                                                    :callback-url (get body "callback_url"))))]
              (log (if created? "provisioned" "provision replayed") (:id resource) "plan" (:plan resource))
              (when (and created? (:async? resource))
                (provision-in-background settings resource (get-in body ["oauth_grant" "code"])))
              (if (and (:async? resource) (not= :provisioned (:status resource)))
                (json-response 202 {:id (:id resource)
                                    :message (str config/addon-name " is being provisioned; it will be ready in a moment.")})
                (json-response (if created? 201 200)
                               {:id (:id resource)
                                :config (addon-config settings resource)
                                :message (if created?
                                           (str config/addon-name " is ready.")
                                           (str config/addon-name " was already provisioned for this resource."))}))))))))

(defn- change-plan [settings id request]
  (with-plan request
    (fn [body]
      (if-let [resource (store/change-plan! id (get body "plan"))]
        (do (log "plan changed" id "plan" (:plan resource))
            (json-response 200 {:config (addon-config settings resource)
                                :message (str "Plan changed to " (:plan resource) ".")}))
        (not-found)))))

(defn- deprovision
  "DELETE /heroku/resources/:id. A resource provisioned asynchronously is deprovisioned
  asynchronously too (202, then actions/deprovision with its token), unless it never got a
  token (its provision failed or is still running): then there is nobody to call back."
  [settings id]
  (if-let [resource (store/deprovision! id)]
    (if (and (:async? resource) (:access-token resource))
      (do (log "deprovisioned" id "(async)")
          (deprovision-in-background settings resource)
          (json-response 202 {:message (str config/addon-name " is being deprovisioned.")}))
      (do (log "deprovisioned" id)
          {:status 204 :headers {} :body nil}))
    (not-found)))

;; ---------------------------------------------------------------------------------------
;; Single sign-on and the dashboard

(defn- sso-login
  "GET /heroku/resources/:id (legacy) and POST /sso/login: checks Heroku's tokens, starts
  a session and sends the user to the dashboard."
  [settings params]
  ;; A repeated parameter arrives as a vector: only single strings count.
  (let [params (into {} (filter (fn [[k v]] (and (string? k) (string? v)))) params)
        uuid (non-blank (get params "resource_id"))
        resource (if uuid
                   (store/find-by-uuid uuid)
                   (some-> (non-blank (get params "id")) store/find-by-id))
        refusal (when resource
                  (sso/refusal params resource (:sso-salt settings)
                               (quot (System/currentTimeMillis) 1000)))
        nav-data (get params "nav-data")]
    (cond
      (nil? resource) (html-response 404 (views/message-page "Not found" "No such resource."))
      refusal (html-response 403 (views/message-page "Forbidden" refusal))
      :else
      (do (log "sso login" (:id resource))
          {:status 302
           :headers {"Location" "/"}
           :body ""
           ;; A fresh session (never extend one an attacker may have planted).
           :session {:resource-id (:id resource)
                     :nav-data nav-data
                     :email (get params "email")}
           ;; Heroku's navigation reads this cookie; it carries the value exactly as sent.
           :cookies (when nav-data
                      {"heroku-nav-data" {:value nav-data :path "/"}})}))))

(defn- dashboard [request]
  (let [{:keys [resource-id nav-data email]} (:session request)]
    (if resource-id
      (html-response 200 (views/dashboard {:resource (store/find-by-id resource-id)
                                           :nav (sso/decode-nav-data nav-data)
                                           :email email}))
      (html-response 403 (views/message-page "Forbidden" "Please log in through Heroku.")))))

;; ---------------------------------------------------------------------------------------
;; The Ring handler

(def ^:private cookie-octet
  ;; RFC 6265 cookie-value characters: anything else would break the Set-Cookie header.
  #"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*")

(defn- encode-cookie
  "Ring URL-encodes cookie values by default, which would turn nav-data's `=` padding into
  %3D. Values that are valid in a cookie go out untouched; others are URL-encoded."
  [name-and-value]
  (let [[cookie-name value] (first name-and-value)
        value (str value)]
    (str cookie-name "=" (if (re-matches cookie-octet value) value (codec/url-encode value)))))

(defn- session-key
  "cookie-store wants exactly 16 bytes: the start of a SHA-256 of SESSION_SECRET, or of
  the SSO salt (with a label, so the key is not a hash used anywhere else)."
  ^bytes [{:keys [session-secret sso-salt]}]
  (let [secret (or session-secret (str "session-key:" sso-salt))]
    (Arrays/copyOf (.digest (MessageDigest/getInstance "SHA-256")
                            (.getBytes ^String secret StandardCharsets/UTF_8))
                   16)))

(defn- wrap-errors
  "Anything unexpected becomes a 500 with a JSON message instead of a stack trace."
  [handler]
  (fn [request]
    (try
      (handler request)
      (catch Exception e
        (log "error" (:request-method request) (:uri request) (.getName (class e)))
        (json-response 500 {:message "Internal error."})))))

(defn app
  "The Ring handler for `settings` (see `settings`)."
  [settings]
  (-> (routes
       (-> (routes
            (POST "/heroku/resources" request (provision settings request))
            (PUT "/heroku/resources/:id" [id :as request] (change-plan settings id request))
            (DELETE "/heroku/resources/:id" [id] (deprovision settings id)))
           (wrap-routes #(wrap-heroku-auth % settings)))
       ;; Only SSO reads query and form parameters: wrapping everything in wrap-params
       ;; would swallow an API body sent with a form content type.
       (-> (routes
            (GET "/heroku/resources/:id" [id :as request]
              (sso-login settings (assoc (:params request) "id" id)))
            (POST "/sso/login" request (sso-login settings (:params request))))
           (wrap-routes wrap-params))
       (GET "/" request (dashboard request))
       (fn [_] (json-response 404 {:message "Not found."})))
      ;; Inside wrap-session: encodes the handler's cookies; the session's own cookie
      ;; keeps Ring's default encoding.
      (wrap-cookies {:encoder encode-cookie})
      (wrap-session {:store (cookie-store {:key (session-key settings)})
                     :cookie-name (str config/addon-id "-session")
                     :cookie-attrs {:http-only true
                                    :same-site :lax
                                    :secure (str/starts-with? (:public-url settings) "https:")}})
      wrap-errors))

(defn -main [& _]
  (let [settings (settings (System/getenv))
        missing (remove #(non-blank (System/getenv %)) ["HEROKU_PASSWORD" "SSO_SALT"])]
    (when (seq missing)
      (binding [*out* *err*]
        (println (str "Set " (str/join " and " missing)
                      " (kensa create wrote them to .env; on Heroku, use config vars).")))
      (System/exit 1))
    ;; Jetty is loaded here rather than in the ns form, so tests start without it.
    (let [run-jetty (requiring-resolve 'ring.adapter.jetty/run-jetty)]
      (when-not (:client-secret settings)
        (log "HEROKU_CLIENT_SECRET is not set: provisions on the" async-plan "plan will be refused (503)"))
      (log config/addon-name "listening on port" (:port settings))
      (run-jetty (app settings) {:port (:port settings) :join? true}))))
