(defn with-retries
  "The Platform API limits each account's requests: on 429, waits Retry-After seconds (or
  backs off) and makes the same call again. `call` returns a java.net.http.HttpResponse."
  [call & {:keys [tries] :or {tries 5}}]
  (loop [attempt 1]
    (let [response (call)]
      (if (and (= 429 (.statusCode response)) (< attempt tries))
        (let [retry-after (some-> (.firstValue (.headers response) "Retry-After") (.orElse nil) parse-long)]
          (Thread/sleep (* 1000 (or retry-after (long (Math/pow 2 attempt)))))
          (recur (inc attempt)))
        response))))
