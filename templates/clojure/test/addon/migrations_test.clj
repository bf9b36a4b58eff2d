(ns addon.migrations-test
  (:require [addon.db :as db]
            [addon.migrations :as migrations]
            [addon.test-support :as t]
            [clojure.test :refer [deftest is testing]]))

(defn- versions [database]
  (map :version (db/query database ["SELECT version FROM schema_migrations ORDER BY version"])))

(deftest migrations-run-once-in-order
  (doseq [{:keys [name db]} (t/fresh-databases)]
    (testing name
      (is (= (map :version migrations/migrations) (seq (map :version (migrations/pending db)))))
      (is (= (mapv :version migrations/migrations) (migrations/migrate! db)))
      (is (= [] (migrations/migrate! db)) "a second run applies nothing")
      (is (empty? (migrations/pending db)))
      (is (= (map :version migrations/migrations) (versions db)))
      (testing "the schema is usable: the unique uuid index is there"
        (db/execute! db ["INSERT INTO resources (id, uuid, plan, status, base_url, created_at, updated_at)
                          VALUES ('a', 'u', 'test', 'provisioned', 'http://x', 0, 0)"])
        (is (thrown? Exception
                     (db/execute! db ["INSERT INTO resources (id, uuid, plan, status, base_url, created_at, updated_at)
                                       VALUES ('b', 'u', 'test', 'provisioned', 'http://x', 0, 0)"])))))))

(deftest concurrent-migrations-do-not-break
  (doseq [{:keys [name db]} (t/fresh-databases)]
    (testing name
      (let [start (promise)
            runs (doall (for [_ (range 6)]
                          (future @start (try (migrations/migrate! db) (catch Exception e e)))))
            _ (deliver start true)
            results (map deref runs)]
        (is (not-any? #(instance? Exception %) results))
        (is (= (mapv :version migrations/migrations) (vec (apply concat results)))
            "each migration applied by exactly one run")
        (is (= (map :version migrations/migrations) (versions db)))))))

(deftest on-heroku-the-web-process-refuses-pending-migrations
  (doseq [{:keys [name db]} (t/fresh-databases)]
    (testing name
      (let [refusal (migrations/prepare! db true)]
        (is (re-find #"pending migrations: 1, 2\)" (str refusal)))
        (is (re-find #"bin/migrate" (str refusal))))
      (is (= (map :version migrations/migrations) (map :version (migrations/pending db)))
          "the web process applied nothing")
      (is (nil? (migrations/prepare! db false)) "in development it migrates on start")
      (is (empty? (migrations/pending db)))
      (is (nil? (migrations/prepare! db true)) "once migrated it starts"))))
