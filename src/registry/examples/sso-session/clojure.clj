(defn start-session
  "After a good sign-on: starts a session that remembers it came from Heroku (Ring's
  wrap-session), copies nav-data into the heroku-nav-data cookie (Heroku's legacy header
  script reads it, wrap-cookies writes it), and redirects to the dashboard."
  [params resource]
  (cond-> {:status 302
           :headers {"Location" "/"}
           :session {:resource-id (:id resource) :email (get params "email")}}
    (get params "nav-data")
    (assoc :cookies {"heroku-nav-data" {:value (get params "nav-data") :path "/"}})))
