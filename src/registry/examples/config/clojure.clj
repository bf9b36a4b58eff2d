(defn config-for
  "The config an answer carries (provision, plan change): exactly the names the manifest
  declares in api.config_vars, every value a string (config vars become environment
  variables), URLs an app on a dyno can reach, never localhost."
  [{:keys [user password name]}]
  {"ACME_DB_URL" (str "postgres://" user ":" password "@db.acme.example.com:5432/" name)})
