# DELETE /heroku/resources/:id: remove it and answer 204. A repeat (Heroku delivers at
# least once) finds nothing and answers 404 or 410, never an error. A slow removal answers
# 202 and reports back with POST <callback_url>/actions/deprovision when done.
delete "/heroku/resources/:id" do
  resource = DB[:resources].first(id: params[:id])
  if resource.nil? || resource[:deprovisioned_at]
    halt 410, { "Content-Type" => "application/json" }, JSON.generate(message: "Resource #{params[:id]} is gone.")
  end
  # Keeps the row (and its uuid) as a tombstone.
  DB[:resources].where(id: resource[:id]).update(deprovisioned_at: Time.now)
  halt 204 unless resource[:callback_url]

  Thread.new do
    remove_data(resource)
    platform_api("POST", "#{resource[:callback_url]}/actions/deprovision",
                 access_token_for(resource, identity_url(resource)))
  rescue StandardError => e
    warn "deprovisioning #{resource[:id]} failed: #{e.message}"
  end
  status 202
  content_type :json
  JSON.generate(message: "Your database is being removed.")
end
