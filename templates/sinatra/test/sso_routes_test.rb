# frozen_string_literal: true

require_relative "test_helper"

# Single sign-on through the legacy GET and the form POST, and the dashboard.
class SSORoutesTest < Minitest::Test
  include Rack::Test::Methods
  include TestHelpers

  SALT = ENV.fetch("SSO_SALT")

  def app
    AddonApp
  end

  def setup
    reset_database
  end

  def provision(body = { uuid: SecureRandom.uuid, plan: "test" })
    basic_authorize "test-addon", "test-password"
    post "/heroku/resources", JSON.generate(body), "CONTENT_TYPE" => "application/json"
    JSON.parse(last_response.body)
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

  def cookie(name)
    current_session.cookie_jar[name]
  end

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

  def test_sso_refuses_a_deprovisioned_resource
    uuid = SecureRandom.uuid
    id = provision(uuid: uuid, plan: "test")["id"]
    delete "/heroku/resources/#{id}"
    post "/sso/login", sso_params(nil, uuid: uuid)
    assert_equal 404, last_response.status
  end

  def test_the_dashboard_header_is_a_div
    id = provision["id"]
    post "/sso/login", sso_params(id)
    get "/"
    assert_match(/<div id="heroku-header">/, last_response.body)
    refute_match(/<header/, last_response.body)
  end

  def test_dashboard_session_ends_with_the_resource
    id = provision["id"]
    post "/sso/login", sso_params(id)
    delete "/heroku/resources/#{id}"
    get "/"
    assert_equal 403, last_response.status
  end
end
