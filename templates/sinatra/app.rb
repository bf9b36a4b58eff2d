# frozen_string_literal: true

require "sinatra/base"
require "json"
require "openssl"
require "time"
require_relative "config/addon"
require_relative "lib/body_limit"
require_relative "lib/database"
require_relative "lib/heroku_client"
require_relative "lib/identity"
require_relative "lib/job_worker"
require_relative "lib/jobs"
require_relative "lib/plans"
require_relative "lib/resources"
require_relative "lib/secret_box"
require_relative "lib/sso"

# The add-on provider service: Heroku's Add-on Partner API (provision, plan
# change, deprovision), single sign-on and the dashboard it lands on, and the
# resource API that the config var points apps at. See README.md.
class AddonApp < Sinatra::Base
  MAX_BODY_BYTES = 64 * 1024

  # Settings come from the environment (.env locally, config vars on Heroku).
  # Fail at boot, not on the first request, when one is missing or malformed.
  def self.env!(name)
    value = ENV.fetch(name, "")
    abort "#{name} is not set: load the .env written by `kensa create` (see README.md)" if value.empty?
    value
  end

  def self.optional_env(name)
    value = ENV.fetch(name, "").strip
    value.empty? ? nil : value
  end

  def self.secret_box_from_env
    SecretBox.from_env
  rescue SecretBox::KeyError => e
    abort e.message
  end

  # The session cookie's signing secret: SESSION_SECRET, or one derived from ENCRYPTION_KEY.
  def self.session_secret_from_env
    secret = optional_env("SESSION_SECRET")
    abort "SESSION_SECRET must be at least 64 characters long" if secret && secret.bytesize < 64
    secret || OpenSSL::HMAC.hexdigest("SHA512", env!("ENCRYPTION_KEY"), "session secret")
  end

  def self.async_delay_from_env
    Float(ENV.fetch("ASYNC_DELAY_SECONDS", "").strip.then { |v| v.empty? ? "0" : v })
  rescue ArgumentError
    abort "ASYNC_DELAY_SECONDS must be a number of seconds"
  end

  configure :production do
    # A dyno's disk is wiped at every restart: the embedded database would lose every resource.
    if optional_env("DATABASE_URL").nil?
      abort "DATABASE_URL is not set: add Heroku Postgres (heroku addons:create heroku-postgresql); " \
            "the embedded SQLite database under data/ does not survive a dyno restart"
    end
  end

  configure do
    set :heroku_username, env!("HEROKU_USERNAME")
    set :heroku_password, env!("HEROKU_PASSWORD")
    set :sso_salt, optional_env("SSO_SALT") # none: single sign-on is off
    set :public_url, optional_env("PUBLIC_URL")&.chomp("/")
    set :identity_url, optional_env("HEROKU_IDENTITY_URL")
    set :async_delay, async_delay_from_env

    box = secret_box_from_env
    db = Database.connect(Database.url)
    set :db, db
    set :resources, Resources.new(db, box)
    set :jobs, Jobs.new(db, box)
    set :worker, JobWorker.new(db: db, jobs: settings.jobs, resources: settings.resources,
                               heroku: HerokuClient.new(client_secret: ENV.fetch("HEROKU_CLIENT_SECRET", "")),
                               config_var: ADDON[:config_var])

    # The SSO session lives in a signed cookie: HttpOnly, SameSite=Lax, and
    # Secure whenever the request came over https (see the before filter).
    set :sessions, httponly: true, same_site: :lax
    set :session_secret, session_secret_from_env

    # Heroku's dashboard posts the SSO form from another origin on purpose; the
    # signed token authenticates it, so origin and referrer checks must not.
    set :protection, except: %i[http_origin remote_token]

    disable :absolute_redirects # "Location: /" exactly as Heroku expects
    disable :show_exceptions    # errors answer JSON below, never a debug page
    disable :raise_errors
  end

  use BodyLimit, max_bytes: MAX_BODY_BYTES

  before do
    # Heroku's router terminates TLS and says so in X-Forwarded-Proto.
    request.session_options[:secure] = request.ssl?
  end

  helpers do
    def halt_json(status, body)
      halt status, { "Content-Type" => "application/json" }, JSON.generate(body)
    end

    def resources
      settings.resources
    end

    def jobs
      settings.jobs
    end

    def config_for(resource)
      { ADDON[:config_var] => resources.config_url(resource) }
    end

    # Where the config var's URL points: PUBLIC_URL, or the address this request came to.
    def public_url
      settings.public_url || "#{request.scheme}://#{request.host_with_port}"
    end

    # Basic auth with HEROKU_USERNAME / HEROKU_PASSWORD, both always compared in constant time.
    def require_heroku!
      auth = Rack::Auth::Basic::Request.new(request.env)
      user, password = auth.credentials if auth.provided? && auth.basic?
      user_ok = SSO.secure_equal?(user.to_s, settings.heroku_username)
      password_ok = SSO.secure_equal?(password.to_s, settings.heroku_password)
      return if user_ok & password_ok

      headers "WWW-Authenticate" => %(Basic realm="#{ADDON[:name].delete('"\\')}")
      halt_json 401, message: "Authentication required: use the add-on id and password from the manifest"
    end

    # The request body as a JSON object: 400 when it is not JSON, 422 when it is not an object.
    def json_body!
      body = request.body
      body.rewind if body.respond_to?(:rewind)
      data = JSON.parse(body ? body.read.to_s : "")
      halt_json 422, message: "Request body must be a JSON object" unless data.is_a?(Hash)
      data
    rescue JSON::ParserError, EncodingError
      halt_json 400, message: "Request body is not valid JSON"
    end

    # A string field, or nil when absent; 422 when it is there with another type.
    def string_field!(data, name)
      value = data[name]
      return nil if value.nil?
      halt_json 422, message: "#{name} must be a string" unless value.is_a?(String)

      value.empty? ? nil : value
    end

    def plan!(data)
      plan = string_field!(data, "plan")
      halt_json 422, message: "Missing plan" unless plan && !plan.strip.empty?
      return plan if Plans.known?(plan)

      halt_json 422, message: "Unknown plan #{plan.inspect}: this add-on has #{Plans.names.join(', ')}"
    end

    # The identity service for the request's callback_url (lib/identity.rb); 422
    # when it would be an arbitrary host, before anything is created.
    def identity_url!(callback_url)
      Identity.url_for(callback_url, override: settings.identity_url, loopback: !settings.production?) or
        halt_json 422, message: "callback_url #{callback_url.inspect} is not Heroku's Platform API " \
                                "(https://api.heroku.com) nor a loopback address in development; set " \
                                "HEROKU_IDENTITY_URL to trust another identity service"
    end

    # The v3 oauth_grant an asynchronous provision needs: [code, expires_at].
    def oauth_grant!(data)
      grant = data["oauth_grant"]
      code = grant["code"] if grant.is_a?(Hash)
      unless code.is_a?(String) && !code.empty?
        halt_json 422, message: "The #{Plans::ASYNC} plan provisions asynchronously (v3): " \
                                "the request needs a callback_url and an oauth_grant"
      end
      expires_at = begin
        Time.iso8601(grant["expires_at"].to_s)
      rescue ArgumentError
        nil
      end
      [code, expires_at]
    end

    # Runs the block once the response has been written: Puma calls the
    # "rack.after_reply" hooks then; other servers (and tests) get it at once.
    def after_response(&block)
      hooks = request.env["rack.after_reply"]
      hooks.is_a?(Array) ? hooks << block : block.call
    end

    def require_sso!
      return if settings.sso_salt

      halt_json 404, message: "Single sign-on is not enabled: set SSO_SALT (the manifest's api.sso_salt)"
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
      require_sso!
      resource = sso["resource_id"] ? resources.find_by_uuid(sso["resource_id"]) : sso["id"] && resources.find(sso["id"])
      halt 404, { "Content-Type" => "text/plain" }, "No such resource\n" if resource.nil? || resource.deprovisioned?
      unless SSO.valid?(resource, sso, settings.sso_salt)
        halt 403, { "Content-Type" => "text/plain" }, "Invalid or expired token\n"
      end

      session.clear
      request.session_options[:renew] = true # a fresh session on every login
      session[:resource_id] = resource.id
      session[:email] = sso["email"]
      session[:nav_data] = sso["nav-data"]
      # Heroku's navigation bar reads this cookie (so not HttpOnly): the raw nav-data.
      if sso["nav-data"]
        response.set_cookie("heroku-nav-data", value: sso["nav-data"], path: "/", same_site: :lax,
                                               secure: request.ssl?)
      end
      redirect "/", 302 # 302, not the 303 Sinatra picks after a POST: what Heroku expects
    end

    def h(text)
      Rack::Utils.escape_html(text.to_s)
    end
  end

  # --- the Add-on Partner API ------------------------------------------------------
  # https://devcenter.heroku.com/articles/add-on-partner-api-reference

  # Provision. The same uuid again gets the same resource (Heroku delivers at
  # least once); a deprovisioned uuid gets 410.
  post "/heroku/resources" do
    require_heroku!
    data = json_body!
    plan = plan!(data)
    uuid = string_field!(data, "uuid")
    heroku_id = string_field!(data, "heroku_id")
    region = string_field!(data, "region")
    callback_url = string_field!(data, "callback_url")
    options = data["options"].nil? ? {} : data["options"]
    halt_json 422, message: "options must be an object" unless options.is_a?(Hash)
    identity_url = identity_url!(callback_url) if callback_url
    async = Plans.async?(plan)
    if async
      halt_json 422, message: "The #{plan} plan needs a callback_url (v3)" unless callback_url
      grant_code, grant_expires_at = oauth_grant!(data)
    end

    resource, created = settings.db.transaction do
      resource, created = resources.provision(
        uuid: uuid, plan: plan, public_url: public_url, heroku_id: heroku_id, region: region,
        callback_url: callback_url, options: options, async: async
      )
      if created && async
        jobs.create(resource_id: resource.id, callback_url: callback_url, identity_url: identity_url,
                    grant_code: grant_code, grant_expires_at: grant_expires_at,
                    run_at: Time.now + settings.async_delay)
      end
      [resource, created]
    end

    case resource.state
    when "deprovisioned"
      halt_json 410, message: "Resource #{uuid} was deprovisioned; a uuid is never provisioned twice"
    when "provisioning"
      # Asynchronous (v3): {id, message} now; the job (lib/job_worker.rb) sets the
      # config through callback_url and marks the add-on provisioned afterwards.
      worker = settings.worker
      after_response { worker.wake } if created
      halt_json 202, id: resource.id, message: "#{ADDON[:name]} is being provisioned"
    when "failed"
      halt_json 422, message: "Provisioning #{ADDON[:name]} failed; the service's log says why"
    end

    status created ? 201 : 200
    content_type :json
    JSON.generate(id: resource.id, config: config_for(resource),
                  message: created ? "#{ADDON[:name]} is ready" : "Already provisioned")
  end

  # Plan change: the new plan's limits apply at once; the current plan again is a no-op.
  put "/heroku/resources/:id" do
    require_heroku!
    plan = plan!(json_body!)
    resource = resources.find(params[:id])
    halt_json 404, message: "No such resource" unless resource
    halt_json 410, message: "Resource #{resource.id} was deprovisioned" if resource.deprovisioned?

    message = "Already on plan #{plan}"
    if resource.plan != plan
      resource = resources.change_plan(resource.id, plan)
      halt_json 410, message: "Resource #{params[:id]} was deprovisioned" unless resource
      message = "Plan changed to #{plan}"
    end
    content_type :json
    JSON.generate(config: config_for(resource), message: message)
  end

  # Deprovision: the credentials stop working at once; the row stays (410 for a
  # later provision of its uuid or a second DELETE).
  delete "/heroku/resources/:id" do
    require_heroku!
    notify_heroku = false
    resource = settings.db.transaction do
      gone = resources.deprovision(params[:id])
      notify_heroku = jobs.request_deprovision(gone.id) if gone
      gone
    end
    unless resource
      halt_json 410, message: "Resource #{params[:id]} is already deprovisioned" if resources.find(params[:id])
      halt_json 404, message: "No such resource"
    end

    if notify_heroku
      # Asynchronous (v3): 202 now; the job calls POST <callback_url>/actions/deprovision.
      worker = settings.worker
      after_response { worker.wake }
      halt_json 202, message: "Deprovisioning #{ADDON[:name]}"
    end
    status 204
    body ""
  end

  # --- single sign-on: the legacy GET (id in the path) and the form POST ------------------
  # https://devcenter.heroku.com/articles/add-on-single-sign-on

  get "/heroku/resources/:id" do
    sso_login(sso_params.merge("id" => params[:id]))
  end

  post "/sso/login" do
    sso_login(sso_params)
  end

  get "/" do
    resource = session[:resource_id] && resources.find(session[:resource_id])
    if resource.nil? || resource.deprovisioned?
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

  # --- the resource API: what the config var's URL gives an app ---------------------------

  # GET /api/resource with Basic auth <resource id>:<token> (both in the URL).
  get "/api/resource" do
    auth = Rack::Auth::Basic::Request.new(request.env)
    id, token = auth.credentials if auth.provided? && auth.basic?
    resource = id && resources.authenticate(id, token)
    unless resource
      headers "WWW-Authenticate" => %(Basic realm="#{ADDON[:name].delete('"\\')} API")
      halt_json 401, message: "Invalid or revoked credentials: use the URL in #{ADDON[:config_var]}"
    end

    limits = Plans.limits(resource.plan)
    calls = resources.count_call(resource.id, limits["api_calls"])
    unless calls
      halt_json 401, message: "Invalid or revoked credentials" if resources.find(resource.id).deprovisioned?
      halt_json 429, message: "Plan #{resource.plan} allows #{limits['api_calls']} API calls, all used: " \
                              "change to a bigger plan"
    end
    content_type :json
    JSON.generate(id: resource.id, plan: resource.plan, status: resource.state, limits: limits,
                  usage: { api_calls: calls })
  end

  # Unknown routes, unparsable query strings and bugs alike answer JSON with the
  # status Sinatra chose (404, 400, 500). Responses we halted ourselves pass untouched.
  error Sinatra::NotFound, Sinatra::BadRequest, Exception do
    content_type :json
    JSON.generate(message: Rack::Utils::HTTP_STATUS_CODES.fetch(response.status, "Error"))
  end
end
