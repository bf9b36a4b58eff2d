(ns addon.crypto-test
  (:require [addon.crypto :as crypto]
            [clojure.test :refer [deftest is testing]]))

(def key-a (crypto/parse-key (crypto/random-token)))
(def key-b (crypto/parse-key (crypto/random-token)))

(deftest encrypt-round-trips-and-hides-the-plaintext
  (let [sealed (crypto/encrypt key-a "secret-token" "jobs.access_token:1")]
    (is (= "secret-token" (crypto/decrypt key-a sealed "jobs.access_token:1")))
    (is (not (.contains ^String sealed "secret-token")))
    (is (not= sealed (crypto/encrypt key-a "secret-token" "jobs.access_token:1"))
        "a fresh nonce every time")
    (is (nil? (crypto/encrypt key-a nil "x")))
    (is (nil? (crypto/decrypt key-a nil "x")))))

(deftest decrypt-refuses-what-it-should
  (let [sealed (crypto/encrypt key-a "secret-token" "jobs.access_token:1")
        flipped (let [chars (.toCharArray ^String sealed)
                      i (- (alength chars) 5)]
                  (aset chars i (if (= \A (aget chars i)) \B \A))
                  (String. chars))]
    (testing "another key"
      (is (thrown? Exception (crypto/decrypt key-b sealed "jobs.access_token:1"))))
    (testing "another place (a value copied into another row or column)"
      (is (thrown? Exception (crypto/decrypt key-a sealed "jobs.access_token:2")))
      (is (thrown? Exception (crypto/decrypt key-a sealed "jobs.refresh_token:1"))))
    (testing "an altered value"
      (is (thrown? Exception (crypto/decrypt key-a flipped "jobs.access_token:1"))))
    (testing "not an encrypted value at all"
      (is (thrown? Exception (crypto/decrypt key-a "secret-token" "jobs.access_token:1"))))))

(deftest keys-tokens-and-hashes
  (is (= 32 (alength ^bytes (crypto/parse-key (apply str (repeat 32 "aB"))))) "64 hex characters")
  (doseq [bad [nil "" "abc" (apply str (repeat 63 "a")) (apply str (repeat 65 "a")) (apply str (repeat 64 "g"))]]
    (is (nil? (crypto/parse-key bad)) (pr-str bad)))
  (let [tokens (repeatedly 100 crypto/random-token)]
    (is (every? #(re-matches #"[0-9a-f]{64}" %) tokens))
    (is (= 100 (count (set tokens)))))
  (is (= "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" (crypto/sha256-hex ""))))

(deftest secure=-compares-strings
  (is (crypto/secure= "abc" "abc"))
  (is (not (crypto/secure= "abc" "abd")))
  (is (not (crypto/secure= "abc" "abcd")))
  (is (not (crypto/secure= nil "abc")))
  (is (not (crypto/secure= nil nil))))
