;; DELETE /heroku/resources/:id: remove it and answer 204. A repeat (Heroku delivers at
;; least once) finds nothing and answers 404 or 410, never an error. A slow removal
;; answers 202 and reports back with POST <callback_url>/actions/deprovision when done.
(def deprovision-route
  (DELETE "/heroku/resources/:id" [id]
    (let [resource (resources/find-by-id id)]
      (cond
        (or (nil? resource) (:deprovisioned-at resource))
        (json-response 410 {:message (str "Resource " id " is gone.")})

        ;; Keeps the row (and its uuid) as a tombstone.
        :else
        (do (resources/mark-deprovisioned! id)
            (if-let [callback-url (:callback-url resource)]
              (do (future
                    (remove-data! resource)
                    (platform-api "POST" (str callback-url "/actions/deprovision")
                                  (access-token-for resource (identity-url callback-url))))
                  (json-response 202 {:message "Your database is being removed."}))
              {:status 204}))))))
