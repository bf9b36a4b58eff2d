require "json"
require "net/http"
require "uri"

PLATFORM_ACCEPT = "application/vnd.heroku+json; version=3"

# Every Platform API call: the add-on's own access token (never the client secret), the
# version 3 Accept header, and only URLs under the callback_url Heroku sent, such as
# "#{callback_url}/config" or "#{callback_url}/actions/provision".
def platform_api(verb, url, access_token, body = nil)
  uri = URI(url)
  request = Net::HTTP.const_get(verb.capitalize).new(uri)
  request["Authorization"] = "Bearer #{access_token}"
  request["Accept"] = PLATFORM_ACCEPT
  if body
    request["Content-Type"] = "application/json"
    request.body = JSON.generate(body)
  end
  response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https",
                                                 open_timeout: 10, read_timeout: 10) do |http|
    http.request(request)
  end
  raise "#{verb} #{uri} answered #{response.code}" unless response.is_a?(Net::HTTPSuccess)

  JSON.parse(response.body)
end
