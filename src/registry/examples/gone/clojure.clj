(defn wrap-gone
  "A provision for a uuid already deprovisioned (a late redelivery) gets 410 Gone: the
  tombstone row keeps the uuid, so the resource never comes back unbilled. Takes the
  parsed body; calls (provision body) otherwise."
  [provision]
  (fn [body]
    (let [existing (resources/find-by-uuid (get body "uuid"))]
      (if (:deprovisioned-at existing)
        (json-response 410 {:message (str "Resource " (:id existing) " was deprovisioned.")})
        (provision body)))))
