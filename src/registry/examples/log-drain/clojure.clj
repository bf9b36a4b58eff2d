(defn provision-answer
  "With \"requires\": [\"syslog_drain\"], the request carries log_drain_token and the
  answer names where Heroku drains the app's logs: a syslog:// or https:// URL."
  [resource]
  {:id (:id resource)
   :config {"ACME_DB_URL" (:url resource)}
   :log_drain_url (str "syslog://logs.acme.example.com:6514/" (:drain-token resource))})
