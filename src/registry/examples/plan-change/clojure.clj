;; PUT /heroku/resources/:id: a change to the current plan is a no-op answered 200; a
;; quick change answers 200 with the new config; a slow one answers 202 and sets the
;; config through the Platform API when it is done.
(def plan-change-route
  (PUT "/heroku/resources/:id" [id :as request]
    (let [body (json/parse-string (slurp (:body request)))]
      (with-known-plan body
        (fn [plan]
          (if-let [resource (resources/find-by-id id)]
            (cond
              (= plan (:plan resource))
              (json-response 200 {:message (str "Already on " plan ".")})

              (not (needs-migration? (:plan resource) plan))
              (let [changed (resources/update-plan! id plan)]
                (json-response 200 {:config (config-for changed) :message (str "Now on " plan ".")}))

              :else
              (do (future
                    (let [moved (migrate! resource plan)
                          token (access-token-for moved (identity-url (:callback-url moved)))]
                      (platform-api "PATCH" (str (:callback-url moved) "/config") token
                                    {:config (for [[k v] (config-for moved)] {:name k :value v})})))
                  (json-response 202 {:message (str "Moving to " plan "; your config will be updated.")})))
            (json-response 404 {:message (str "No resource " id ".")})))))))
