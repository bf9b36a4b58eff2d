# frozen_string_literal: true

require "json"
require "logger"
require "net/http"
require "openssl"
require "uri"

# Asynchronous provisioning (v3). After the provision route has answered 202,
# a background thread
#   1. exchanges the request's oauth_grant code for an access token at Heroku's
#      identity service (POST <identity>/oauth/token),
#   2. sets the config through the Platform API (PATCH <callback_url>/config),
#   3. marks the add-on provisioned (POST <callback_url>/actions/provision);
# an asynchronous deprovision calls POST <callback_url>/actions/deprovision.
#
# Each call is tried up to `tries` times on network errors and 5xx answers, with
# a doubling pause between tries, and never again after a 4xx (the request
# itself is wrong: a used grant code, a bad token). Failures are logged with
# the step and the status, never with the client secret or a token.
#
# Threads are fine for a template; with a job queue (Sidekiq and the like)
# call #provision and #deprovision from a job instead of *_later.
class AsyncProvisioner
  API_ACCEPT = "application/vnd.heroku+json; version=3"
  HEROKU_API_HOST = "api.heroku.com"
  HEROKU_IDENTITY_URL = "https://id.heroku.com"
  # Net::OpenTimeout and Net::ReadTimeout are Timeout::Errors, EOFError an IOError.
  NETWORK_ERRORS = [SystemCallError, IOError, SocketError, Timeout::Error, OpenSSL::SSL::SSLError,
                    Net::HTTPBadResponse].freeze

  # A call that failed for good (a 4xx, or a 5xx / network error on the last try).
  class CallFailed < StandardError; end

  # A 5xx answer: worth another try.
  class ServerError < StandardError; end

  # Where the identity service is, the same rule in every kensa template:
  # HEROKU_IDENTITY_URL when set; https://id.heroku.com for callbacks to
  # api.heroku.com (real Heroku); otherwise the origin of callback_url (kensa's
  # loopback fake of Heroku serves both on one origin).
  def self.identity_url(callback_url, override = nil)
    return override.to_s.chomp("/") unless override.to_s.strip.empty?

    uri = URI(callback_url)
    return HEROKU_IDENTITY_URL if uri.host.to_s.downcase == HEROKU_API_HOST

    port = uri.port == uri.default_port ? "" : ":#{uri.port}"
    "#{uri.scheme}://#{uri.host}#{port}"
  end

  attr_reader :client_secret

  # client_secret: the add-on's OAuth client secret (HEROKU_CLIENT_SECRET);
  # identity_url: HEROKU_IDENTITY_URL, or nil/"" for the rule above.
  def initialize(client_secret:, identity_url: nil, logger: Logger.new($stderr, progname: "async"),
                 tries: 3, backoff: 0.5, timeout: 10)
    @client_secret = client_secret.to_s
    @identity_url = identity_url
    @logger = logger
    @tries = tries
    @backoff = backoff
    @timeout = timeout
  end

  # Runs #provision in a thread of its own; returns the thread.
  def provision_later(store, id, grant_code, config)
    background("provisioning #{id}") { provision(store, id, grant_code, config) }
  end

  # Runs #deprovision in a thread of its own; returns the thread.
  def deprovision_later(resource)
    background("deprovisioning #{resource.id}") { deprovision(resource) }
  end

  # The whole v3 flow for one stored resource; its state ends "provisioned" or "failed".
  def provision(store, id, grant_code, config)
    resource = store.find(id) or return
    raise CallFailed, "HEROKU_CLIENT_SECRET is not set: the grant cannot be exchanged" if @client_secret.empty?

    callback_url = resource.callback_url
    tokens = exchange_grant(callback_url, grant_code)
    stored = store.update(id) do |r|
      r.access_token = tokens[:access_token]
      r.refresh_token = tokens[:refresh_token]
      r.token_expires_at = tokens[:expires_at]
    end
    return gone(id) unless stored

    body = JSON.generate(config: config.map { |name, value| { name: name, value: value } })
    call("PATCH config", Net::HTTP::Patch, "#{callback_url.chomp('/')}/config", body,
         api_headers(tokens[:access_token]).merge("Content-Type" => "application/json"))
    return gone(id) unless store.find(id)

    call("POST actions/provision", Net::HTTP::Post, "#{callback_url.chomp('/')}/actions/provision", nil,
         api_headers(tokens[:access_token]))
    return gone(id) unless store.update(id) { |r| r.state = "provisioned" }

    @logger.info("resource #{id}: provisioned")
  rescue CallFailed => e
    store.update(id) { |r| r.state = "failed" }
    @logger.error("resource #{id}: asynchronous provisioning failed: #{e.message}")
  end

  # Tells Heroku a (removed) resource is gone, with the resource's token,
  # refreshed first when it has expired.
  def deprovision(resource)
    token = current_token(resource)
    call("POST actions/deprovision", Net::HTTP::Post,
         "#{resource.callback_url.chomp('/')}/actions/deprovision", nil, api_headers(token))
    @logger.info("resource #{resource.id}: deprovisioned")
  rescue CallFailed => e
    @logger.error("resource #{resource.id}: asynchronous deprovisioning failed: #{e.message}")
  end

  private

  # A DELETE came while the job ran: the deprovision route has taken over.
  def gone(id)
    @logger.info("resource #{id}: deprovisioned while provisioning; stopped")
    nil
  end

  def background(what)
    Thread.new do
      yield
    rescue StandardError => e
      # The class only: an unexpected error's message is not checked for secrets.
      @logger.error("#{what}: unexpected #{e.class}")
    end
  end

  def api_headers(token)
    { "Authorization" => "Bearer #{token}", "Accept" => API_ACCEPT }
  end

  # POST <identity>/oauth/token with the grant code; the tokens with their expiry.
  def exchange_grant(callback_url, code)
    token_request("grant exchange", callback_url,
                  grant_type: "authorization_code", code: code, client_secret: @client_secret)
  end

  # Access tokens last hours (8 at Heroku); a deprovision may come months later.
  def current_token(resource)
    expired = resource.token_expires_at && Time.now >= resource.token_expires_at - 60
    return resource.access_token unless expired && resource.refresh_token

    token_request("token refresh", resource.callback_url, grant_type: "refresh_token",
                                                           refresh_token: resource.refresh_token,
                                                           client_secret: @client_secret)[:access_token]
  end

  def token_request(step, callback_url, form)
    url = "#{self.class.identity_url(callback_url, @identity_url)}/oauth/token"
    answer = call(step, Net::HTTP::Post, url, URI.encode_www_form(form),
                  "Content-Type" => "application/x-www-form-urlencoded", "Accept" => "application/json")
    token = answer["access_token"] if answer.is_a?(Hash)
    raise CallFailed, "#{step} answered no access_token" unless token.is_a?(String) && !token.empty?

    expires_in = answer["expires_in"]
    { access_token: token, refresh_token: answer["refresh_token"],
      expires_at: expires_in.is_a?(Integer) ? Time.now + expires_in : nil }
  end

  # One HTTP call with retries; the parsed JSON answer (nil when there is none).
  def call(step, request_class, url, body, headers)
    tries = 0
    begin
      tries += 1
      response = send_request(request_class, url, body, headers)
      status = response.code.to_i
      return parse_json(response.body) if status.between?(200, 299)

      failure = "#{step} answered #{status}#{reason(response.body)}"
      raise ServerError, failure if status >= 500

      raise CallFailed, failure # 4xx (and anything else): trying again would not help
    rescue ServerError, *NETWORK_ERRORS => e
      failure = e.is_a?(ServerError) ? e.message : "#{step} failed: #{e.class}: #{e.message}"
      raise CallFailed, "#{failure} (gave up after #{tries} tries)" if tries >= @tries

      @logger.warn("#{failure}; trying again (#{tries + 1} of #{@tries})")
      sleep(@backoff * (2**(tries - 1)))
      retry
    end
  end

  def send_request(request_class, url, body, headers)
    uri = URI(url)
    request = request_class.new(uri, headers)
    if body
      request.body = body
    else
      request["Content-Length"] = "0" # an empty POST, said so explicitly
    end
    Net::HTTP.start(uri.hostname, uri.port, use_ssl: uri.scheme == "https", open_timeout: @timeout,
                                            read_timeout: @timeout, write_timeout: @timeout) do |http|
      http.request(request)
    end
  end

  def parse_json(text)
    text.to_s.empty? ? nil : JSON.parse(text)
  rescue JSON::ParserError
    nil
  end

  # Heroku's error answers are {"id", "message"}: the message says why. Nothing else
  # of a body is logged, and never the client secret, should a server echo it.
  def reason(text)
    message = parse_json(text)
    message = message["message"] if message.is_a?(Hash)
    return "" unless message.is_a?(String) && !message.empty?

    message = message.gsub(@client_secret, "[FILTERED]") unless @client_secret.empty?
    ": #{message[0, 200]}"
  end
end
