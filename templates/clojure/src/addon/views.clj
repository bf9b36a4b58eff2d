(ns addon.views
  "HTML pages.

  hiccup.core/html renders the same with Hiccup 2 (deps.edn) and Hiccup 1 (Debian's
  package), and it does not escape strings: every value from a request or the database
  goes through `h`."
  (:require [addon.config :as config]
            [addon.plans :as plans]
            [addon.resources :as resources]
            [hiccup.core :refer [html]]
            [hiccup.util :refer [escape-html]]
            [ring.util.codec :as codec]))

(defn- h [value]
  (escape-html (str value)))

(def ^:private style
  "body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
  #heroku-header { background: #79589f; color: #fff; padding: .75rem 1.5rem; }
  #heroku-header a { color: #fff; margin-left: 1rem; }
  main { padding: 1.5rem; }
  dt { font-weight: bold; }")

(defn- layout [title & body]
  (str "<!DOCTYPE html>\n"
       (html [:html {:lang "en"}
              [:head
               [:meta {:charset "utf-8"}]
               [:meta {:name "viewport" :content "width=device-width, initial-scale=1"}]
               [:title (h title)]
               [:style style]]
              [:body body]])))

(defn message-page [title text]
  (layout title [:main [:h1 (h title)] [:p (h text)]]))

(defn dashboard
  "The page a user reaches through Heroku SSO. The header names the add-on and the app the
  user came from (decoded from nav-data); Heroku's layout check looks for
  div#heroku-header."
  [{:keys [resource nav email]}]
  (layout (str config/addon-name " dashboard")
          [:div#heroku-header
           (when-let [addon (:addon nav)]
             [:strong (h addon)])
           (when-let [app (:app nav)]
             (list " for app " [:strong (h app)]
                   [:a {:href (str "https://dashboard.heroku.com/apps/" (codec/url-encode app))}
                    "Back to Heroku"]))]
          [:main
           [:h1 (h config/addon-name)]
           (if (and resource (not= "deprovisioned" (:status resource)))
             [:dl
              [:dt "Resource"] [:dd (h (:id resource))]
              [:dt "Plan"] [:dd (h (:plan resource))]
              [:dt "Status"] [:dd (h (:status resource))]
              [:dt "Requests this month"]
              [:dd (h (if (= (:usage-period resource) (resources/current-period)) (:usage-requests resource) 0))
               " of " (h (:requests_per_month (plans/limits (:plan resource))))]
              (when email
                (list [:dt "Signed in as"] [:dd (h email)]))]
             [:p "This resource has been deprovisioned."])]))
