(ns addon.log
  "The service's log: one line per event on stdout, which Heroku collects into the app's
  log stream. Never pass credentials, tokens, the SSO salt or a grant code here: logs end
  up in log drains."
  (:require [clojure.string :as str]))

(defn info [& parts]
  ;; One write per line, so lines from concurrent threads never interleave.
  (let [line (str (str/join " " parts) "\n")]
    (locking *out*
      (.write *out* line)
      (.flush *out*))))
