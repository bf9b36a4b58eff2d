# frozen_string_literal: true

require_relative "test_helper"

# The Add-on Partner API routes, the resource API and the HTTP hygiene around them.
class AppTest < Minitest::Test
  include Rack::Test::Methods
  include TestHelpers

  CONFIG_VAR = ADDON[:config_var]

  def app
    AddonApp
  end

  def setup
    reset_database
  end

  # --- helpers ---------------------------------------------------------------

  def heroku_auth
    basic_authorize "test-addon", "test-password"
  end

  def send_json(verb, path, body, env = {})
    send(verb, path, body.is_a?(String) ? body : JSON.generate(body), env.merge("CONTENT_TYPE" => "application/json"))
  end

  def json
    JSON.parse(last_response.body)
  end

  def provision(body = { uuid: SecureRandom.uuid, plan: "test" })
    heroku_auth
    send_json :post, "/heroku/resources", body
    json
  end

  def assert_json_message(status, pattern = nil)
    assert_equal status, last_response.status, last_response.body
    assert_match %r{application/json}, last_response.content_type
    assert_kind_of String, json["message"]
    assert_match pattern, json["message"] if pattern
  end

  # Calls the resource API with the credentials in a config var's URL.
  def call_api(config_url)
    uri = URI.parse(config_url)
    basic_authorize uri.user, uri.password
    get uri.path
    heroku_auth
    last_response
  end

  # --- provision ---------------------------------------------------------------

  def test_provision_answers_201_with_a_config_url_carrying_credentials
    body = provision
    assert_equal 201, last_response.status
    assert_match(/\A\h{24}\z/, body["id"])
    assert_equal [CONFIG_VAR], body["config"].keys
    uri = URI.parse(body["config"][CONFIG_VAR])
    assert_equal "http://addon.test/api/resource", "#{uri.scheme}://#{uri.host}#{uri.path}"
    assert_equal body["id"], uri.user
    assert_match(/\A\h{64}\z/, uri.password) # 256 random bits
    assert_kind_of String, body["message"]
  end

  def test_without_public_url_the_config_url_is_where_the_request_came
    with_setting(:public_url, nil) do
      heroku_auth
      send_json :post, "https://addon.example.com/heroku/resources", { uuid: SecureRandom.uuid, plan: "test" }
      url = URI.parse(json["config"][CONFIG_VAR])
      assert_equal ["https", "addon.example.com", 443], [url.scheme, url.host, url.port]
      # Stored with the resource, for the answers to come (a redelivery, a plan change).
      assert_equal "https://addon.example.com", resources.find(json["id"]).public_url
    end
  end

  def test_the_database_keeps_a_digest_of_the_token_never_the_token
    body = provision
    token = URI.parse(body["config"][CONFIG_VAR]).password
    row = db[:resources].where(id: body["id"]).first
    assert_equal Digest::SHA256.hexdigest(token), row[:token_digest]
    row.each_value { |value| refute_includes value.to_s, token }
  end

  def test_v1_provision_id_is_not_derived_from_heroku_id
    body = provision(heroku_id: "app123@heroku.com", plan: "test", region: "us",
                     callback_url: "https://api.heroku.com/vendor/apps/app123@heroku.com",
                     logplex_token: "t", options: {})
    assert_equal 201, last_response.status
    refute_includes body["id"], "app123"
    assert_equal "app123@heroku.com", resources.find(body["id"]).heroku_id
  end

  def test_v3_provision_accepts_unknown_fields
    provision(uuid: SecureRandom.uuid, name: "acme-inc-1", plan: "test",
              region: "amazon-web-services::us-east-1", callback_url: "https://api.heroku.com/addons/x",
              oauth_grant: { code: "c", expires_at: "2030-01-01T00:00:00Z", type: "authorization_code" },
              options: { "foo" => "bar" }, something_new: [1, 2])
    assert_equal 201, last_response.status
    assert_equal({ "foo" => "bar" }, JSON.parse(resources.find(json["id"]).options))
  end

  def test_same_uuid_again_gives_the_same_answer
    uuid = SecureRandom.uuid
    first = provision(uuid: uuid, plan: "test")
    again = provision(uuid: uuid, plan: "test")
    assert_equal 200, last_response.status
    assert_equal first["id"], again["id"]
    assert_equal first["config"], again["config"] # the same credentials: both answers work
    assert_equal 1, db[:resources].where(uuid: uuid).count
  end

  def test_sixteen_concurrent_deliveries_make_one_resource_and_get_one_answer
    uuid = SecureRandom.uuid
    body = JSON.generate(uuid: uuid, plan: "test")
    auth = "Basic #{['test-addon:test-password'].pack('m0')}"
    gate = Queue.new
    threads = Array.new(16) do
      Thread.new do
        gate.pop
        status, _, response = app.call(Rack::MockRequest.env_for("/heroku/resources",
                                                                 method: "POST", input: body,
                                                                 "CONTENT_TYPE" => "application/json",
                                                                 "HTTP_AUTHORIZATION" => auth))
        [status, JSON.parse(response.each.to_a.join)]
      end
    end
    16.times { gate << :go }
    answers = threads.map(&:value)
    assert_equal [201], answers.map(&:first).select { |s| s == 201 }, answers.map(&:first).inspect
    assert_empty answers.map(&:first) - [200, 201]
    assert_equal 1, answers.map { |_, b| [b["id"], b["config"]] }.uniq.size
    assert_equal 1, db[:resources].where(uuid: uuid).count
  end

  def test_different_uuids_and_missing_uuids_give_new_resources
    ids = [provision["id"], provision["id"], provision(plan: "test")["id"], provision(plan: "test")["id"]]
    assert_equal 4, ids.uniq.size
  end

  def test_unknown_plan_is_refused_with_422_naming_it
    provision(uuid: SecureRandom.uuid, plan: "platinum")
    assert_json_message 422, /platinum/
    assert_equal 0, db[:resources].count
  end

  def test_wrong_or_missing_credentials_get_401_with_challenge
    [%w[test-addon wrong], %w[someone test-password], nil].each do |credentials|
      credentials ? basic_authorize(*credentials) : header("Authorization", nil)
      send_json :post, "/heroku/resources", plan: "test"
      assert_json_message 401
      assert_match(/\ABasic realm="/, last_response.headers["WWW-Authenticate"])
    end
    header "Authorization", "Bearer xyz"
    delete "/heroku/resources/abc"
    assert_equal 401, last_response.status
  end

  def test_malformed_json_gets_400
    heroku_auth
    ["{not json", "", "\xff".b].each do |body|
      send_json :post, "/heroku/resources", body
      assert_json_message 400
    end
  end

  def test_well_formed_but_wrong_shape_gets_422
    heroku_auth
    ['[1, 2]', '"plan"', "{}", '{"plan": ""}', '{"plan": 3}', '{"uuid": "u"}', '{"plan": "test", "uuid": 5}',
     '{"plan": "test", "options": [1]}', '{"plan": "test", "callback_url": {"a": 1}}'].each do |body|
      send_json :post, "/heroku/resources", body
      assert_json_message 422
    end
    assert_equal 0, db[:resources].count
  end

  def test_a_body_over_64_kib_gets_413_json
    heroku_auth
    big = JSON.generate(plan: "test", uuid: SecureRandom.uuid, padding: "x" * (64 * 1024))
    send_json :post, "/heroku/resources", big
    assert_json_message 413
    # No Content-Length (a chunked body): read up to the limit, no further.
    env = Rack::MockRequest.env_for("/heroku/resources", method: "POST", input: big,
                                                         "CONTENT_TYPE" => "application/json")
    env.delete("CONTENT_LENGTH")
    status, headers, = app.call(env)
    assert_equal 413, status
    assert_match %r{application/json}, headers["content-type"] || headers["Content-Type"]
    assert_equal 0, db[:resources].count
  end

  # --- the callback/identity rule: the client secret goes to Heroku only -----------

  def test_a_callback_url_on_a_foreign_host_is_refused_before_anything_is_created
    %w[https://evil.example/addons/x http://api.heroku.com/addons/x https://api.heroku.com.evil.example/x
       not-a-url].each do |callback|
      provision(uuid: SecureRandom.uuid, plan: "test", callback_url: callback,
                oauth_grant: { code: "c" })
      assert_json_message 422, /callback_url/
    end
    provision(uuid: SecureRandom.uuid, plan: "async", callback_url: "https://evil.example/addons/x",
              oauth_grant: { code: "c" })
    assert_json_message 422
    assert_equal 0, db[:resources].count
    assert_equal 0, db[:jobs].count
  end

  def test_heroku_and_loopback_callbacks_are_accepted
    %w[https://api.heroku.com/addons/x http://127.0.0.1:4567/addons/x http://localhost:9/addons/x
       http://[::1]:9/addons/x].each do |callback|
      provision(uuid: SecureRandom.uuid, plan: "test", callback_url: callback)
      assert_equal 201, last_response.status, "#{callback}: #{last_response.body}"
    end
  end

  def test_in_production_a_loopback_callback_is_refused_too
    with_setting(:environment, :production) do
      provision(uuid: SecureRandom.uuid, plan: "test", callback_url: "http://127.0.0.1:4567/addons/x")
      assert_json_message 422, /callback_url/
      assert_equal 0, db[:resources].count
      provision(uuid: SecureRandom.uuid, plan: "test", callback_url: "https://api.heroku.com/addons/x")
      assert_equal 201, last_response.status, last_response.body
    end
  end

  def test_heroku_identity_url_lets_any_callback_through
    with_setting(:identity_url, "https://id.example.test") do
      provision(uuid: SecureRandom.uuid, plan: "test", callback_url: "https://api.example.test/addons/x")
      assert_equal 201, last_response.status
    end
  end

  # --- plan change -------------------------------------------------------------

  def test_plan_change_updates_the_plan_and_what_the_resource_may_do
    body = provision
    config = body["config"][CONFIG_VAR]
    assert_equal 1_000, JSON.parse(call_api(config).body)["limits"]["api_calls"]

    send_json :put, "/heroku/resources/#{body['id']}", plan: "premium"
    assert_equal 200, last_response.status
    assert_equal body["config"], json["config"]
    assert_equal "premium", resources.find(body["id"]).plan

    answer = JSON.parse(call_api(config).body)
    assert_equal "premium", answer["plan"]
    assert_equal 100_000, answer["limits"]["api_calls"]
  end

  def test_plan_change_to_the_current_plan_is_a_200_no_op
    body = provision
    before = db[:resources].where(id: body["id"]).first
    send_json :put, "/heroku/resources/#{body['id']}", plan: "test"
    assert_equal 200, last_response.status
    assert_equal before, db[:resources].where(id: body["id"]).first
  end

  def test_plan_change_errors
    id = provision["id"]
    send_json :put, "/heroku/resources/#{id}", "{oops"
    assert_json_message 400
    send_json :put, "/heroku/resources/#{id}", uuid: "u"
    assert_json_message 422
    send_json :put, "/heroku/resources/#{id}", plan: "platinum"
    assert_json_message 422, /platinum/
    assert_equal "test", resources.find(id).plan
    send_json :put, "/heroku/resources/nope", plan: "premium"
    assert_json_message 404
    header "Authorization", nil
    send_json :put, "/heroku/resources/#{id}", plan: "premium"
    assert_json_message 401
  end

  # --- deprovision -------------------------------------------------------------

  def test_deprovision_revokes_the_credentials_and_keeps_the_uuid_taken
    uuid = SecureRandom.uuid
    body = provision(uuid: uuid, plan: "test")
    config = body["config"][CONFIG_VAR]
    assert_equal 200, call_api(config).status

    delete "/heroku/resources/#{body['id']}"
    assert_equal 204, last_response.status
    assert_empty last_response.body
    assert_equal 401, call_api(config).status

    row = db[:resources].where(id: body["id"]).first
    assert_equal "deprovisioned", row[:state]
    assert_nil row[:token_digest]
    assert_nil row[:token_ciphertext]
  end

  def test_after_deprovision_the_uuid_gets_410_and_a_second_delete_410
    uuid = SecureRandom.uuid
    id = provision(uuid: uuid, plan: "test")["id"]
    delete "/heroku/resources/#{id}"
    delete "/heroku/resources/#{id}"
    assert_json_message 410
    provision(uuid: uuid, plan: "test")
    assert_json_message 410
    send_json :put, "/heroku/resources/#{id}", plan: "premium"
    assert_json_message 410
    assert_equal 1, db[:resources].where(uuid: uuid).count
    delete "/heroku/resources/never-was"
    assert_json_message 404
  end

  # --- the resource API ----------------------------------------------------------

  def test_resource_api_answers_status_plan_limits_and_counts_calls
    body = provision
    config = body["config"][CONFIG_VAR]
    first = JSON.parse(call_api(config).body)
    assert_equal({ "id" => body["id"], "plan" => "test", "status" => "provisioned",
                   "limits" => { "api_calls" => 1_000 }, "usage" => { "api_calls" => 1 } }, first)
    assert_equal 2, JSON.parse(call_api(config).body)["usage"]["api_calls"]
    assert_equal 2, resources.find(body["id"]).api_calls
  end

  def test_resource_api_refuses_wrong_or_missing_credentials_with_401_json
    body = provision
    other = provision
    uri = URI.parse(body["config"][CONFIG_VAR])
    [[uri.user, "0" * 64], [uri.user, ""], ["nope", uri.password],
     [other["id"], uri.password]].each do |user, password|
      basic_authorize user, password
      get "/api/resource"
      assert_json_message 401
      assert_match(/\ABasic realm=/, last_response.headers["WWW-Authenticate"])
    end
    header "Authorization", nil
    get "/api/resource"
    assert_json_message 401
    assert_equal 0, resources.find(body["id"]).api_calls
  end

  def test_resource_api_stops_at_the_plans_limit
    body = provision
    db[:resources].where(id: body["id"]).update(api_calls: 1_000)
    config = body["config"][CONFIG_VAR]
    assert_equal 429, call_api(config).status
    assert_match(/test allows 1000/, JSON.parse(last_response.body)["message"])
    send_json :put, "/heroku/resources/#{body['id']}", plan: "premium"
    assert_equal 200, call_api(config).status
  end

  # --- single sign-on off, cookies ------------------------------------------------

  def test_without_sso_salt_the_sso_routes_answer_404_json_and_the_rest_works
    id = provision["id"]
    with_setting(:sso_salt, nil) do
      post "/sso/login", "id" => id, "token" => "x", "timestamp" => Time.now.to_i.to_s
      assert_json_message 404, /not enabled/
      get "/heroku/resources/#{id}", "token" => "x", "timestamp" => Time.now.to_i.to_s
      assert_json_message 404, /not enabled/
      provision
      assert_equal 201, last_response.status
    end
  end

  def test_the_app_starts_without_sso_salt
    env = { "SSO_SALT" => nil, "DATABASE_URL" => "sqlite:/" }
    script = "require './app'; print AddonApp.settings.sso_salt.inspect"
    output = IO.popen(env, [RbConfig.ruby, "-e", script], chdir: File.expand_path("..", __dir__), err: %i[child out], &:read)
    assert_equal "nil", output.lines.last
  end

  def test_the_app_refuses_to_start_without_a_valid_encryption_key
    ["", "abc", "g" * 64].each do |key|
      env = { "ENCRYPTION_KEY" => key, "DATABASE_URL" => "sqlite:/" }
      output = IO.popen(env, [RbConfig.ruby, "-e", "require './app'"], chdir: File.expand_path("..", __dir__),
                                                                        err: %i[child out], &:read)
      refute $?.success?, key
      assert_match(/ENCRYPTION_KEY/, output)
    end
  end

  def sso_login(id, env = {})
    ts = Time.now.to_i.to_s
    post "/sso/login", { "id" => id, "token" => SSO.token(id, ENV.fetch("SSO_SALT"), ts), "timestamp" => ts,
                         "nav-data" => nav_data(addon: "A", appname: "b") }, env
    assert_equal 302, last_response.status
    last_response.headers["Set-Cookie"].to_s.split("\n")
  end

  def test_session_cookie_is_httponly_and_samesite_lax_and_secure_over_https
    id = provision["id"]
    session = sso_login(id).find { |c| c.start_with?("rack.session=") }
    assert_match(/;\s*httponly/i, session)
    assert_match(/;\s*samesite=lax/i, session)
    refute_match(/;\s*secure/i, session)

    https = sso_login(id, "HTTP_X_FORWARDED_PROTO" => "https")
    assert_match(/;\s*secure/i, https.find { |c| c.start_with?("rack.session=") })
    assert_match(/;\s*secure/i, https.find { |c| c.start_with?("heroku-nav-data=") })
  end

  def test_unknown_route_answers_json_404
    get "/nowhere"
    assert_json_message 404
  end
end
