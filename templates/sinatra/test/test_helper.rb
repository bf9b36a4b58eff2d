# frozen_string_literal: true

require "securerandom"
require "sequel"
require "tmpdir"

# Fixed settings, whatever the shell (or .env) says, so the tests are repeatable.
ENV["APP_ENV"] = "test"
ENV["HEROKU_USERNAME"] = "test-addon"
ENV["HEROKU_PASSWORD"] = "test-password"
ENV["SSO_SALT"] = "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4"
ENV["ENCRYPTION_KEY"] = "8f1b0c5e4d3a29187f6e5d4c3b2a19080f1e2d3c4b5a69788796a5b4c3d2e1f0"
ENV["HEROKU_CLIENT_SECRET"] = "client-secret-for-tests"
ENV["PUBLIC_URL"] = "http://addon.test"
%w[SESSION_SECRET HEROKU_IDENTITY_URL ASYNC_DELAY_SECONDS DATABASE_URL].each { |name| ENV.delete(name) }

# The database the tests run on: an SQLite file in a temporary directory, or,
# when TEST_DATABASE_URL is set, a schema of its own in that Postgres (so
# parallel runs do not collide), dropped when the run ends.
module TestDatabase
  POSTGRES = ENV.fetch("TEST_DATABASE_URL", "").strip
  DIR = Dir.mktmpdir("addon-test")
  @schemas = []

  class << self
    def postgres?
      !POSTGRES.empty?
    end

    def name
      postgres? ? "Postgres" : "SQLite"
    end

    # A new, empty database each call.
    def fresh_url
      return "sqlite://#{File.join(DIR, "#{SecureRandom.hex(6)}.sqlite3")}" unless postgres?

      schema = "addon_test_#{Process.pid}_#{SecureRandom.hex(4)}"
      Sequel.connect(POSTGRES) { |db| db.run("CREATE SCHEMA #{schema}") }
      @schemas << schema
      "#{POSTGRES}#{POSTGRES.include?('?') ? '&' : '?'}search_path=#{schema}"
    end

    def clean_up
      FileUtils.rm_rf(DIR)
      return if @schemas.empty?

      Sequel.connect(POSTGRES) { |db| @schemas.each { |s| db.run("DROP SCHEMA IF EXISTS #{s} CASCADE") } }
    end
  end
end

# Registered before minitest's own at_exit hook, so it runs after the tests.
at_exit { TestDatabase.clean_up }
ENV["DATABASE_URL"] = TestDatabase.fresh_url

require "minitest/autorun"
require "rack/test"
require_relative "../app"

Database.migrate!(AddonApp.settings.db)
puts "Running the tests on #{TestDatabase.name}"

module TestHelpers
  CLIENT_SECRET = ENV.fetch("HEROKU_CLIENT_SECRET")

  def db
    AddonApp.settings.db
  end

  def resources
    AddonApp.settings.resources
  end

  def jobs
    AddonApp.settings.jobs
  end

  # Every test starts with no resources and no jobs.
  def reset_database
    db[:jobs].delete
    db[:resources].delete
  end

  # base64url without padding, as Heroku encodes nav-data. (pack("m0") rather than
  # the base64 gem, which newer Rubies no longer load without a Gemfile entry.)
  def nav_data(hash)
    [JSON.generate(hash)].pack("m0").tr("+/", "-_").delete("=")
  end

  # Temporarily changes one of the app's settings.
  def with_setting(name, value)
    before = AddonApp.settings.send(name)
    AddonApp.set name, value
    yield
  ensure
    AddonApp.set name, before
  end

  # Polls until the block is truthy; fails after `timeout` seconds.
  def eventually(what, timeout: 5)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      result = yield
      return result if result
      flunk "still waiting for #{what} after #{timeout} s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.01
    end
  end
end
