# frozen_string_literal: true

require "open3"
require "rbconfig"
require_relative "test_helper"

# In production (RACK_ENV=production, as Heroku's Ruby buildpack sets) the web process
# refuses what would lose or misread data: the embedded database (a dyno's disk is wiped
# at every restart) and a schema the release phase did not migrate. Each case loads
# config.ru in a process of its own, as Puma does on a dyno.
class ProductionTest < Minitest::Test
  ROOT = File.expand_path("..", __dir__)
  BOOT = 'require "rack"; Rack::Builder.parse_file("config.ru"); puts "booted"; $stdout.flush; exit!(0)'

  def boot(database_url)
    env = { "APP_ENV" => nil, "RACK_ENV" => "production", "DATABASE_URL" => database_url }
    Open3.capture2e(env, RbConfig.ruby, "-e", BOOT, chdir: ROOT)
  end

  def test_refuses_to_start_without_database_url
    output, status = boot(nil)
    refute status.success?, output
    assert_match(/DATABASE_URL is not set/, output)
    refute_match(/booted/, output)
  end

  def test_refuses_pending_migrations_and_applies_none_then_starts_once_migrated
    url = TestDatabase.fresh_url
    output, status = boot(url)
    refute status.success?, output
    assert_match(/schema is out of date: run `bundle exec rake db:migrate`/, output)
    Sequel.connect(url) { |db| refute db.table_exists?(:resources), "the web process migrated (#{TestDatabase.name})" }

    Sequel.connect(url) { |db| Database.migrate!(db) } # the release phase
    output, status = boot(url)
    assert status.success?, output
    assert_match(/booted/, output)
  end
end
