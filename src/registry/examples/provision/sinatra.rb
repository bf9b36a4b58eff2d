# POST /heroku/resources: make the resource, then answer with its id, its config and a
# message Heroku shows the user. 201 for a new resource, 200 for a redelivery.
post "/heroku/resources" do
  data = JSON.parse(request.body.read)
  resource, created = provision_once(DB, uuid: data["uuid"], plan: data["plan"])
  status(created ? 201 : 200)
  content_type :json
  JSON.generate(id: resource[:id],
                config: { "ACME_DB_URL" => resource[:url] },
                message: "Your database is ready.")
end
