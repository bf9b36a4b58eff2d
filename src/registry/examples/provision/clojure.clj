(ns acme.provision
  (:require [acme.resources :as resources]
            [cheshire.core :as json]
            [compojure.core :refer [POST]]))

(defn json-response [status body]
  {:status status
   :headers {"Content-Type" "application/json"}
   :body (json/generate-string body)})

;; POST /heroku/resources: make the resource, then answer with its id, its config and a
;; message Heroku shows the user. 201 for a new resource, 200 for a redelivery.
(def provision-route
  (POST "/heroku/resources" request
    (let [body (json/parse-string (slurp (:body request)))
          {:keys [resource created?]} (resources/provision! {:uuid (get body "uuid")
                                                             :plan (get body "plan")})]
      (json-response (if created? 201 200)
                     {:id (:id resource)
                      :config {"ACME_DB_URL" (:url resource)}
                      :message "Your database is ready."}))))
