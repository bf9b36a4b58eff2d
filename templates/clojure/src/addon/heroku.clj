(ns addon.heroku
  "Calls from the add-on to Heroku, for asynchronous (v3) provisioning: the OAuth grant
  exchange and token refresh at Heroku's identity service, and the Platform API calls on
  a resource's callback_url. It uses the JDK's java.net.http.HttpClient, so it needs no
  library beyond Cheshire. See
  https://devcenter.heroku.com/articles/add-on-partner-api-reference and
  https://devcenter.heroku.com/articles/getting-started-with-asynchronous-provisioning

  Each function makes ONE attempt; a failure throws ex-info whose data says whether it is
  worth retrying (network errors, 429 and 5xx) and after how long Heroku asked to wait
  (Retry-After). addon.worker keeps the attempts in the database. Nothing here logs or
  puts in an exception message a token, a grant code or the client secret."
  (:require [cheshire.core :as json]
            [clojure.string :as str])
  (:import (java.io IOException)
           (java.net URI URLEncoder)
           (java.net.http HttpClient HttpClient$Redirect HttpClient$Version HttpRequest
                          HttpRequest$BodyPublishers HttpResponse HttpResponse$BodyHandlers)
           (java.nio.charset StandardCharsets)
           (java.time Duration ZonedDateTime)
           (java.time.format DateTimeFormatter)))

(def ^:private api-accept "application/vnd.heroku+json; version=3")

(def default-token-lifetime-seconds
  "When the identity service does not say how long an access token lives (it says 28800)."
  3600)

