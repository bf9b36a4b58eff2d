(ns addon.store
  "Where provisioned resources live.

  This store keeps them in an atom, so they vanish when the process restarts. A real
  provider plugs its database in here: keep these function names and return values, and
  make `provision!` idempotent on :uuid with a unique index (Heroku delivers at least
  once, so the same uuid can arrive twice, even at the same time)."
  (:import (java.util UUID)))

(def ^:private empty-db {:resources {}      ; provider id -> resource map
                         :ids-by-uuid {}})  ; Heroku's resource uuid -> provider id

(defonce ^:private db (atom empty-db))

(defn- new-id
  "The provider's own id: random, never derived from anything Heroku sent."
  []
  (str (UUID/randomUUID)))

(defn find-by-id [id]
  (get-in @db [:resources id]))

(defn find-by-uuid [uuid]
  (some->> (get-in @db [:ids-by-uuid uuid]) find-by-id))

(defn provision!
  "Stores a new resource built from `attrs` (:uuid :plan :region :heroku-id :options),
  unless a resource with the same non-nil :uuid exists. Returns {:resource r :created? bool}."
  [{:keys [uuid] :as attrs}]
  (let [fresh (assoc attrs :id (new-id))
        add (fn [state]
              (if (and uuid (contains? (:ids-by-uuid state) uuid))
                state
                (cond-> (assoc-in state [:resources (:id fresh)] fresh)
                  uuid (assoc-in [:ids-by-uuid uuid] (:id fresh)))))
        after (swap! db add)
        resource (if uuid
                   (get-in after [:resources (get-in after [:ids-by-uuid uuid])])
                   fresh)]
    {:resource resource
     :created? (= (:id resource) (:id fresh))}))

(defn change-plan!
  "Sets the plan of resource `id`; returns the updated resource, or nil if there is none."
  [id plan]
  (-> (swap! db (fn [state]
                  (cond-> state
                    (get-in state [:resources id]) (assoc-in [:resources id :plan] plan))))
      (get-in [:resources id])))

(defn update!
  "Merges `attrs` into resource `id` (for instance the tokens and :status of an asynchronous
  provision); returns the updated resource, or nil if there is none (deprovisioned meanwhile)."
  [id attrs]
  (-> (swap! db (fn [state]
                  (cond-> state
                    (get-in state [:resources id]) (update-in [:resources id] merge attrs))))
      (get-in [:resources id])))

(defn deprovision!
  "Removes resource `id` (its uuid may then be provisioned again); returns the removed
  resource, or nil if there was none."
  [id]
  (let [[before _] (swap-vals! db (fn [state]
                                    (if-let [{:keys [uuid]} (get-in state [:resources id])]
                                      (-> state
                                          (update :resources dissoc id)
                                          (update :ids-by-uuid dissoc uuid))
                                      state)))]
    (get-in before [:resources id])))

(defn clear!
  "Forgets every resource (for tests)."
  []
  (reset! db empty-db))
