(ns acme.auth
  (:require [clojure.string :as str])
  (:import (java.security MessageDigest)
           (java.util Base64)))

(defn- sha256 [s]
  (.digest (MessageDigest/getInstance "SHA-256") (.getBytes (str s) "UTF-8")))

(defn- same?
  "Constant time whatever the lengths: MessageDigest/isEqual on digests of both sides."
  [a b]
  (MessageDigest/isEqual (sha256 a) (sha256 b)))

(defn- credentials [request]
  (when-let [[_ encoded] (some->> (get-in request [:headers "authorization"])
                                  (re-matches #"(?i)Basic\s+(\S+)"))]
    (try
      (str/split (String. (.decode (Base64/getDecoder) ^String encoded) "UTF-8") #":" 2)
      (catch IllegalArgumentException _ nil))))

(defn wrap-heroku-auth
  "Heroku's calls carry Basic auth: user = the add-on id, password = the manifest's
  api.password. Wraps the provision, plan change and deprovision routes (not SSO)."
  [handler {:keys [username password]}]
  (fn [request]
    (let [[user pass] (credentials request)
          ;; Both comparisons always run, so timing does not tell which one was wrong.
          user-ok (same? user username)
          pass-ok (same? pass password)]
      (if (and user-ok pass-ok)
        (handler request)
        {:status 401
         :headers {"WWW-Authenticate" "Basic realm=\"Acme DB\""
                   "Content-Type" "application/json"}
         :body "{\"message\":\"Unauthorized\"}"}))))
