(ns acme.heroku
  (:require [cheshire.core :as json])
  (:import (java.net URI)
           (java.net.http HttpClient HttpRequest HttpRequest$BodyPublishers
                          HttpResponse$BodyHandlers)
           (java.time Duration)))

(def platform-accept "application/vnd.heroku+json; version=3")

(def ^:private client
  (-> (HttpClient/newBuilder) (.connectTimeout (Duration/ofSeconds 10)) (.build)))

(defn platform-api
  "Every Platform API call: the add-on's own access token (never the client secret), the
  version 3 Accept header, and only URLs under the callback_url Heroku sent, such as
  (str callback-url \"/config\") or (str callback-url \"/actions/provision\")."
  [method url access-token & [body]]
  (let [request (-> (HttpRequest/newBuilder (URI. url))
                    (.timeout (Duration/ofSeconds 10))
                    (.header "Authorization" (str "Bearer " access-token))
                    (.header "Accept" platform-accept)
                    (.header "Content-Type" "application/json")
                    (.method method (if body
                                      (HttpRequest$BodyPublishers/ofString (json/generate-string body))
                                      (HttpRequest$BodyPublishers/noBody)))
                    (.build))
        response (.send client request (HttpResponse$BodyHandlers/ofString))
        status (.statusCode response)]
    (when-not (<= 200 status 299)
      (throw (ex-info (str method " " url " answered " status) {:status status})))
    (json/parse-string (.body response))))
