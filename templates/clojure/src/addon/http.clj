(ns addon.http
  "Ring helpers shared by the routes: JSON answers, request bodies (a size limit and JSON
  parsing that never throws), https detection and the cookie flag that follows from it,
  and the last-resort error handler."
  (:require [addon.log :as log]
            [cheshire.core :as json]
            [clojure.string :as str])
  (:import (java.io ByteArrayInputStream InputStream)))

(def max-body-bytes
  "The largest request body read: Heroku's calls and SSO forms are a few kilobytes."
  (* 64 1024))

(defn json-response [status body]
  {:status status
   :headers {"Content-Type" "application/json; charset=utf-8"}
   :body (json/generate-string body)})

(defn html-response [status page]
  {:status status
   :headers {"Content-Type" "text/html; charset=utf-8"}
   :body page})

(defn message
  "A JSON answer {\"message\": text}."
  [status text]
  (json-response status {:message text}))

(defn- too-large []
  (message 413 (str "The request body is larger than " (quot max-body-bytes 1024) " KiB.")))

(defn wrap-body-limit
  "Hands on at most max-body-bytes of a request body (as a fresh stream); anything larger
  is answered 413 without reaching the handler."
  [handler]
  (fn [request]
    (let [declared (some->> (get-in request [:headers "content-length"]) (re-matches #"\s*(\d{1,18})\s*") second parse-long)
          ^InputStream body (:body request)]
      (cond
        (and declared (> declared max-body-bytes)) (too-large)
        (nil? body) (handler request)
        :else (let [bytes (.readNBytes body (inc max-body-bytes))]
                (if (> (alength bytes) max-body-bytes)
                  (too-large)
                  (handler (assoc request :body (ByteArrayInputStream. bytes)))))))))

(defn read-json
  "The parsed JSON request body, or ::malformed. parse-string-strict, because parse-string
  returns a lazy seq for a top-level array and would fail later, outside this try."
  [request]
  (try
    (let [text (some-> (:body request) (slurp :encoding "UTF-8"))]
      (if (str/blank? text) ::malformed (json/parse-string-strict text)))
    ;; Throwable: a deeply nested document can overflow the stack while parsing.
    (catch Throwable _ ::malformed)))

(defn with-json-object
  "Calls (f body) when the request body is a JSON object; otherwise answers 400 (not JSON)
  or 422 (JSON, but not an object)."
  [request f]
  (let [body (read-json request)]
    (cond
      (= ::malformed body) (message 400 "The request body is not valid JSON.")
      (not (map? body)) (message 422 "The request body must be a JSON object.")
      :else (f body))))

(defn https?
  "True when the client reached this service over https: Heroku's router terminates TLS
  and says so in X-Forwarded-Proto."
  [request]
  (or (= :https (:scheme request))
      (= "https" (some-> (get-in request [:headers "x-forwarded-proto"])
                         (str/split #",") first str/trim str/lower-case))))

(defn base-url
  "The service's public base URL as the request reached it (X-Forwarded-Proto and Host),
  or nil when the Host header is not a plain host[:port]."
  [request]
  (let [host (get-in request [:headers "host"])]
    (when (and (string? host)
               (re-matches #"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?" host))
      (str (if (https? request) "https" "http") "://" (str/lower-case host)))))

(defn wrap-secure-cookies
  "Marks every cookie the response sets Secure when the request came over https, so the
  browser never sends it over plain http. Sits inside wrap-session and wrap-cookies."
  [handler]
  (fn [request]
    (let [response (handler request)]
      (if (and response (https? request))
        (cond-> response
          (contains? response :session) (assoc :session-cookie-attrs {:secure true})
          (:cookies response) (update :cookies update-vals #(assoc (if (map? %) % {:value %}) :secure true)))
        response))))

(defn wrap-errors
  "Anything unexpected becomes a 500 with a JSON message instead of a stack trace."
  [handler]
  (fn [request]
    (try
      (handler request)
      (catch Exception e
        (log/info "error" (name (:request-method request)) (:uri request) (.getName (class e)))
        (message 500 "Internal error.")))))
