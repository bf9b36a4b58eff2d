# frozen_string_literal: true

require_relative "app"

# In development the schema is migrated on start; in production the Procfile's
# release phase (`rake db:migrate`) has done it before any dyno starts, and a
# process that finds migrations pending refuses to serve.
db = AddonApp.settings.db
if AddonApp.production?
  abort "The database schema is out of date: run `bundle exec rake db:migrate`" unless Database.current?(db)
else
  Database.migrate!(db)
end

# The asynchronous jobs run in this process; unfinished ones resume now.
worker = AddonApp.settings.worker.start
at_exit { worker.stop }

run AddonApp
