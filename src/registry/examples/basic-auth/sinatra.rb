require "digest"
require "json"
require "rack/utils"

helpers do
  # Constant time whatever the lengths: compare digests, not the strings themselves.
  def secure_equal?(given, expected)
    Rack::Utils.secure_compare(Digest::SHA256.hexdigest(given.to_s), Digest::SHA256.hexdigest(expected.to_s))
  end

  # Heroku's calls carry Basic auth: user = the add-on id, password = the manifest's api.password.
  def require_heroku!
    auth = Rack::Auth::Basic::Request.new(request.env)
    user, password = auth.credentials if auth.provided? && auth.basic?
    user_ok = secure_equal?(user, ENV.fetch("HEROKU_USERNAME"))
    password_ok = secure_equal?(password, ENV.fetch("HEROKU_PASSWORD"))
    return if user_ok & password_ok # `&`: both comparisons always run

    headers "WWW-Authenticate" => 'Basic realm="Acme DB"'
    halt 401, { "Content-Type" => "application/json" }, JSON.generate(message: "Unauthorized")
  end
end

# Provision, plan change and deprovision all need it; SSO does not (the browser signs on).
before("/heroku/resources*") { require_heroku! }
