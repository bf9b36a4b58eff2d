(ns addon.settings-test
  (:require [addon.settings :as settings]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]))

(def good-env {"HEROKU_USERNAME" "my-addon"
               "HEROKU_PASSWORD" "pw"
               "SSO_SALT" "salt"
               "ENCRYPTION_KEY" (apply str (repeat 32 "0f"))})

(defn- problems [env]
  (settings/problems (settings/from-env env) env))

(deftest a-complete-environment-has-no-problems
  (is (empty? (problems good-env)))
  (is (= 32 (alength ^bytes (:encryption-key (settings/from-env good-env))))))

(deftest the-encryption-key-is-required-and-checked
  (doseq [[label env] [["missing" (dissoc good-env "ENCRYPTION_KEY")]
                       ["empty" (assoc good-env "ENCRYPTION_KEY" " ")]
                       ["too short" (assoc good-env "ENCRYPTION_KEY" "abcd")]
                       ["not hex" (assoc good-env "ENCRYPTION_KEY" (apply str (repeat 64 "z")))]]]
    (testing label
      (let [found (problems env)]
        (is (= 1 (count found)))
        (is (str/includes? (first found) "ENCRYPTION_KEY"))
        (is (str/includes? (first found) "64 hex"))))))

(deftest sso-salt-is-optional
  (let [env (dissoc good-env "SSO_SALT")]
    (is (empty? (problems env)) "the service starts without it")
    (is (nil? (:sso-salt (settings/from-env env))) "and single sign-on is off")))

(deftest the-database-settings
  (is (empty? (problems (assoc good-env "DATABASE_URL" "postgres://u:p@db.example.com:5432/addon"))))
  (is (empty? (problems (assoc good-env "DATABASE_URL" "postgresql://localhost/addon"))))
  (is (some #(str/includes? % "DATABASE_URL") (problems (assoc good-env "DATABASE_URL" "mysql://localhost/addon"))))
  (testing "on Heroku the embedded database would be wiped with the dyno"
    (is (some #(str/includes? % "DATABASE_URL") (problems (assoc good-env "DYNO" "web.1"))))
    (is (empty? (problems (assoc good-env "DYNO" "web.1" "DATABASE_URL" "postgres://h/db"))))))

(deftest other-settings
  (is (= 5000 (:async-delay-ms (settings/from-env (assoc good-env "ASYNC_DELAY_SECONDS" "5")))))
  (is (= 0 (:async-delay-ms (settings/from-env good-env))))
  (is (some #(str/includes? % "ASYNC_DELAY_SECONDS") (problems (assoc good-env "ASYNC_DELAY_SECONDS" "soon"))))
  (is (some #(str/includes? % "HEROKU_PASSWORD") (problems (dissoc good-env "HEROKU_PASSWORD"))))
  (is (= "https://addon.example.com" (:public-url (settings/from-env (assoc good-env "PUBLIC_URL" "https://addon.example.com/"))))))
