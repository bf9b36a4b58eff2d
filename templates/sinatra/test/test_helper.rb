# frozen_string_literal: true

# Fixed settings, whatever the shell (or .env) says, so the tests are repeatable.
ENV["APP_ENV"] = "test"
ENV["HEROKU_USERNAME"] = "test-addon"
ENV["HEROKU_PASSWORD"] = "test-password"
ENV["SSO_SALT"] = "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4"
ENV["PUBLIC_URL"] = "http://addon.test"
ENV.delete("SESSION_SECRET")

require "minitest/autorun"
require "rack/test"
require_relative "../app"

module TestHelpers
  # base64url without padding, as Heroku encodes nav-data. (pack("m0") rather than
  # the base64 gem, which newer Rubies no longer load without a Gemfile entry.)
  def nav_data(hash)
    [JSON.generate(hash)].pack("m0").tr("+/", "-_").delete("=")
  end
end
