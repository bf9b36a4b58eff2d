# frozen_string_literal: true

require "sinatra/base"
require "json"
require "openssl"
require_relative "config/addon"
require_relative "lib/async_provisioner"
require_relative "lib/resource_store"
require_relative "lib/sso"

# The add-on provider service: Heroku's provisioning API, single sign-on, and
# the dashboard an SSO session lands on. See README.md for how to run and test it.
class AddonApp < Sinatra::Base
  # Resources on this plan are provisioned asynchronously (v3): 202 first, the
  # config later through Heroku's Platform API. Every other plan is synchronous.
  ASYNC_PLAN = "async"

  # Settings come from the environment (.env locally, config vars on Heroku).
  # Fail at boot, not on the first request, when one is missing.
  def self.env!(name)
    value = ENV.fetch(name, "")
    abort "#{name} is not set: load the .env written by `kensa create` (see README.md)" if value.empty?
    value
  end

  def self.session_secret_from_env
    secret = ENV.fetch("SESSION_SECRET", "")
    return OpenSSL::HMAC.hexdigest("SHA512", env!("SSO_SALT"), "session secret") if secret.empty?
    abort "SESSION_SECRET must be at least 64 characters long" if secret.bytesize < 64

    secret
  end

  configure do
    set :heroku_username, env!("HEROKU_USERNAME")
    set :heroku_password, env!("HEROKU_PASSWORD")
    set :sso_salt, env!("SSO_SALT")
    port = ENV.fetch("PORT", ADDON[:default_port])
    public_url = ENV.fetch("PUBLIC_URL", "")
    set :public_url, (public_url.empty? ? "http://localhost:#{port}" : public_url).chomp("/")
    set :store, ResourceStore.new
    # Read when an async job runs, not required at boot: only the async plan needs them.
    set :async_provisioner, AsyncProvisioner.new(client_secret: ENV.fetch("HEROKU_CLIENT_SECRET", ""),
                                                 identity_url: ENV.fetch("HEROKU_IDENTITY_URL", ""))

    # The SSO session lives in a signed cookie (Sinatra 4 insists on a 64+ byte
    # secret); Secure whenever the service is reached over https.
    set :sessions, httponly: true, same_site: :lax, secure: settings.public_url.start_with?("https:")
    set :session_secret, session_secret_from_env

    # Heroku's dashboard posts the SSO form from another origin on purpose; the
    # signed token authenticates it, so origin and referrer checks must not.
    set :protection, except: %i[http_origin remote_token]

    disable :absolute_redirects # "Location: /" exactly as Heroku expects
    disable :show_exceptions    # errors answer JSON below, never a debug page
    disable :raise_errors
  end

  helpers do
    def halt_json(status, body)
      halt status, { "Content-Type" => "application/json" }, JSON.generate(body)
    end

    def store
      settings.store
    end

    def config_for(resource)
      { ADDON[:config_var] => "#{settings.public_url}/resources/#{resource.id}" }
    end

    # Basic auth with HEROKU_USERNAME / HEROKU_PASSWORD, both always compared in constant time.
    def require_heroku!
      auth = Rack::Auth::Basic::Request.new(request.env)
      user, password = auth.credentials if auth.provided? && auth.basic?
      user_ok = SSO.secure_equal?(user.to_s, settings.heroku_username)
      password_ok = SSO.secure_equal?(password.to_s, settings.heroku_password)
      return if user_ok & password_ok

      realm = ADDON[:name].delete('"\\')
      headers "WWW-Authenticate" => %(Basic realm="#{realm}")
      halt_json 401, message: "Authentication required: use the add-on id and password from the manifest"
    end

    # The request body as a JSON object with a non-empty "plan".
    def json_request
      body = request.body
      body.rewind if body.respond_to?(:rewind)
      data = JSON.parse(body ? body.read.to_s : "")
      halt_json 422, message: "Request body must be a JSON object" unless data.is_a?(Hash)
      plan = data["plan"]
      halt_json 422, message: "Missing plan" unless plan.is_a?(String) && !plan.strip.empty?
      data
    rescue JSON::ParserError, EncodingError
      halt_json 400, message: "Request body is not valid JSON"
    end

    # SSO parameters as strings; anything else (arrays, nested hashes) counts as absent.
    def sso_params
      %w[id token timestamp resource_id resource_token user_scoped_resource_token
         user_id email nav-data].to_h do |name|
        value = params[name]
        [name, value.is_a?(String) && !value.empty? ? value : nil]
      end
    end

    # Finds the resource (by Heroku's uuid when given, else by our id), checks
    # the tokens, starts the session and sends the browser to the dashboard.
    def sso_login(sso)
      resource = sso["resource_id"] ? store.find_by_uuid(sso["resource_id"]) : sso["id"] && store.find(sso["id"])
      halt 404, { "Content-Type" => "text/plain" }, "No such resource\n" unless resource
      unless SSO.valid?(resource, sso, settings.sso_salt)
        halt 403, { "Content-Type" => "text/plain" }, "Invalid or expired token\n"
      end

      session.clear
      request.session_options[:renew] = true # a fresh session on every login
      session[:resource_id] = resource.id
      session[:email] = sso["email"]
      session[:nav_data] = sso["nav-data"]
      # Heroku's navigation bar reads this cookie: it carries the raw nav-data.
      response.set_cookie("heroku-nav-data", value: sso["nav-data"], path: "/") if sso["nav-data"]
      redirect "/", 302 # 302, not the 303 Sinatra picks after a POST: what Heroku expects
    end

    # The async plan needs what a v3 request carries: an http(s) callback_url and
    # an oauth_grant code. Returns the code; 422 when either is missing.
    def async_grant_code!(data)
      grant = data["oauth_grant"]
      code = grant["code"] if grant.is_a?(Hash)
      callback = data["callback_url"]
      uri = URI.parse(callback) if callback.is_a?(String)
      return code if code.is_a?(String) && !code.empty? && uri.is_a?(URI::HTTP) && uri.host && !uri.host.empty?

      halt_json 422, message: "The #{ASYNC_PLAN} plan provisions asynchronously (v3): " \
                              "the request needs a callback_url and an oauth_grant"
    rescue URI::InvalidURIError
      halt_json 422, message: "callback_url is not a URL"
    end

    # Runs the block once the response has been written: Puma calls the
    # "rack.after_reply" hooks then; other servers (and tests) get it at once.
    def after_response(&block)
      hooks = request.env["rack.after_reply"]
      hooks.is_a?(Array) ? hooks << block : block.call
    end

    def h(text)
      Rack::Utils.escape_html(text.to_s)
    end
  end

  # Provision
  post "/heroku/resources" do
    require_heroku!
    data = json_request
    uuid = data["uuid"].is_a?(String) && !data["uuid"].empty? ? data["uuid"] : nil
    options = data["options"].is_a?(Hash) ? data["options"] : {}
    async = data["plan"] == ASYNC_PLAN
    grant_code = async_grant_code!(data) if async
    resource, created = store.provision(uuid: uuid, plan: data["plan"], region: data["region"],
                                        callback_url: data["callback_url"], options: options, async: async)
    content_type :json

    if resource.async && resource.state != "provisioned"
      # Asynchronous (v3): {id, message} now; once the 202 is sent, a background
      # thread exchanges the grant, sets the config through callback_url and marks
      # the add-on provisioned (lib/async_provisioner.rb). Only the request that
      # created the resource starts it: a redelivered uuid gets the same id.
      if created
        provisioner = settings.async_provisioner
        resources = store
        config = config_for(resource)
        after_response { provisioner.provision_later(resources, resource.id, grant_code, config) }
      end
      status 202
      message = if resource.state == "failed"
                  "Provisioning #{ADDON[:name]} did not complete"
                else
                  "#{ADDON[:name]} is being provisioned"
                end
      JSON.generate(id: resource.id, message: message)
    else
      # Synchronous provisioning (or a replay once an async one is done): the config goes back now.
      status created ? 201 : 200
      JSON.generate(id: resource.id, config: config_for(resource),
                    message: created ? "#{ADDON[:name]} is ready" : "Already provisioned")
    end
  end

  # Plan change
  put "/heroku/resources/:id" do
    require_heroku!
    data = json_request
    resource = store.change_plan(params[:id], data["plan"])
    halt_json 404, message: "No such resource" unless resource

    content_type :json
    JSON.generate(config: config_for(resource), message: "Plan changed to #{resource.plan}")
  end

  # Deprovision
  delete "/heroku/resources/:id" do
    require_heroku!
    resource = store.delete(params[:id])
    halt_json 404, message: "No such resource" unless resource

    if resource.async && resource.access_token
      # Asynchronous (v3): 202 now, then POST <callback_url>/actions/deprovision
      # with the resource's token once the response is sent.
      provisioner = settings.async_provisioner
      after_response { provisioner.deprovision_later(resource) }
      status 202
      content_type :json
      JSON.generate(message: "Deprovisioning #{ADDON[:name]}")
    else
      # Synchronous, and async resources whose grant was never exchanged (no token
      # to call Heroku back with): gone now.
      status 204
      body ""
    end
  end

  # Single sign-on: the legacy GET (id in the path) and the form POST.
  get "/heroku/resources/:id" do
    sso_login(sso_params.merge("id" => params[:id]))
  end

  post "/sso/login" do
    sso_login(sso_params)
  end

  get "/" do
    resource = session[:resource_id] && store.find(session[:resource_id])
    unless resource
      session.clear
      halt 403, { "Content-Type" => "text/plain" },
           "Not logged in: log in through Heroku (open the add-on from your app's dashboard).\n"
    end

    nav = SSO.decode_nav_data(session[:nav_data])
    erb :dashboard, locals: {
      resource: resource,
      email: session[:email],
      addon_name: nav["addon"].is_a?(String) ? nav["addon"] : nil,
      app_name: nav["appname"].is_a?(String) ? nav["appname"] : nil
    }
  end

  # Unknown routes, unparsable query strings and bugs alike answer JSON with the
  # status Sinatra chose (404, 400, 500). Responses we halted ourselves pass untouched.
  error Sinatra::NotFound, Sinatra::BadRequest, Exception do
    content_type :json
    JSON.generate(message: Rack::Utils::HTTP_STATUS_CODES.fetch(response.status, "Error"))
  end
end
