(ns acme.async
  (:require [acme.heroku :refer [platform-api]]
            [acme.resources :as resources]
            [cheshire.core :as json]
            [clojure.string :as str]
            [compojure.core :refer [POST]])
  (:import (java.net URI URLEncoder)
           (java.net.http HttpClient HttpRequest HttpRequest$BodyPublishers
                          HttpResponse$BodyHandlers)))

(defn- form [params]
  (str/join "&" (for [[k v] params]
                  (str (URLEncoder/encode (name k) "UTF-8") "=" (URLEncoder/encode (str v) "UTF-8")))))

(defn- identity-url
  "Heroku's identity service; kensa's loopback fake serves it on callback_url's origin."
  [callback-url]
  (let [uri (URI. callback-url)]
    (if (= "api.heroku.com" (.getHost uri))
      "https://id.heroku.com"
      (str (.getScheme uri) "://" (.getAuthority uri)))))

(defn- exchange-grant [callback-url code]
  (let [request (-> (HttpRequest/newBuilder (URI. (str (identity-url callback-url) "/oauth/token")))
                    (.header "Content-Type" "application/x-www-form-urlencoded")
                    (.POST (HttpRequest$BodyPublishers/ofString
                            (form {:grant_type "authorization_code"
                                   :code code
                                   :client_secret (System/getenv "HEROKU_CLIENT_SECRET")})))
                    (.build))
        response (.send (HttpClient/newHttpClient) request (HttpResponse$BodyHandlers/ofString))]
    (when-not (= 200 (.statusCode response))
      (throw (ex-info (str "the grant exchange answered " (.statusCode response)) {})))
    (json/parse-string (.body response))))

(defn- finish! [resource callback-url code]
  (let [token (exchange-grant callback-url code)
        access-token (get token "access_token")]
    (resources/save-token! (:id resource) token)
    (platform-api "PATCH" (str callback-url "/config") access-token
                  {:config [{:name "ACME_DB_URL" :value (:url resource)}]})
    (platform-api "POST" (str callback-url "/actions/provision") access-token)))

;; v3: answer 202 without config at once, then finish in the background: exchange the
;; grant at the identity service, set the config through the Platform API, mark it done.
(def provision-route
  (POST "/heroku/resources" request
    (let [body (json/parse-string (slurp (:body request)))
          {:keys [resource created?]} (resources/provision! {:uuid (get body "uuid")
                                                             :plan (get body "plan")})]
      (when created?
        (future (finish! resource (get body "callback_url") (get-in body ["oauth_grant" "code"]))))
      {:status 202
       :headers {"Content-Type" "application/json"}
       :body (json/generate-string {:id (:id resource)
                                    :message "Your database is being created."})})))
