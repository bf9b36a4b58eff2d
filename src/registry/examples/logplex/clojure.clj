(defn write-app-log!
  "With \"requires\": [\"log_input\"], writes to the app's log stream at log_input_url: an
  HTTP POST of octet-counted RFC 5424 frames (\"<bytes> <190>1 <time> <host> <app> - - -
  <msg>\"), Content-Type application/logplex-1, and a User-Agent that names the add-on.
  The URL's user-info carries the credentials."
  [log-input-url resource-uuid lines]
  (let [uri (URI. log-input-url)
        target (URI. (.getScheme uri) nil (.getHost uri) (.getPort uri) (.getPath uri) nil nil)
        auth (.encodeToString (Base64/getEncoder) (.getBytes (.getUserInfo uri) "UTF-8"))
        frame (fn [msg]
                (let [f (str "<190>1 " (Instant/now) " " resource-uuid " acme-db - - - " msg)]
                  (str (alength (.getBytes f "UTF-8")) " " f)))
        request (-> (HttpRequest/newBuilder target)
                    (.header "Authorization" (str "Basic " auth))
                    (.header "Content-Type" "application/logplex-1")
                    (.header "Logplex-Msg-Count" (str (count lines)))
                    (.header "User-Agent" "acme-db (https://elements.heroku.com/addons/acme-db)")
                    (.POST (HttpRequest$BodyPublishers/ofString (apply str (map frame lines))))
                    (.build))
        status (.statusCode (.send (HttpClient/newHttpClient) request (HttpResponse$BodyHandlers/discarding)))]
    (when-not (<= 200 status 299)
      (throw (ex-info (str "log post answered " status "; fetch log_input_url again") {})))))