(defonce ^:private client
  ;; HTTP/1.1: for http:// URLs the JDK would otherwise try an h2c upgrade, which some
  ;; servers (kensa's loopback fake of Heroku among them) do not answer.
  (delay (-> (HttpClient/newBuilder)
             (.version HttpClient$Version/HTTP_1_1)
             (.connectTimeout (Duration/ofSeconds 10))
             (.followRedirects HttpClient$Redirect/NEVER)
             (.build))))

;; ---------------------------------------------------------------------------------------
;; Where the identity service is

(defn- trim-slashes [s]
  (str/replace s #"/+$" ""))

(defn- parse-uri [s]
  (when (string? s)
    (try (URI. s) (catch Exception _ nil))))

(defn callback-url?
  "True for an absolute http(s) URL with a host: the only callback_url this service calls."
  [s]
  (let [^URI uri (parse-uri s)]
    (boolean (and uri
                  (#{"http" "https"} (some-> (.getScheme uri) str/lower-case))
                  (not (str/blank? (.getHost uri)))))))

(defn loopback-host?
  "127.0.0.0/8, ::1 or localhost, read from the URL's text (no DNS lookup, which a hostile
  name could answer with anything)."
  [host]
  (let [host (str/lower-case (str host))]
    (boolean (or (= "localhost" host)
                 (#{"[::1]" "::1"} host)
                 (re-matches #"127\.\d{1,3}\.\d{1,3}\.\d{1,3}" host)))))

(defn identity-url
  "Where Heroku's identity service is for a resource whose callback_url is `callback-url`,
  or nil when this service must not send the client secret anywhere for it:
  1. `override` (HEROKU_IDENTITY_URL) when set;
  2. https://id.heroku.com when the callback goes to https://api.heroku.com (real Heroku);
  3. the callback's origin when it is a loopback address and `loopback?` (development
     against kensa's loopback fake of Heroku, which serves both on one origin; on a dyno
     Heroku never sends one, so there it is refused like any other host);
  4. otherwise nil: the provision is refused (422)."
  ([override callback-url] (identity-url override callback-url true))
  ([override callback-url loopback?]
   (let [^URI uri (when (callback-url? callback-url) (URI. callback-url))
         scheme (some-> uri .getScheme str/lower-case)
         host (some-> uri .getHost str/lower-case)]
     (cond
       (and (string? override) (not (str/blank? override))) (trim-slashes (str/trim override))
       (nil? uri) nil
       (and (= "https" scheme) (= "api.heroku.com" host)) "https://id.heroku.com"
       (and loopback? (loopback-host? host)) (str scheme "://" (.getRawAuthority uri))
       :else nil))))

;; ---------------------------------------------------------------------------------------
;; HTTP

(defn- form-encode [params]
  (str/join "&" (for [[k v] params]
                  (str (URLEncoder/encode (str k) StandardCharsets/UTF_8) "="
                       (URLEncoder/encode (str v) StandardCharsets/UTF_8)))))

(defn- retry-after-ms
  "Retry-After as milliseconds: delta-seconds or an HTTP date; nil when absent or unreadable."
  [^String value]
  (when value
    (let [value (str/trim value)]
      (try
        (if (re-matches #"\d{1,9}" value)
          (* 1000 (parse-long value))
          (max 0 (- (.toEpochMilli (.toInstant (ZonedDateTime/parse value DateTimeFormatter/RFC_1123_DATE_TIME)))
                    (System/currentTimeMillis))))
        (catch Exception _ nil)))))

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
  "Sends `request` once. Returns the parsed JSON body (or nil) of a 2xx answer; otherwise
  throws ex-info {:step :status :retryable? :retry-after-ms}."
  [step {:keys [method url headers body]}]
  (let [builder (-> (HttpRequest/newBuilder (URI. url))
                    (.timeout (Duration/ofSeconds 20))
                    (.method method (if body
                                      (HttpRequest$BodyPublishers/ofString body StandardCharsets/UTF_8)
                                      (HttpRequest$BodyPublishers/noBody))))
        _ (doseq [[k v] headers] (.header builder k v))
        ^HttpResponse response
        (try
          (.send ^HttpClient @client (.build builder) (HttpResponse$BodyHandlers/ofString StandardCharsets/UTF_8))
          (catch IOException e
            (throw (ex-info (str step " failed: " (.getName (class e))) {:step step :retryable? true}))))
        status (.statusCode response)]
    (if (<= 200 status 299)
      (try (json/parse-string (.body response)) (catch Exception _ nil))
      (throw (ex-info (str step " failed: HTTP " status " " (error-detail (.body response)))
                      {:step step
                       :status status
                       :retryable? (or (= 429 status) (>= status 500))
                       :retry-after-ms (retry-after-ms (.orElse (.firstValue (.headers response) "Retry-After") nil))})))))

(defn- api-headers [access-token]
  {"Authorization" (str "Bearer " access-token)
   "Accept" api-accept
   "Content-Type" "application/json"})

;; ---------------------------------------------------------------------------------------
;; The calls

(defn- token-request!
  "POST <identity>/oauth/token with the form `params`; returns
  {:access-token :refresh-token :expires-at (unix ms)}."
  [step identity-url params]
  (let [answer (call! step {:method "POST"
                            :url (str identity-url "/oauth/token")
                            :headers {"Content-Type" "application/x-www-form-urlencoded"
                                      "Accept" "application/json"}
                            :body (form-encode params)})
        access-token (get answer "access_token")
        expires-in (get answer "expires_in")]
    (when-not (and (string? access-token) (not (str/blank? access-token)))
      (throw (ex-info (str step " failed: no access_token in the answer") {:step step :retryable? false})))
    {:access-token access-token
     :refresh-token (let [t (get answer "refresh_token")] (when (string? t) t))
     :expires-at (+ (System/currentTimeMillis)
                    (* 1000 (if (number? expires-in) (long expires-in) default-token-lifetime-seconds)))}))

(defn exchange-grant!
  "Exchanges the provision's oauth_grant code for tokens (the code works once)."
  [identity-url client-secret code]
  (token-request! "token exchange" identity-url [["grant_type" "authorization_code"]
                                                 ["code" code]
                                                 ["client_secret" client-secret]]))

(defn refresh!
  "New tokens for `refresh-token`; the refresh token stays the same unless a new one comes."
  [identity-url client-secret refresh-token]
  (update (token-request! "token refresh" identity-url [["grant_type" "refresh_token"]
                                                        ["refresh_token" refresh-token]
                                                        ["client_secret" client-secret]])
          :refresh-token #(or % refresh-token)))

(defn set-config!
  "PATCH <callback_url>/config with `config`, a map of config var name to value."
  [callback-url access-token config]
  (call! "config update"
         {:method "PATCH"
          :url (str (trim-slashes callback-url) "/config")
          :headers (api-headers access-token)
          :body (json/generate-string {:config (for [[k v] config] {:name k :value v})})}))

(defn action!
  "POST <callback_url>/actions/<action> (\"provision\" or \"deprovision\")."
  [callback-url access-token action]
  (call! (str "actions/" action)
         {:method "POST"
          :url (str (trim-slashes callback-url) "/actions/" action)
          :headers (dissoc (api-headers access-token) "Content-Type")
          :body nil}))
