# PUT /heroku/resources/:id: a change to the current plan is a no-op answered 200; a quick
# change answers 200 with the new config; a slow one answers 202 and sets the config
# through the Platform API when it is done.
put "/heroku/resources/:id" do
  data = JSON.parse(request.body.read)
  plan = plan!(data)
  resource = DB[:resources].first(id: params[:id]) or
    halt 404, { "Content-Type" => "application/json" }, JSON.generate(message: "No resource #{params[:id]}")
  content_type :json
  return JSON.generate(message: "Already on #{plan}.") if plan == resource[:plan]

  unless needs_migration?(resource[:plan], plan)
    DB[:resources].where(id: resource[:id]).update(plan: plan)
    return JSON.generate(config: config_for(resource), message: "Now on #{plan}.")
  end

  Thread.new do
    moved = migrate(resource, plan)
    config = config_for(moved).map { |name, value| { name: name, value: value } }
    platform_api("PATCH", "#{moved[:callback_url]}/config", access_token_for(moved, identity_url(moved)),
                 { config: config })
  rescue StandardError => e
    warn "plan change of #{resource[:id]} failed: #{e.message}"
  end
  status 202
  JSON.generate(message: "Moving to #{plan}; your config will be updated.")
end
