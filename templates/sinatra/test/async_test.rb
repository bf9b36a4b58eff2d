# frozen_string_literal: true

require_relative "test_helper"
require_relative "fake_heroku"
require "stringio"

# Asynchronous provisioning (v3) against a fake Heroku on loopback.
class AsyncTest < Minitest::Test
  include Rack::Test::Methods

  CONFIG_VAR = ADDON[:config_var]
  CLIENT_SECRET = "client-secret-for-tests"
  API_ACCEPT = "application/vnd.heroku+json; version=3"

  def app
    AddonApp
  end

  def setup
    @fake = FakeHeroku.new
    @log = StringIO.new
    AddonApp.set :store, ResourceStore.new
    use_provisioner
    basic_authorize "test-addon", "test-password"
  end

  def teardown
    @fake.stop
  end

  # Short pauses between tries keep the retry tests fast.
  def use_provisioner(identity_url: nil, client_secret: CLIENT_SECRET)
    AddonApp.set :async_provisioner,
                 AsyncProvisioner.new(client_secret: client_secret, identity_url: identity_url,
                                      logger: Logger.new(@log), tries: 3, backoff: 0.01, timeout: 2)
  end

  def store
    AddonApp.store
  end

  def json
    JSON.parse(last_response.body)
  end

  def provision_async(uuid = SecureRandom.uuid, code: SecureRandom.uuid, callback_url: @fake.callback_url(uuid), env: {})
    body = { uuid: uuid, name: "acme-inc-1", plan: "async", region: "amazon-web-services::us-east-1",
             callback_url: callback_url, options: {},
             oauth_grant: { code: code, expires_at: (Time.now + 300).utc.iso8601, type: "authorization_code" } }
    post "/heroku/resources", JSON.generate(body), env.merge("CONTENT_TYPE" => "application/json")
    json
  end

  def wait_for_state(id, state, timeout: 5)
    @fake.wait_for(timeout: timeout) { store.find(id)&.state == state }
  end

  def wait_for_path(path, count: 1)
    @fake.wait_for { |requests| requests.count { |r| r.path == path } >= count }
  end

  def assert_api_call(request, method, token)
    assert_equal method, request.method
    assert_equal "Bearer #{token}", request.headers["authorization"]
    assert_equal API_ACCEPT, request.headers["accept"]
  end

  def assert_log_keeps_secrets
    refute_includes @log.string, CLIENT_SECRET
    refute_match(/access-token-|refresh-token-/, @log.string)
  end

  # --- the flow ----------------------------------------------------------------

  def test_async_plan_answers_202_without_config_then_provisions_through_the_api
    uuid = SecureRandom.uuid
    code = SecureRandom.uuid
    body = provision_async(uuid, code: code)
    assert_equal 202, last_response.status
    assert_equal %w[id message], body.keys.sort
    assert_match(/\A\h{24}\z/, body["id"])

    wait_for_state(body["id"], "provisioned")
    exchange, patch, done = @fake.requests
    assert_equal ["/oauth/token", "/addons/#{uuid}/config", "/addons/#{uuid}/actions/provision"],
                 @fake.requests.map(&:path)

    # 1. the grant exchange: a form, at the callback_url's origin (no HEROKU_IDENTITY_URL, not api.heroku.com)
    assert_equal "POST", exchange.method
    assert_equal "application/x-www-form-urlencoded", exchange.headers["content-type"]
    assert_equal({ "grant_type" => "authorization_code", "code" => code, "client_secret" => CLIENT_SECRET },
                 exchange.form)

    # 2. the config, with the exchanged token
    assert_api_call patch, "PATCH", "access-token-1"
    assert_equal({ "config" => [{ "name" => CONFIG_VAR, "value" => "http://addon.test/resources/#{body['id']}" }] },
                 patch.json)

    # 3. provisioned
    assert_api_call done, "POST", "access-token-1"

    resource = store.find(body["id"])
    assert_equal "access-token-1", resource.access_token
    assert_equal "refresh-token-1", resource.refresh_token
    refute_includes resource.inspect, "token-1"
    assert_log_keeps_secrets
  end

  def test_the_work_starts_only_once_the_response_is_sent
    hooks = [] # what Puma runs after writing the response ("rack.after_reply")
    provision_async(env: { "rack.after_reply" => hooks })
    assert_equal 202, last_response.status
    assert_equal 1, hooks.size
    assert_empty @fake.requests

    hooks.each(&:call)
    wait_for_state(json["id"], "provisioned")
  end

  def test_redelivery_gives_the_same_id_and_one_flow
    @fake.hold # keep the job at the token exchange: still provisioning
    uuid = SecureRandom.uuid
    first = provision_async(uuid)
    again = provision_async(uuid)
    assert_equal 202, last_response.status
    assert_equal first["id"], again["id"]
    refute again.key?("config")

    @fake.release
    wait_for_state(first["id"], "provisioned")
    done = provision_async(uuid)
    assert_equal 200, last_response.status # done: the config goes back with the same id
    assert_equal first["id"], done["id"]
    assert_equal({ CONFIG_VAR => "http://addon.test/resources/#{first['id']}" }, done["config"])
    assert_equal 1, @fake.requests_to("/oauth/token").size
    assert_equal 1, store.instance_variable_get(:@by_id).size
  end

  def test_concurrent_copies_of_one_request_make_one_resource
    uuid = SecureRandom.uuid
    body = JSON.generate(uuid: uuid, plan: "async", callback_url: @fake.callback_url(uuid), oauth_grant: { code: "c" })
    auth = "Basic #{['test-addon:test-password'].pack('m0')}"
    answers = Array.new(5) do
      Thread.new do
        app.call(Rack::MockRequest.env_for("/heroku/resources", method: "POST", input: body,
                                                                "CONTENT_TYPE" => "application/json",
                                                                "HTTP_AUTHORIZATION" => auth))
      end
    end.map(&:value)
    ids = answers.map { |_, _, response| JSON.parse(response.each.to_a.join)["id"] }.uniq
    assert_equal 1, ids.size, ids.inspect
    # 202 while provisioning; a copy arriving after the (fast) job has finished gets 200
    statuses = answers.map(&:first)
    assert_includes statuses, 202
    assert_empty statuses - [200, 202]
    wait_for_path("/addons/#{uuid}/actions/provision")
    assert_equal 1, @fake.requests_to("/oauth/token").size
  end

  # --- where the identity service is ---------------------------------------------

  def test_identity_url_rule
    # 1. HEROKU_IDENTITY_URL wins
    assert_equal "https://id.example.test",
                 AsyncProvisioner.identity_url("https://api.heroku.com/addons/x", "https://id.example.test/")
    # 2. real Heroku: its identity service
    assert_equal "https://id.heroku.com", AsyncProvisioner.identity_url("https://api.heroku.com/addons/x", nil)
    assert_equal "https://id.heroku.com", AsyncProvisioner.identity_url("https://API.heroku.com/addons/x", "")
    # 3. anything else: the callback_url's origin
    assert_equal "http://127.0.0.1:4567", AsyncProvisioner.identity_url("http://127.0.0.1:4567/addons/x", nil)
    assert_equal "https://api.example.test", AsyncProvisioner.identity_url("https://api.example.test/addons/x", "")
  end

  def test_heroku_identity_url_setting_is_used_for_the_exchange
    use_provisioner(identity_url: "#{@fake.url}/identity/")
    id = provision_async["id"]
    wait_for_state(id, "provisioned")
    assert_equal "/identity/oauth/token", @fake.requests.first.path
  end

  # --- failures ----------------------------------------------------------------------

  def test_5xx_answers_are_retried
    uuid = SecureRandom.uuid
    @fake.fail("/oauth/token", 503)
    @fake.fail("/addons/#{uuid}/config", 500, times: 2)
    id = provision_async(uuid)["id"]
    wait_for_state(id, "provisioned")
    assert_equal 2, @fake.requests_to("/oauth/token").size
    assert_equal 3, @fake.requests_to("/addons/#{uuid}/config").size
    assert_equal 1, @fake.requests_to("/addons/#{uuid}/actions/provision").size
    assert_match(/PATCH config answered 500/, @log.string)
  end

  def test_gives_up_after_three_tries
    uuid = SecureRandom.uuid
    @fake.fail("/addons/#{uuid}/actions/provision", 503, times: 3)
    id = provision_async(uuid)["id"]
    wait_for_state(id, "failed")
    assert_equal 3, @fake.requests_to("/addons/#{uuid}/actions/provision").size
    assert_match(%r{POST actions/provision answered 503.*gave up after 3 tries}, @log.string)
    assert_log_keeps_secrets

    provision_async(uuid)
    assert_equal 202, last_response.status # still no config to hand out
  end

  def test_4xx_answers_are_not_retried
    uuid = SecureRandom.uuid
    @fake.fail("/oauth/token", 400)
    id = provision_async(uuid)["id"]
    wait_for_state(id, "failed")
    assert_equal ["/oauth/token"], @fake.requests.map(&:path)
    assert_match(/grant exchange answered 400: injected 400/, @log.string)
    assert_log_keeps_secrets
  end

  def test_network_errors_are_retried
    closed = TCPServer.new("127.0.0.1", 0)
    port = closed.addr[1]
    closed.close # nothing listens there now
    id = provision_async(callback_url: "http://127.0.0.1:#{port}/addons/x")["id"]
    wait_for_state(id, "failed")
    assert_equal 2, @log.string.scan(/grant exchange failed: Errno::ECONNREFUSED.*trying again/).size
    assert_match(/gave up after 3 tries/, @log.string)
  end

  def test_without_a_client_secret_nothing_is_sent
    use_provisioner(client_secret: "")
    id = provision_async["id"]
    wait_for_state(id, "failed")
    assert_empty @fake.requests
    assert_match(/HEROKU_CLIENT_SECRET is not set/, @log.string)
  end

  def test_async_plan_needs_a_callback_url_and_a_grant
    post "/heroku/resources", JSON.generate(plan: "async", uuid: SecureRandom.uuid), "CONTENT_TYPE" => "application/json"
    assert_equal 422, last_response.status
    post "/heroku/resources", JSON.generate(plan: "async", callback_url: "not a url", oauth_grant: { code: "c" }),
         "CONTENT_TYPE" => "application/json"
    assert_equal 422, last_response.status
    assert_empty store.instance_variable_get(:@by_id)
  end

  def test_other_plans_stay_synchronous
    uuid = SecureRandom.uuid
    post "/heroku/resources", JSON.generate(uuid: uuid, plan: "test", callback_url: @fake.callback_url(uuid),
                                            oauth_grant: { code: "c" }), "CONTENT_TYPE" => "application/json"
    assert_equal 201, last_response.status
    assert json["config"][CONFIG_VAR]
    delete "/heroku/resources/#{json['id']}"
    assert_equal 204, last_response.status
    sleep 0.05 # nothing is running in the background, so nothing may call
    assert_empty @fake.requests
  end

  # --- deprovision -------------------------------------------------------------------

  def test_async_deprovision_answers_202_then_calls_actions_deprovision
    uuid = SecureRandom.uuid
    id = provision_async(uuid)["id"]
    wait_for_state(id, "provisioned")

    delete "/heroku/resources/#{id}"
    assert_equal 202, last_response.status
    assert_kind_of String, json["message"]
    assert_nil store.find(id)

    request = wait_for_path("/addons/#{uuid}/actions/deprovision") &&
              @fake.requests_to("/addons/#{uuid}/actions/deprovision").first
    assert_api_call request, "POST", "access-token-1"
    delete "/heroku/resources/#{id}"
    assert_equal 404, last_response.status
  end

  def test_deprovision_while_provisioning_stops_the_job
    @fake.hold
    uuid = SecureRandom.uuid
    id = provision_async(uuid)["id"]
    wait_for_path("/oauth/token")
    delete "/heroku/resources/#{id}"
    assert_equal 204, last_response.status # no token yet to call Heroku back with: gone at once

    @fake.release
    @fake.wait_until("the job to stop") { @log.string.include?("resource #{id}: deprovisioned while provisioning") }
    assert_equal ["/oauth/token"], @fake.requests.map(&:path)
  end

  def test_async_deprovision_refreshes_an_expired_token
    uuid = SecureRandom.uuid
    id = provision_async(uuid)["id"]
    wait_for_state(id, "provisioned")
    store.update(id) { |r| r.token_expires_at = Time.now - 1 }

    delete "/heroku/resources/#{id}"
    assert_equal 202, last_response.status
    wait_for_path("/addons/#{uuid}/actions/deprovision")
    refresh = @fake.requests_to("/oauth/token").last
    assert_equal({ "grant_type" => "refresh_token", "refresh_token" => "refresh-token-1",
                   "client_secret" => CLIENT_SECRET }, refresh.form)
    assert_api_call @fake.requests_to("/addons/#{uuid}/actions/deprovision").first, "POST", "access-token-2"
  end
end
