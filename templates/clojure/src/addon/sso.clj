(ns addon.sso
  "Heroku single sign-on: token formulas, the timestamp window and nav-data. Pure
  functions, so they are easy to test and to reuse in another web stack."
  (:require [addon.crypto :as crypto]
            [cheshire.core :as json]
            [clojure.string :as str])
  (:import (java.nio.charset StandardCharsets)
           (java.security MessageDigest)
           (java.util Base64)))

(def max-age-seconds
  "How old an SSO timestamp may be (Heroku's own links are followed within seconds)."
  300)

(def max-skew-seconds
  "How far in the future a timestamp may be: clock skew between Heroku and this host."
  60)

(defn- hex-digest [algorithm ^String s]
  (crypto/hex (.digest (MessageDigest/getInstance algorithm) (crypto/utf8 s))))

(defn v1-token
  "v1 `token`: sha1(<provider id>:<salt>:<timestamp>)."
  [id salt timestamp]
  (hex-digest "SHA-1" (str id ":" salt ":" timestamp)))

(defn resource-token
  "v3 `resource_token`: sha1(<Heroku resource uuid>:<salt>:<timestamp>)."
  [uuid salt timestamp]
  (hex-digest "SHA-1" (str uuid ":" salt ":" timestamp)))

(defn user-scoped-token
  "v3 `user_scoped_resource_token`: sha256(<uuid>:<salt>:<timestamp>:<user id>:<email>)."
  [uuid salt timestamp user-id email]
  (hex-digest "SHA-256" (str uuid ":" salt ":" timestamp ":" user-id ":" email)))

(defn- parse-seconds [s]
  (when (and (string? s) (re-matches #"-?\d{1,18}" s))
    (Long/parseLong s)))

(defn- token-ok?
  "A token that was not sent is fine (the caller checks one was); one that was sent must match."
  [sent expected]
  (or (nil? sent)
      (and (string? sent) (some? expected) (crypto/secure= (str/lower-case sent) expected))))

(defn refusal
  "Why the SSO request `params` (string keys, as sent) must be refused for `resource`,
  or nil when it is genuine. `now` is the current time in unix seconds.
  At least one of token / resource_token must be present, and every token present
  must be right."
  [params {:keys [id uuid]} salt now]
  (let [timestamp (get params "timestamp")
        seconds (parse-seconds timestamp)
        token (get params "token")
        v3-token (get params "resource_token")
        user-token (get params "user_scoped_resource_token")]
    (cond
      (nil? seconds) "The timestamp is missing or not a number."
      (> (- now seconds) max-age-seconds) "The timestamp is too old: log in through Heroku again."
      (> (- seconds now) max-skew-seconds) "The timestamp is in the future."
      (and (nil? token) (nil? v3-token)) "No SSO token was sent."
      (not (and (token-ok? token (v1-token id salt timestamp))
                (token-ok? v3-token (when uuid (resource-token uuid salt timestamp)))
                (token-ok? user-token (when uuid
                                        (user-scoped-token uuid salt timestamp
                                                           (get params "user_id" "")
                                                           (get params "email" ""))))))
      "The SSO token is not valid."
      :else nil)))

(defn decode-nav-data
  "Heroku's nav-data is base64url (padding optional) of JSON like
  {\"addon\":\"My Addon\",\"appname\":\"my-app\"}. Returns {:addon .. :app ..} with
  whatever of the two is a string, or nil for anything else: it only decorates the page,
  so garbage must not fail the request."
  [s]
  (when (string? s)
    (try
      (let [base64url (-> s str/trim (str/replace "+" "-") (str/replace "/" "_") (str/replace "=" ""))
            data (json/parse-string-strict (String. (.decode (Base64/getUrlDecoder) base64url)
                                             StandardCharsets/UTF_8))]
        (when (map? data)
          (let [text #(let [v (get data %)] (when (and (string? v) (not (str/blank? v))) v))]
            (not-empty (into {} (remove (comp nil? val))
                             {:addon (text "addon") :app (text "appname")})))))
      (catch Exception _ nil))))
