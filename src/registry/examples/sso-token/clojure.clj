(ns acme.sso
  (:require [clojure.string :as str])
  (:import (java.security MessageDigest)))

(defn- hex [algorithm ^String text]
  (->> (.digest (MessageDigest/getInstance algorithm) (.getBytes text "UTF-8"))
       (map #(format "%02x" %))
       (str/join)))

(defn- same? [^String a ^String b]
  (MessageDigest/isEqual (.getBytes (str a) "UTF-8") (.getBytes (str b) "UTF-8")))

(defn tokens-valid?
  "Recomputes the tokens Heroku sent from your own salt and compares in constant time.
  v3 sends resource_id with resource_token = sha1(uuid:salt:timestamp) and
  user_scoped_resource_token = sha256(uuid:salt:timestamp:user_id:email); v1 sent id and
  token = sha1(id:salt:timestamp). Every token sent must be right."
  [params resource salt]
  (let [ts (get params "timestamp")
        checks (cond-> []
                 (get params "resource_token")
                 (conj (same? (get params "resource_token")
                              (hex "SHA-1" (str (:uuid resource) ":" salt ":" ts))))
                 (get params "user_scoped_resource_token")
                 (conj (same? (get params "user_scoped_resource_token")
                              (hex "SHA-256" (str (:uuid resource) ":" salt ":" ts ":"
                                                  (get params "user_id") ":" (get params "email")))))
                 (get params "token")
                 (conj (same? (get params "token") (hex "SHA-1" (str (:id resource) ":" salt ":" ts)))))]
    (and (seq checks) (every? true? checks))))
