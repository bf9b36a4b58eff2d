(ns acme.resources
  (:require [clojure.java.jdbc :as jdbc]))

(defn provision!
  "Provisioning is idempotent on Heroku's uuid. A unique index makes concurrent
  redeliveries agree on one row (CREATE UNIQUE INDEX resources_uuid ON resources (uuid)).
  A redelivery gets the same resource, and its setup (grant exchange, config) runs once."
  [db {:keys [uuid plan]}]
  (let [id (str (java.util.UUID/randomUUID))]
    (jdbc/execute! db ["INSERT INTO resources (id, uuid, plan) VALUES (?, ?, ?)
                        ON CONFLICT (uuid) DO NOTHING" id uuid plan])
    (let [resource (first (jdbc/query db ["SELECT * FROM resources WHERE uuid = ?" uuid]))]
      {:resource resource :created? (= id (:id resource))})))
