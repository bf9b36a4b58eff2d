# frozen_string_literal: true

require "ipaddr"
require "uri"

# Where Heroku's identity service is for a provision request's callback_url: the
# only place the OAuth client secret (and a grant code or refresh token) is ever
# sent. https://devcenter.heroku.com/articles/add-on-partner-api-reference#add-on-provision
module Identity
  HEROKU_API_HOST = "api.heroku.com"
  HEROKU_IDENTITY_URL = "https://id.heroku.com"

  module_function

  # 1. HEROKU_IDENTITY_URL when set;
  # 2. https://id.heroku.com when callback_url is https://api.heroku.com/...;
  # 3. the callback's own origin when its host is a loopback address, unless
  #    `loopback: false` (production: Heroku never sends one; kensa's local Heroku
  #    serves both on one origin while you develop);
  # 4. nil for anything else: such a provision is refused, or anyone with the
  #    manifest password could have the client secret sent to a host of theirs.
  def url_for(callback_url, override: nil, loopback: true)
    return override.to_s.strip.chomp("/") unless override.to_s.strip.empty?

    uri = URI.parse(callback_url.to_s)
    return nil unless uri.is_a?(URI::HTTP) && uri.host && !uri.host.empty?
    return HEROKU_IDENTITY_URL if uri.scheme == "https" && uri.host.downcase == HEROKU_API_HOST
    return nil unless loopback && loopback?(uri.hostname)

    port = uri.port == uri.default_port ? "" : ":#{uri.port}"
    "#{uri.scheme}://#{uri.host}#{port}"
  rescue URI::InvalidURIError
    nil
  end

  def loopback?(hostname)
    return true if hostname.to_s.downcase == "localhost"

    IPAddr.new(hostname.to_s).loopback?
  rescue IPAddr::InvalidAddressError, IPAddr::AddressFamilyError
    false
  end
end
