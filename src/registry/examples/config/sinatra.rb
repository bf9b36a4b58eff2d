# The config an answer carries (provision, plan change): exactly the names the manifest
# declares in api.config_vars, every value a string (config vars become environment
# variables), URLs an app on a dyno can reach, never localhost.
def config_for(resource)
  {
    "ACME_DB_URL" => "postgres://#{resource[:user]}:#{resource[:password]}@db.acme.example.com:5432/#{resource[:name]}"
  }
end
