(ns acme.resources
  (:require [clojure.java.jdbc :as jdbc]))

(defn create-resource!
  "Every resource gets an id of its own, unique across the whole service: never built
  from heroku_id or the app's name (Heroku's uuid is a fine id too)."
  [db {:keys [uuid plan]}]
  (let [id (str (java.util.UUID/randomUUID))]
    (jdbc/insert! db :resources {:id id :uuid uuid :plan plan})
    {:id id :uuid uuid :plan plan}))
