# A provision for a uuid already deprovisioned (a late redelivery) gets 410 Gone: the
# tombstone row keeps the uuid, so the resource never comes back unbilled.
before "/heroku/resources" do
  pass unless request.post?

  data = JSON.parse(request.body.read)
  request.body.rewind
  existing = DB[:resources].first(uuid: data["uuid"].to_s)
  if existing && existing[:deprovisioned_at]
    halt 410, { "Content-Type" => "application/json" },
         JSON.generate(message: "Resource #{existing[:id]} was deprovisioned.")
  end
end
