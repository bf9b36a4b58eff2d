(ns addon.web
  "The add-on's HTTP service: Heroku's provisioning API (addon.provisioning), the resource
  API behind the config var (addon.resource-api), single sign-on and the dashboard the
  user lands on. `-main` opens the database, migrates it in development, starts the
  background worker and Jetty (bin/web)."
  (:require [addon.config :as config]
            [addon.db :as db]
            [addon.http :as http]
            [addon.log :as log]
            [addon.migrations :as migrations]
            [addon.provisioning :as provisioning]
            [addon.resource-api :as resource-api]
            [addon.resources :as resources]
            [addon.settings :as settings :refer [non-blank]]
            [addon.sso :as sso]
            [addon.views :as views]
            [addon.worker :as worker]
            [compojure.core :refer [DELETE GET POST PUT routes wrap-routes]]
            [ring.middleware.cookies :refer [wrap-cookies]]
            [ring.middleware.params :refer [wrap-params]]
            [ring.middleware.session :refer [wrap-session]]
            [ring.middleware.session.cookie :refer [cookie-store]]
            [ring.util.codec :as codec])
  (:import (java.nio.charset StandardCharsets)
           (java.security MessageDigest)
           (java.util Arrays)))

;; ---------------------------------------------------------------------------------------
;; Single sign-on and the dashboard

(defn- sso-login
  "GET /heroku/resources/:id (legacy) and POST /sso/login: checks Heroku's tokens, starts
  a session and sends the user to the dashboard."
  [{:keys [db settings]} params]
  ;; A repeated parameter arrives as a vector: only single strings count.
  (let [params (into {} (filter (fn [[k v]] (and (string? k) (string? v)))) params)
        uuid (non-blank (get params "resource_id"))
        found (if uuid
                (resources/find-by-uuid db uuid)
                (some->> (non-blank (get params "id")) (resources/find-by-id db)))
        resource (when (and found (not= "deprovisioned" (:status found))) found)
        refusal (when resource
                  (sso/refusal params resource (:sso-salt settings)
                               (quot (System/currentTimeMillis) 1000)))
        nav-data (get params "nav-data")]
    (cond
      (nil? resource) (http/html-response 404 (views/message-page "Not found" "No such resource."))
      refusal (http/html-response 403 (views/message-page "Forbidden" refusal))
      :else
      (do (log/info "sso login" (:id resource))
          {:status 302
           :headers {"Location" "/"}
           :body ""
           ;; A fresh session (never extend one an attacker may have planted).
           :session {:resource-id (:id resource)
                     :nav-data nav-data
                     :email (get params "email")}
           ;; Heroku's header script (boomerang) reads this cookie in the browser to draw its
           ;; navigation, so it is not HttpOnly; it carries nothing secret, exactly as sent.
           :cookies (when nav-data
                      {"heroku-nav-data" {:value nav-data :path "/" :same-site :lax}})}))))

(defn- sso-off []
  (http/message 404 "Single sign-on is not enabled for this add-on (SSO_SALT is not set)."))

(defn- dashboard [{:keys [db]} request]
  (let [{:keys [resource-id nav-data email]} (:session request)]
    (if resource-id
      (http/html-response 200 (views/dashboard {:resource (resources/find-by-id db resource-id)
                                                :nav (sso/decode-nav-data nav-data)
                                                :email email}))
      (http/html-response 403 (views/message-page "Forbidden" "Please log in through Heroku.")))))

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
  ENCRYPTION_KEY (with a label, so the key is not a hash used anywhere else)."
  ^bytes [{:keys [session-secret encryption-key]}]
  (let [digest (MessageDigest/getInstance "SHA-256")]
    (if session-secret
      (.update digest (.getBytes ^String session-secret StandardCharsets/UTF_8))
      (do (.update digest (.getBytes "addon session key:" StandardCharsets/UTF_8))
          (.update digest ^bytes encryption-key)))
    (Arrays/copyOf (.digest digest) 16)))

(defn app
  "The Ring handler of `system`: {:db :settings :worker}."
  [{:keys [settings] :as system}]
  (let [sso? (some? (:sso-salt settings))]
    (-> (routes
         (-> (routes
              (POST "/heroku/resources" request (provisioning/provision system request))
              (PUT "/heroku/resources/:id" [id :as request] (provisioning/change-plan system id request))
              (DELETE "/heroku/resources/:id" [id] (provisioning/deprovision system id)))
             (wrap-routes provisioning/wrap-heroku-auth settings))
         (GET "/api/resource" request (resource-api/show system request))
         ;; Only SSO reads query and form parameters: wrapping everything in wrap-params
         ;; would swallow an API body sent with a form content type.
         (-> (routes
              (GET "/heroku/resources/:id" [id :as request]
                (if sso? (sso-login system (assoc (:params request) "id" id)) (sso-off)))
              (POST "/sso/login" request
                (if sso? (sso-login system (:params request)) (sso-off))))
             (wrap-routes wrap-params))
         (GET "/" request (dashboard system request))
         (fn [_] (http/message 404 "Not found.")))
        http/wrap-secure-cookies
        ;; Inside wrap-session: encodes the handler's cookies; the session's own cookie
        ;; keeps Ring's default encoding.
        (wrap-cookies {:encoder encode-cookie})
        (wrap-session {:store (cookie-store {:key (session-key settings)})
                       :cookie-name (str config/addon-id "-session")
                       :cookie-attrs {:http-only true :same-site :lax}})
        http/wrap-body-limit
        http/wrap-errors)))

;; ---------------------------------------------------------------------------------------
;; Start

(defn- refuse-to-start [messages]
  (binding [*out* *err*]
    (run! println messages))
  (System/exit 1))

(defn -main [& _]
  (let [env (System/getenv)
        settings (settings/from-env env)
        problems (settings/problems settings env)]
    (when (seq problems)
      (refuse-to-start problems))
    (let [database (try
                     (db/connect {:database-url (:database-url settings) :pool-size (:db-pool-size settings)})
                     (catch Exception e
                       (refuse-to-start [(str "Cannot open the database: " (ex-message e))])))
          _ (some-> (migrations/prepare! database (:on-heroku? settings)) vector refuse-to-start)
          system {:db database :settings settings}
          system (assoc system :worker (worker/start! system))
          ;; Jetty is loaded here rather than in the ns form, so tests start without it.
          run-jetty (requiring-resolve 'ring.adapter.jetty/run-jetty)
          server (run-jetty (app system) {:port (:port settings) :join? false})]
      ;; Only once the port is ours: a second copy that fails to bind never runs a job.
      (worker/resume! (:worker system))
      (.addShutdownHook (Runtime/getRuntime)
                        (Thread. (fn []
                                   ;; Heroku sends SIGTERM and waits 30 s: stop taking
                                   ;; requests, leave unfinished jobs for the next start.
                                   (.stop server)
                                   (worker/stop! (:worker system))
                                   (db/close! database))))
      (when-not (:sso-salt settings)
        (log/info "SSO_SALT is not set: single sign-on is off"))
      (when-not (:client-secret settings)
        (log/info "HEROKU_CLIENT_SECRET is not set: asynchronous provisions will be refused (503)"))
      (log/info config/addon-name "listening on port" (:port settings)
                (str "(" (name (:dialect database)) " database)"))
      (.join server))))
