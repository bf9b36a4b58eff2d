(def max-age-seconds
  "A sign-on is only good for minutes: refuse (403) a timestamp more than 5 minutes old."
  300)

(def max-skew-seconds
  "…and one more than a minute ahead of your clock."
  60)

(defn timestamp-fresh?
  ([timestamp] (timestamp-fresh? timestamp (quot (System/currentTimeMillis) 1000)))
  ([timestamp now]
   (boolean
    (when (and (string? timestamp) (re-matches #"\d{1,15}" timestamp))
      (let [age (- now (parse-long timestamp))]
        (<= (- max-skew-seconds) age max-age-seconds))))))
