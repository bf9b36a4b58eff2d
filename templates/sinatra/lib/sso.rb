# frozen_string_literal: true

require "digest"
require "json"
require "rack/utils"

# Heroku's single sign-on: token formulas, the timestamp window and nav-data.
# Pure functions, so they are easy to test and to reuse from another route.
module SSO
  MAX_AGE = 5 * 60   # Heroku's tokens are valid for five minutes...
  MAX_SKEW = 60      # ...and we tolerate a minute of clock skew the other way.

  module_function

  # v1: token = sha1("<provider id>:<salt>:<timestamp>")
  def token(id, salt, timestamp)
    Digest::SHA1.hexdigest("#{id}:#{salt}:#{timestamp}")
  end

  # v3: resource_token = sha1("<uuid>:<salt>:<timestamp>")
  def resource_token(uuid, salt, timestamp)
    Digest::SHA1.hexdigest("#{uuid}:#{salt}:#{timestamp}")
  end

  # v3: user_scoped_resource_token = sha256("<uuid>:<salt>:<timestamp>:<user_id>:<email>")
  def user_scoped_resource_token(uuid, salt, timestamp, user_id, email)
    Digest::SHA256.hexdigest("#{uuid}:#{salt}:#{timestamp}:#{user_id}:#{email}")
  end

  # Whole unix seconds, neither older than MAX_AGE nor further ahead than MAX_SKEW.
  def fresh?(timestamp, now: Time.now.to_i)
    return false unless timestamp.is_a?(String) && timestamp.match?(/\A\d{1,15}\z/)

    age = now - Integer(timestamp, 10)
    age <= MAX_AGE && age >= -MAX_SKEW
  end

  # True when at least one of token / resource_token is sent and every token
  # sent is right. `params` holds strings (or nil) keyed by parameter name.
  def valid?(resource, params, salt)
    timestamp = params["timestamp"]
    return false unless fresh?(timestamp)
    return false unless params["token"] || params["resource_token"]

    expected = {
      "token" => token(resource.id, salt, timestamp),
      # A resource provisioned without a uuid cannot match a v3 token.
      "resource_token" => resource.uuid && resource_token(resource.uuid, salt, timestamp),
      "user_scoped_resource_token" =>
        resource.uuid && user_scoped_resource_token(resource.uuid, salt, timestamp,
                                                    params["user_id"], params["email"])
    }
    # Check every token sent (no early exit) so timing says nothing about which failed.
    expected.reduce(true) do |ok, (name, want)|
      given = params[name]
      given.nil? ? ok : (secure_equal?(given, want) & ok)
    end
  end

  # Constant-time string comparison that does not leak the length either.
  def secure_equal?(given, expected)
    return false if given.nil? || expected.nil?

    Rack::Utils.secure_compare(Digest::SHA256.hexdigest(given), Digest::SHA256.hexdigest(expected))
  end

  # nav-data is base64url (padding optional) of JSON such as
  # {"addon":"My Addon","appname":"my-app"}. Anything else decodes to {}.
  def decode_nav_data(raw)
    return {} unless raw.is_a?(String) && !raw.empty?

    b64 = raw.tr("-_", "+/")
    b64 += "=" * (-b64.length % 4)
    data = JSON.parse(b64.unpack1("m0").force_encoding(Encoding::UTF_8))
    data.is_a?(Hash) ? data : {}
  rescue ArgumentError, JSON::ParserError, EncodingError
    {}
  end
end
