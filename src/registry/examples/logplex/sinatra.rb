require "net/http"
require "time"
require "uri"

# With "requires": ["log_input"], write to the app's log stream at log_input_url: an HTTP
# POST of octet-counted RFC 5424 frames ("<bytes> <190>1 <time> <host> <app> - - - <msg>"),
# Content-Type application/logplex-1, and a User-Agent that names the add-on. The URL's
# user-info carries the credentials.
def write_app_log(log_input_url, resource_uuid, lines)
  uri = URI(log_input_url)
  body = lines.map do |msg|
    frame = "<190>1 #{Time.now.utc.iso8601(3)} #{resource_uuid} acme-db - - - #{msg}"
    "#{frame.bytesize} #{frame}"
  end.join
  request = Net::HTTP::Post.new(uri)
  request.basic_auth(URI.decode_www_form_component(uri.user), URI.decode_www_form_component(uri.password))
  request["Content-Type"] = "application/logplex-1"
  request["Logplex-Msg-Count"] = lines.size.to_s
  request["User-Agent"] = "acme-db (https://elements.heroku.com/addons/acme-db)"
  request.body = body
  response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https") { |http| http.request(request) }
  raise "log post answered #{response.code}; fetch log_input_url again" unless response.is_a?(Net::HTTPSuccess)
end
