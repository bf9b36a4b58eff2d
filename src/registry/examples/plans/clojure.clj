(ns acme.plans
  (:require [cheshire.core :as json]
            [clojure.string :as str]))

(def plans ["test" "basic" "premium"])

(defn with-known-plan
  "Calls (f plan) for a plan this add-on has; any other gets 422 with a message Heroku
  shows to the user."
  [body f]
  (let [plan (get body "plan")]
    (if (some #{plan} plans)
      (f plan)
      {:status 422
       :headers {"Content-Type" "application/json"}
       :body (json/generate-string
              {:message (str "Unknown plan " (pr-str plan) "; plans: " (str/join ", " plans) ".")})})))
