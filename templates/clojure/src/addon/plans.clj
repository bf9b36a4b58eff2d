(ns addon.plans
  "The plans this add-on sells and what each allows. Keep the names in step with the plans
  in Heroku's Partner Portal. `test` is the plan kensa provisions by default and `async` the
  one provisioned in the background (see addon.worker); any other plan gets 422, as kensa's
  made-up plan-change target `foo` does: rename or drop them once your own plans exist.")

(def plans
  {"test" {:requests-per-month 1000}
   "basic" {:requests-per-month 10000}
   "premium" {:requests-per-month 1000000}
   "async" {:requests-per-month 1000 :async? true}})

(defn known? [plan]
  (contains? plans plan))

(defn async?
  "True when provisioning this plan is slow: answered 202, finished by a background job."
  [plan]
  (boolean (get-in plans [plan :async?])))

(defn limits
  "What a resource on `plan` may do, as the resource API shows it."
  [plan]
  {:requests_per_month (get-in plans [plan :requests-per-month] 0)})
