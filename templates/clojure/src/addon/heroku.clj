(ns addon.heroku
  "Calls from the add-on to Heroku, for asynchronous (v3) provisioning: the OAuth grant
  exchange at Heroku's identity service and the Platform API calls on a resource's
  callback_url. It uses the JDK's own java.net.http.HttpClient (Java 11+), so it needs no
  library beyond Cheshire.

  Every call is retried a few times on network errors and 5xx answers, never on 4xx (those
  will not get better). Nothing here logs a token, the grant code or the client secret."
  (:require [cheshire.core :as json]
            [clojure.string :as str])
  (:import (java.io IOException)
           (java.net URI URLEncoder)
           (java.net.http HttpClient HttpClient$Redirect HttpClient$Version HttpRequest HttpRequest$BodyPublishers
                          HttpResponse HttpResponse$BodyHandlers)
           (java.nio.charset StandardCharsets)
           (java.time Duration)))

(def ^:private api-accept "application/vnd.heroku+json; version=3")

(def default-retry-delays-ms
  "Pauses before the 2nd and 3rd try of a call: three tries in all."
  [500 2000])

(defonce ^:private client
  ;; HTTP/1.1: for http:// URLs the JDK would otherwise try an h2c upgrade, which some
  ;; servers (kensa's loopback fake among them) do not answer.
  (delay (-> (HttpClient/newBuilder)
             (.version HttpClient$Version/HTTP_1_1)
             (.connectTimeout (Duration/ofSeconds 10))
             (.followRedirects HttpClient$Redirect/NEVER)
             (.build))))

(defn- log [& parts]
  (println (str/join " " parts)))

;; ---------------------------------------------------------------------------------------
;; Where things are

(defn- trim-slashes [s]
  (str/replace s #"/+$" ""))

(defn identity-url
  "Where Heroku's identity service is, for a resource whose callback_url is `callback-url`:
  `override` (HEROKU_IDENTITY_URL) when set; https://id.heroku.com when the callback goes
  to api.heroku.com (real Heroku); otherwise the origin (scheme://host:port) of the
  callback_url, which is where kensa's loopback fake of Heroku serves both."
  [override callback-url]
  (if (and (string? override) (not (str/blank? override)))
    (trim-slashes (str/trim override))
    (let [uri (URI. callback-url)
          host (some-> (.getHost uri) str/lower-case)]
      (if (= "api.heroku.com" host)
        "https://id.heroku.com"
        (str (str/lower-case (.getScheme uri)) "://" (.getRawAuthority uri))))))

(defn callback-url?
  "True for an absolute http(s) URL with a host: the only callback_url this service calls."
  [s]
  (boolean
   (when (string? s)
     (try
       (let [uri (URI. s)]
         (and (#{"http" "https"} (some-> (.getScheme uri) str/lower-case))
              (not (str/blank? (.getHost uri)))))
       (catch Exception _ false)))))

;; ---------------------------------------------------------------------------------------
;; HTTP with retries

(defn- form-encode [params]
  (str/join "&" (for [[k v] params]
                  (str (URLEncoder/encode (str k) StandardCharsets/UTF_8) "="
                       (URLEncoder/encode (str v) StandardCharsets/UTF_8)))))

(defn- send-once
  "One request; returns {:status n :body string}, or throws IOException."
  [{:keys [method url headers body]}]
  (let [builder (-> (HttpRequest/newBuilder (URI. url))
                    (.timeout (Duration/ofSeconds 20))
                    (.method method (if body
                                      (HttpRequest$BodyPublishers/ofString body StandardCharsets/UTF_8)
                                      (HttpRequest$BodyPublishers/noBody))))]
    (doseq [[k v] headers]
      (.header builder k v))
    (let [^HttpResponse response (.send ^HttpClient @client (.build builder)
                                        (HttpResponse$BodyHandlers/ofString StandardCharsets/UTF_8))]
      {:status (.statusCode response) :body (.body response)})))

(defn- error-detail
  "A short, loggable reason from an error answer: Heroku's {\"id\", \"message\"}, never
  the raw body (which could echo something secret)."
  [body]
  (let [parsed (try (json/parse-string body) (catch Exception _ nil))]
    (if (map? parsed)
      (let [text (str/join ": " (keep #(let [v (get parsed %)] (when (string? v) v)) ["id" "message"]))]
        (subs text 0 (min 200 (count text))))
      "")))

(defn- call!
  "Sends `request`, retrying on network errors and 5xx after each of `retry-delays-ms`.
  Returns the parsed JSON body (or nil) of a 2xx answer; otherwise throws ex-info
  {:step step :status n} (no status for a network error)."
  [step retry-delays-ms request]
  (loop [delays (seq retry-delays-ms)
         attempt 1]
    (let [outcome (try
                    (send-once request)
                    (catch IOException e {:exception e}))
          {:keys [status body exception]} outcome
          retryable? (or exception (>= status 500))]
      (cond
        (and status (<= 200 status 299))
        (try (json/parse-string body) (catch Exception _ nil))

        (and retryable? delays)
        (do (log step "attempt" attempt "failed:"
                 (if exception (.getName (class exception)) (str "HTTP " status))
                 "- retrying")
            (Thread/sleep (long (first delays)))
            (recur (next delays) (inc attempt)))

        :else
        (throw (ex-info (str step " failed: "
                             (if exception
                               (str (.getName (class exception)) " (after " attempt " tries)")
                               (str "HTTP " status " " (error-detail body)
                                    (when retryable? (str " (after " attempt " tries)")))))
                        {:step step :status status}))))))

(defn- api-headers [access-token]
  {"Authorization" (str "Bearer " access-token)
   "Accept" api-accept
   "Content-Type" "application/json"})

;; ---------------------------------------------------------------------------------------
;; The calls

(defn exchange-grant!
  "POST <identity>/oauth/token with the grant code; returns
  {:access-token :refresh-token :expires-in}."
  [{:keys [identity-url client-secret retry-delays-ms]} code]
  (let [answer (call! "token exchange" retry-delays-ms
                      {:method "POST"
                       :url (str identity-url "/oauth/token")
                       :headers {"Content-Type" "application/x-www-form-urlencoded"
                                 "Accept" "application/json"}
                       :body (form-encode [["grant_type" "authorization_code"]
                                           ["code" code]
                                           ["client_secret" client-secret]])})
        access-token (get answer "access_token")]
    (when-not (and (string? access-token) (not (str/blank? access-token)))
      (throw (ex-info "token exchange failed: no access_token in the answer" {:step "token exchange"})))
    {:access-token access-token
     :refresh-token (get answer "refresh_token")
     :expires-in (get answer "expires_in")}))

(defn set-config!
  "PATCH <callback_url>/config with `config`, a map of config var name to value."
  [{:keys [retry-delays-ms]} callback-url access-token config]
  (call! "config update" retry-delays-ms
         {:method "PATCH"
          :url (str (trim-slashes callback-url) "/config")
          :headers (api-headers access-token)
          :body (json/generate-string {:config (for [[k v] config] {:name k :value v})})}))

(defn action!
  "POST <callback_url>/actions/<action> (\"provision\" or \"deprovision\")."
  [{:keys [retry-delays-ms]} callback-url access-token action]
  (call! (str "actions/" action) retry-delays-ms
         {:method "POST"
          :url (str (trim-slashes callback-url) "/actions/" action)
          :headers (dissoc (api-headers access-token) "Content-Type")
          :body nil}))
