(ns addon.sso-test
  (:require [addon.sso :as sso]
            [clojure.test :refer [deftest is testing]])
  (:import (java.nio.charset StandardCharsets)
           (java.util Base64)))

(deftest v1-token-matches-the-published-vector
  (is (= "bb466eb1d6bc345d11072c3cd25c311f21be130d"
         (sso/v1-token "123" "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4" "1267597772"))))

(def salt "salt")
(def resource {:id "prov-1" :uuid "0b1c6f7e-uuid"})
(def now 1700000000)

(defn- params [ts & {:as extra}]
  (merge {"timestamp" (str ts)} extra))

(deftest refusal-checks-tokens-and-timestamps
  (let [ts (str now)
        v1 (sso/v1-token "prov-1" salt ts)
        v3 (sso/resource-token "0b1c6f7e-uuid" salt ts)
        user (sso/user-scoped-token "0b1c6f7e-uuid" salt ts "u-1" "a@example.com")]
    (testing "genuine requests"
      (is (nil? (sso/refusal (params now "token" v1) resource salt now)))
      (is (nil? (sso/refusal (params now "resource_token" v3) resource salt now)))
      (is (nil? (sso/refusal (params now "resource_token" v3 "user_scoped_resource_token" user
                                     "user_id" "u-1" "email" "a@example.com")
                             resource salt now)))
      (is (nil? (sso/refusal (params now "token" v1 "resource_token" v3) resource salt now))))
    (testing "tokens"
      (is (some? (sso/refusal (params now) resource salt now)) "no token at all")
      (is (some? (sso/refusal (params now "token" (sso/v1-token "prov-1" "wrong" ts)) resource salt now)))
      (is (some? (sso/refusal (params now "token" v1 "resource_token" "0000") resource salt now))
          "every token sent must be right")
      (is (some? (sso/refusal (params now "resource_token" v3 "user_scoped_resource_token" user
                                      "user_id" "u-2" "email" "a@example.com")
                              resource salt now)))
      (is (some? (sso/refusal (params now "user_scoped_resource_token" user "user_id" "u-1"
                                      "email" "a@example.com")
                              resource salt now))
          "a user-scoped token alone is not enough")
      (is (some? (sso/refusal (params now "resource_token" v3) {:id "prov-1"} salt now))
          "a resource provisioned without a uuid has no v3 token"))
    (testing "timestamps"
      (let [old (- now 360) ahead (+ now 360)]
        (is (some? (sso/refusal (params old "token" (sso/v1-token "prov-1" salt old)) resource salt now)))
        (is (some? (sso/refusal (params ahead "token" (sso/v1-token "prov-1" salt ahead)) resource salt now)))
        (is (some? (sso/refusal {"timestamp" "soon" "token" v1} resource salt now)))
        (is (some? (sso/refusal {"token" v1} resource salt now)))))))

(defn- base64url [s]
  (.encodeToString (Base64/getUrlEncoder) (.getBytes ^String s StandardCharsets/UTF_8)))

(deftest decode-nav-data-tolerates-anything
  (let [encoded (base64url "{\"addon\":\"My Addon\",\"appname\":\"my-app\"}")]
    (is (= {:addon "My Addon" :app "my-app"} (sso/decode-nav-data encoded)))
    (is (= {:addon "My Addon" :app "my-app"} (sso/decode-nav-data (.replace ^String encoded "=" "")))
        "padding is optional"))
  (is (= {:app "a"} (sso/decode-nav-data (base64url "{\"appname\":\"a\",\"addon\":7}"))))
  (doseq [garbage [nil "" "!!!" "e30" (base64url "[1,2]") (base64url "{\"addon\":") (base64url "\"x\"")]]
    (is (nil? (sso/decode-nav-data garbage)) (pr-str garbage))))
