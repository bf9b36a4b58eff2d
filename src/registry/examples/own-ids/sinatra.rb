require "securerandom"

# Every resource gets an id of its own, unique across the whole service: never built from
# heroku_id or the app's name (Heroku's uuid is a fine id too).
def create_resource(db, uuid:, plan:)
  id = SecureRandom.uuid
  db[:resources].insert(id: id, uuid: uuid, plan: plan)
  { id: id, uuid: uuid, plan: plan }
end
