(ns addon.resource-api
  "The API each resource's config var points at: GET /api/resource, with the resource id
  and its API token as Basic auth (the userinfo of the config var's URL). It shows the
  resource's plan, status, limits and usage; each call counts against the plan's monthly
  quota. This is the part of the template a provider replaces with their real product."
  (:require [addon.http :as http]
            [addon.plans :as plans]
            [addon.provisioning :as provisioning]
            [addon.resources :as resources]))

(defn- describe [{:keys [id plan status usage-requests usage-period]}]
  {:id id
   :plan plan
   :status status
   :limits (plans/limits plan)
   :usage {:requests usage-requests :period usage-period}})

(defn show
  "GET /api/resource."
  [{:keys [db]} request]
  (let [[id token] (provisioning/basic-credentials request)]
    (if-let [resource (resources/authenticate db id token)]
      (let [counted (resources/count-request! db (:id resource) (resources/current-period))
            quota (:requests_per_month (plans/limits (:plan counted)))]
        (if (> (:usage-requests counted) quota)
          (http/json-response 429 (assoc (describe counted)
                                         :message (str "This resource used its " quota " requests for this month; "
                                                       "upgrade the plan for more.")))
          (http/json-response 200 (describe counted))))
      (provisioning/unauthorized "Use the credentials in the add-on's config var; these are wrong or were revoked."))))
