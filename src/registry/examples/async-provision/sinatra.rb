# v3: answer 202 without config at once, then finish in the background: exchange the grant
# at the identity service, set the config through the Platform API, mark it provisioned.
post "/heroku/resources" do
  data = JSON.parse(request.body.read)
  resource, created = provision_once(DB, uuid: data["uuid"], plan: data["plan"])
  if created
    callback_url = data.fetch("callback_url")
    code = data.dig("oauth_grant", "code")
    Thread.new { finish_provisioning(resource, callback_url, code) }
  end
  status 202
  content_type :json
  JSON.generate(id: resource[:id], message: "Your database is being created.")
end

def finish_provisioning(resource, callback_url, code)
  callback = URI(callback_url)
  # Heroku's identity service; kensa's loopback fake serves it on callback_url's origin.
  identity = if callback.host == "api.heroku.com"
               "https://id.heroku.com"
             else
               "#{callback.scheme}://#{callback.host}:#{callback.port}"
             end
  response = Net::HTTP.post_form(URI("#{identity}/oauth/token"),
                                 grant_type: "authorization_code", code: code,
                                 client_secret: ENV.fetch("HEROKU_CLIENT_SECRET"))
  raise "the grant exchange answered #{response.code}" unless response.is_a?(Net::HTTPSuccess)

  token = JSON.parse(response.body) # access_token, refresh_token, expires_in
  save_token(resource[:id], token)
  platform_api("PATCH", "#{callback_url}/config", token["access_token"],
               { config: [{ name: "ACME_DB_URL", value: resource[:url] }] })
  platform_api("POST", "#{callback_url}/actions/provision", token["access_token"])
rescue StandardError => e
  warn "provisioning #{resource[:id]} failed: #{e.message}"
end
