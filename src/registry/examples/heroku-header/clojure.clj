(ns acme.views
  (:require [hiccup.page :refer [html5]]))

(defn dashboard-page
  "The dashboard page a sign-on lands on carries Heroku's add-on header: any element with
  id=\"heroku-header\", naming the app and the add-on from nav-data. Hiccup escapes the
  strings it renders."
  [resource {:keys [appname addon]}]
  (html5
   [:body
    [:div#heroku-header (str appname " · " addon)]
    [:h1 (str "Database " (:id resource))]]))
