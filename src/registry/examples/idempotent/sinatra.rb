require "securerandom"

# Provisioning is idempotent on Heroku's uuid. A unique index makes concurrent redeliveries
# agree on one row (add_index :resources, :uuid, unique: true in the migration).
# A redelivery gets the same resource, and its setup (grant exchange, config) runs once.
def provision_once(db, uuid:, plan:)
  id = SecureRandom.uuid
  db[:resources].insert_conflict(target: :uuid).insert(id: id, uuid: uuid, plan: plan)
  resource = db[:resources].first(uuid: uuid)
  [resource, resource[:id] == id]
end
