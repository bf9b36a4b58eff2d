# frozen_string_literal: true

require "json"
require "net/http"
require "openssl"
require "time"
require "uri"

# The calls a provider makes to Heroku (Net::HTTP, a deadline on every one):
# the OAuth grant exchange and token refresh at the identity service, and the
# Platform API for Partners on a resource's callback_url.
# https://devcenter.heroku.com/articles/add-on-partner-api-reference
#
# Each method returns on a 2xx answer and raises otherwise: Retry for what may
# work later (network errors, 429, 5xx; `retry_after` from the Retry-After
# header), Refused for the rest (a used grant code, a bad token). Messages name
# the call and status, never the client secret or a token.
class HerokuClient
  API_ACCEPT = "application/vnd.heroku+json; version=3"
  NETWORK_ERRORS = [SystemCallError, IOError, SocketError, Timeout::Error, OpenSSL::SSL::SSLError,
                    Net::HTTPBadResponse].freeze

  class Error < StandardError; end

  class Refused < Error; end

  class Retry < Error
    attr_reader :retry_after

    def initialize(message, retry_after: nil)
      super(message)
      @retry_after = retry_after
    end
  end

  Tokens = Struct.new(:access_token, :refresh_token, :expires_at, keyword_init: true) do
    def inspect
      "#<tokens expires_at=#{expires_at.inspect}>"
    end
    alias_method :to_s, :inspect
  end

  def initialize(client_secret:, timeout: 10)
    @client_secret = client_secret.to_s
    @timeout = timeout
  end

  # POST <identity>/oauth/token grant_type=authorization_code
  def exchange_grant(identity_url, code)
    token_request("grant exchange", identity_url, grant_type: "authorization_code", code: code)
  end

  # POST <identity>/oauth/token grant_type=refresh_token
  def refresh(identity_url, refresh_token)
    tokens = token_request("token refresh", identity_url, grant_type: "refresh_token", refresh_token: refresh_token)
    tokens.refresh_token ||= refresh_token # Heroku may keep the refresh token as it is
    tokens
  end

  # PATCH <callback_url>/config {"config": [{"name", "value"}]}
  def set_config(callback_url, token, config)
    body = JSON.generate(config: config.map { |name, value| { name: name, value: value } })
    call("PATCH config", Net::HTTP::Patch, "#{callback_url.chomp('/')}/config", body,
         api_headers(token).merge("Content-Type" => "application/json"))
  end

  # POST <callback_url>/actions/provision
  def mark_provisioned(callback_url, token)
    call("POST actions/provision", Net::HTTP::Post, "#{callback_url.chomp('/')}/actions/provision", nil,
         api_headers(token))
  end

  # POST <callback_url>/actions/deprovision
  def mark_deprovisioned(callback_url, token)
    call("POST actions/deprovision", Net::HTTP::Post, "#{callback_url.chomp('/')}/actions/deprovision", nil,
         api_headers(token))
  end

  private

  def api_headers(token)
    { "Authorization" => "Bearer #{token}", "Accept" => API_ACCEPT }
  end

  def token_request(step, identity_url, form)
    raise Refused, "HEROKU_CLIENT_SECRET is not set: #{step} impossible" if @client_secret.empty?

    answer = call(step, Net::HTTP::Post, "#{identity_url.chomp('/')}/oauth/token",
                  URI.encode_www_form(form.merge(client_secret: @client_secret)),
                  "Content-Type" => "application/x-www-form-urlencoded", "Accept" => "application/json")
    token = answer["access_token"] if answer.is_a?(Hash)
    raise Refused, "#{step} answered no access_token" unless token.is_a?(String) && !token.empty?

    expires_in = answer["expires_in"]
    refresh = answer["refresh_token"]
    Tokens.new(access_token: token, refresh_token: refresh.is_a?(String) && !refresh.empty? ? refresh : nil,
               expires_at: expires_in.is_a?(Integer) ? Time.now + expires_in : nil)
  end

  # One HTTP exchange; the parsed JSON answer (nil when there is none).
  def call(step, request_class, url, body, headers)
    response = send_request(request_class, url, body, headers)
    status = response.code.to_i
    return parse_json(response.body) if status.between?(200, 299)

    failure = "#{step} answered #{status}#{reason(response.body)}"
    raise Retry.new(failure, retry_after: retry_after(response["Retry-After"])) if status == 429 || status >= 500

    raise Refused, failure
  rescue *NETWORK_ERRORS => e
    raise Retry, "#{step} failed: #{e.class}"
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

  # Seconds, or an HTTP date; nil when absent or unreadable.
  def retry_after(value)
    return nil if value.nil? || value.strip.empty?
    return Integer(value.strip, 10) if value.strip.match?(/\A\d+\z/)

    [Time.httpdate(value) - Time.now, 0].max
  rescue ArgumentError
    nil
  end

  def parse_json(text)
    text.to_s.strip.empty? ? nil : JSON.parse(text)
  rescue JSON::ParserError
    nil
  end

  # Heroku's error answers are {"id", "message"}: the message says why. Nothing
  # else of a body is kept, and never the client secret, should a server echo it.
  def reason(text)
    message = parse_json(text)
    message = message["message"] if message.is_a?(Hash)
    return "" unless message.is_a?(String) && !message.empty?

    message = message.gsub(@client_secret, "[FILTERED]") unless @client_secret.empty?
    ": #{message[0, 200]}"
  end
end
