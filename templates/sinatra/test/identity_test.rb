# frozen_string_literal: true

require_relative "test_helper"

# Where the OAuth client secret may go (lib/identity.rb).
class IdentityTest < Minitest::Test
  def test_heroku_identity_url_wins
    assert_equal "https://id.example.test",
                 Identity.url_for("https://evil.example/addons/x", override: "https://id.example.test/")
  end

  def test_real_heroku_gets_its_identity_service
    assert_equal "https://id.heroku.com", Identity.url_for("https://api.heroku.com/addons/x")
    assert_equal "https://id.heroku.com", Identity.url_for("https://API.heroku.com/addons/x", override: " ")
  end

  def test_a_loopback_callback_gets_its_own_origin
    assert_equal "http://127.0.0.1:4567", Identity.url_for("http://127.0.0.1:4567/addons/x")
    assert_equal "http://127.8.9.10:80", Identity.url_for("http://127.8.9.10:80/addons/x").sub(/(:80)?\z/, ":80")
    assert_equal "http://localhost:5001", Identity.url_for("http://localhost:5001/addons/x")
    assert_equal "http://[::1]:9", Identity.url_for("http://[::1]:9/addons/x")
  end

  def test_a_loopback_callback_is_refused_in_production
    %w[http://127.0.0.1:4567/addons/x http://localhost:5001/addons/x http://[::1]:9/addons/x].each do |callback|
      assert_nil Identity.url_for(callback, loopback: false), callback
    end
    assert_equal "https://id.heroku.com", Identity.url_for("https://api.heroku.com/addons/x", loopback: false)
  end

  def test_anything_else_is_refused
    ["https://evil.example/addons/x", "http://api.heroku.com/addons/x", "https://api.heroku.com.evil.example/x",
     "https://10.0.0.1/addons/x", "ftp://127.0.0.1/x", "not a url", "", nil,
     "http://0.0.0.0:5000/x"].each do |callback|
      assert_nil Identity.url_for(callback), callback.inspect
    end
  end
end
