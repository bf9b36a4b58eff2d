(defn access-token-for
  "Access tokens expire (expires_in seconds; about eight hours at Heroku). Checks the
  stored expiry before every call, and trades the refresh token for a new access token
  when it has passed (or is a minute from passing). Returns the token to call with."
  [resource identity-url]
  (if (< (System/currentTimeMillis) (- (:token-expires-at resource) 60000))
    (:access-token resource)
    (let [request (-> (HttpRequest/newBuilder (URI. (str identity-url "/oauth/token")))
                      (.header "Content-Type" "application/x-www-form-urlencoded")
                      (.POST (HttpRequest$BodyPublishers/ofString
                              (form {:grant_type "refresh_token"
                                     :refresh_token (:refresh-token resource)
                                     :client_secret (System/getenv "HEROKU_CLIENT_SECRET")})))
                      (.build))
          response (.send (HttpClient/newHttpClient) request (HttpResponse$BodyHandlers/ofString))]
      (when-not (= 200 (.statusCode response))
        (throw (ex-info (str "the token refresh answered " (.statusCode response)) {})))
      (let [token (json/parse-string (.body response))]
        (resources/save-token! (:id resource) token)
        (get token "access_token")))))
