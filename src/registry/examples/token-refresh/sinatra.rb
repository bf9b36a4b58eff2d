# Access tokens expire (expires_in seconds; about eight hours at Heroku). Check the stored
# expiry before every call, and trade the refresh token for a new access token when it
# has passed (or is a minute from passing).
def access_token_for(resource, identity_url)
  return resource[:access_token] if Time.now < resource[:token_expires_at] - 60

  response = Net::HTTP.post_form(URI("#{identity_url}/oauth/token"),
                                 grant_type: "refresh_token",
                                 refresh_token: resource[:refresh_token],
                                 client_secret: ENV.fetch("HEROKU_CLIENT_SECRET"))
  raise "the token refresh answered #{response.code}" unless response.is_a?(Net::HTTPSuccess)

  token = JSON.parse(response.body)
  resource[:access_token] = token["access_token"]
  resource[:refresh_token] = token["refresh_token"] || resource[:refresh_token]
  resource[:token_expires_at] = Time.now + token["expires_in"].to_i
  save_token(resource[:id], token)
  resource[:access_token]
end
