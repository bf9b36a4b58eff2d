# frozen_string_literal: true

require_relative "test_helper"

class AppTest < Minitest::Test
  include Rack::Test::Methods
  include TestHelpers

  SALT = ENV.fetch("SSO_SALT")
  CONFIG_VAR = ADDON[:config_var]

  def app
    AddonApp
  end

  def setup
    AddonApp.set :store, ResourceStore.new # every test starts with no resources
  end

  # --- helpers ---------------------------------------------------------------

  def heroku_auth(user = "test-addon", password = "test-password")
    basic_authorize user, password
  end

  def send_json(verb, path, body)
    send(verb, path, body.is_a?(String) ? body : JSON.generate(body), "CONTENT_TYPE" => "application/json")
  end

  def json
    JSON.parse(last_response.body)
  end

  def provision(body = { uuid: SecureRandom.uuid, plan: "test" })
    heroku_auth
    send_json :post, "/heroku/resources", body
    json
  end

  def sso_params(resource_id, uuid: nil, timestamp: Time.now.to_i, **extra)
    ts = timestamp.to_s
    params = { "timestamp" => ts, "nav-data" => nav_data(addon: "My Addon", appname: "my-app"),
               "email" => "user@example.com", "user_id" => "user-1", "app" => "my-app" }
    if uuid
      params["resource_id"] = uuid
      params["resource_token"] = SSO.resource_token(uuid, SALT, ts)
      params["user_scoped_resource_token"] =
        SSO.user_scoped_resource_token(uuid, SALT, ts, "user-1", "user@example.com")
    else
      params["id"] = resource_id
      params["token"] = SSO.token(resource_id, SALT, ts)
    end
    params.merge(extra)
  end

  def assert_json_message(status)
    assert_equal status, last_response.status, last_response.body
    assert_match %r{application/json}, last_response.content_type
    assert_kind_of String, json["message"]
  end

  def cookie(name)
    current_session.cookie_jar[name]
  end

  # --- provision ---------------------------------------------------------------

  def test_provision_returns_201_with_id_and_config_url
    body = provision
    assert_equal 201, last_response.status
    assert_match(/\A\h{24}\z/, body["id"])
    assert_equal({ CONFIG_VAR => "http://addon.test/resources/#{body['id']}" }, body["config"])
    assert_kind_of String, body["message"]
  end

  def test_v1_provision_id_is_not_derived_from_heroku_id
    body = provision(heroku_id: "app123@heroku.com", plan: "test", region: "us",
                     callback_url: "http://localhost:1/x", logplex_token: "t", options: {})
    assert_equal 201, last_response.status
    refute_includes body["id"], "app123"
  end

  def test_v3_provision_accepts_unknown_fields
    provision(uuid: SecureRandom.uuid, name: "acme-inc-1", plan: "test",
              region: "amazon-web-services::us-east-1", callback_url: "https://api.example/addons/x",
              oauth_grant: { code: "c", expires_at: "2030-01-01T00:00:00Z", type: "authorization_code" },
              options: { "foo" => "bar" }, something_new: [1, 2])
    assert_equal 201, last_response.status
  end

  def test_same_uuid_again_gives_the_same_resource
    uuid = SecureRandom.uuid
    first = provision(uuid: uuid, plan: "test")
    again = provision(uuid: uuid, plan: "test")
    assert_equal 200, last_response.status
    assert_equal first["id"], again["id"]
    assert_equal first["config"], again["config"]
  end

  def test_different_uuids_and_missing_uuids_give_new_resources
    ids = [provision["id"], provision["id"], provision(plan: "test")["id"], provision(plan: "test")["id"]]
    assert_equal 4, ids.uniq.size
  end

  def test_wrong_or_missing_credentials_get_401_with_challenge
    [["test-addon", "wrong"], ["someone", "test-password"], nil].each do |credentials|
      credentials ? heroku_auth(*credentials) : basic_authorize(nil, nil)
      header "Authorization", nil unless credentials
      send_json :post, "/heroku/resources", plan: "test"
      assert_json_message 401
      assert_match(/\ABasic realm="/, last_response.headers["WWW-Authenticate"])
    end
    header "Authorization", "Bearer xyz"
    send_json :delete, "/heroku/resources/abc", ""
    assert_equal 401, last_response.status
  end

  def test_malformed_json_gets_400
    heroku_auth
    ["{not json", "", "\xff".b].each do |body|
      send_json :post, "/heroku/resources", body
      assert_json_message 400
    end
  end

  def test_non_object_or_missing_plan_gets_422
    heroku_auth
    ['[1, 2]', '"plan"', "{}", '{"plan": ""}', '{"plan": 3}', '{"uuid": "u"}'].each do |body|
      send_json :post, "/heroku/resources", body
      assert_json_message 422
    end
  end

  # --- plan change -------------------------------------------------------------

  def test_plan_change_keeps_the_config
    body = provision
    send_json :put, "/heroku/resources/#{body['id']}", plan: "foo"
    assert_equal 200, last_response.status
    assert_equal body["config"], json["config"]
    assert_equal "foo", AddonApp.store.find(body["id"]).plan
  end

  def test_plan_change_errors
    id = provision["id"]
    send_json :put, "/heroku/resources/#{id}", "{oops"
    assert_json_message 400
    send_json :put, "/heroku/resources/#{id}", uuid: "u"
    assert_json_message 422
    send_json :put, "/heroku/resources/nope", plan: "foo"
    assert_json_message 404
    header "Authorization", nil
    send_json :put, "/heroku/resources/#{id}", plan: "foo"
    assert_json_message 401
  end

  # --- deprovision -------------------------------------------------------------

  def test_deprovision_answers_204_then_404
    uuid = SecureRandom.uuid
    id = provision(uuid: uuid, plan: "test")["id"]
    delete "/heroku/resources/#{id}"
    assert_equal 204, last_response.status
    assert_empty last_response.body
    delete "/heroku/resources/#{id}"
    assert_json_message 404

    # The uuid is free again: provisioning it makes a new resource.
    refute_equal id, provision(uuid: uuid, plan: "test")["id"]
    assert_equal 201, last_response.status
  end

  # --- single sign-on ----------------------------------------------------------

  def assert_logged_in(nav)
    assert_equal 302, last_response.status, last_response.body
    assert_equal "/", last_response.headers["Location"]
    assert_equal nav, cookie("heroku-nav-data")
    get "/"
    assert_equal 200, last_response.status
    assert_match(/id="heroku-header"/, last_response.body)
    assert_match(/My Addon/, last_response.body)
    assert_match(/my-app/, last_response.body)
  end

  def test_sso_post_with_v1_token
    id = provision["id"]
    params = sso_params(id)
    post "/sso/login", params
    assert_logged_in params["nav-data"]
    assert_includes last_response.body, id
    assert_includes last_response.body, "test" # the plan
  end

  def test_sso_legacy_get_with_v1_token
    id = provision["id"]
    params = sso_params(id).tap { |p| p.delete("id") }
    get "/heroku/resources/#{id}", params
    assert_logged_in params["nav-data"]
  end

  def test_sso_post_with_v3_tokens
    uuid = SecureRandom.uuid
    provision(uuid: uuid, plan: "test")
    params = sso_params(nil, uuid: uuid)
    post "/sso/login", params
    assert_logged_in params["nav-data"]
  end

  def test_sso_get_with_v3_tokens
    uuid = SecureRandom.uuid
    id = provision(uuid: uuid, plan: "test")["id"]
    get "/heroku/resources/#{id}", sso_params(nil, uuid: uuid)
    assert_equal 302, last_response.status
  end

  def test_sso_refuses_wrong_tokens
    uuid = SecureRandom.uuid
    id = provision(uuid: uuid, plan: "test")["id"]
    [
      sso_params(id, token: "0" * 40),
      sso_params(nil, uuid: uuid, resource_token: "0" * 40),
      sso_params(nil, uuid: uuid, user_scoped_resource_token: "0" * 64),
      sso_params(nil, uuid: uuid, email: "someone-else@example.com"), # user-scoped token no longer matches
      sso_params(nil, uuid: uuid).reject { |k, _| k == "resource_token" }, # user-scoped alone is not enough
      sso_params(id).reject { |k, _| k == "token" } # no token at all
    ].each do |params|
      post "/sso/login", params
      assert_equal 403, last_response.status, params.inspect
    end
  end

  def test_sso_refuses_stale_future_and_garbage_timestamps
    id = provision["id"]
    [Time.now.to_i - 6 * 60, Time.now.to_i + 6 * 60, "soon", "1.5"].each do |ts|
      post "/sso/login", sso_params(id, timestamp: ts)
      assert_equal 403, last_response.status, ts.to_s
      get "/heroku/resources/#{id}", sso_params(id, timestamp: ts)
      assert_equal 403, last_response.status, ts.to_s
    end
  end

  def test_sso_unknown_resource_is_404
    post "/sso/login", sso_params("nope")
    assert_equal 404, last_response.status
    get "/heroku/resources/nope", sso_params("nope")
    assert_equal 404, last_response.status
    post "/sso/login", sso_params(nil, uuid: SecureRandom.uuid)
    assert_equal 404, last_response.status
  end

  def test_sso_survives_odd_input
    id = provision["id"]
    post "/sso/login", "token[]=1&timestamp[a]=2&id=#{id}", "CONTENT_TYPE" => "application/x-www-form-urlencoded"
    assert_equal 403, last_response.status
    # A query string no parser accepts (rack-test would refuse to build it).
    env = Rack::MockRequest.env_for("/heroku/resources/#{id}").merge("QUERY_STRING" => "token=%zz&id=1")
    status, = app.call(env)
    assert_equal 400, status
  end

  def test_dashboard_without_session_is_403
    get "/"
    assert_equal 403, last_response.status
    assert_match(/log in through Heroku/, last_response.body)
  end

  def test_dashboard_escapes_nav_data_and_survives_garbage
    id = provision["id"]
    post "/sso/login", sso_params(id, "nav-data" => nav_data(addon: "<b>x</b>", appname: "<script>"))
    get "/"
    assert_equal 200, last_response.status
    assert_includes last_response.body, "&lt;script&gt;"
    refute_includes last_response.body, "<script>"

    post "/sso/login", sso_params(id, "nav-data" => "%%%garbage")
    assert_equal "%%%garbage", cookie("heroku-nav-data")
    get "/"
    assert_equal 200, last_response.status
    assert_match(/id="heroku-header"/, last_response.body)
  end

  def test_unknown_route_answers_json_404
    get "/nowhere"
    assert_json_message 404
  end
end
