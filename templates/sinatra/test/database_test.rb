# frozen_string_literal: true

require_relative "test_helper"

# Migrations and the constraints provisioning relies on, each on a fresh database.
class DatabaseTest < Minitest::Test
  def setup
    @url = TestDatabase.fresh_url
    @db = Database.connect(@url)
  end

  def teardown
    @db.disconnect
  end

  def migration_files
    Dir[File.join(Database::MIGRATIONS, "*.rb")].map { |f| File.basename(f) }.sort
  end

  def test_migrations_create_the_tables_and_record_what_ran
    refute Database.current?(@db)
    Database.migrate!(@db)
    assert Database.current?(@db)
    assert_equal migration_files, @db[:schema_migrations].select_order_map(:filename)
    assert @db.table_exists?(:resources)
    assert @db.table_exists?(:jobs)
  end

  def test_migrating_again_changes_nothing
    Database.migrate!(@db)
    Database.migrate!(@db)
    assert_equal migration_files.size, @db[:schema_migrations].count
  end

  def test_concurrent_migrations_take_turns
    errors = Queue.new
    Array.new(3) do
      Thread.new do
        other = Database.connect(@url)
        Database.migrate!(other)
      rescue StandardError => e
        errors << e
      ensure
        other&.disconnect
      end
    end.each(&:join)
    assert errors.empty?, -> { errors.pop.full_message }
    assert Database.current?(@db)
  end

  def test_uuid_is_unique
    Database.migrate!(@db)
    row = { plan: "test", state: "provisioned", public_url: "http://x", options: "{}",
            created_at: Time.now, updated_at: Time.now }
    @db[:resources].insert(row.merge(id: "a", uuid: "u"))
    assert_raises(Sequel::UniqueConstraintViolation) { @db[:resources].insert(row.merge(id: "b", uuid: "u")) }
    # Requests without a uuid (old v1 ones) may be many.
    @db[:resources].insert(row.merge(id: "c", uuid: nil))
    @db[:resources].insert(row.merge(id: "d", uuid: nil))
  end

  def test_the_embedded_database_lives_under_data
    url = Database.url({ "APP_ENV" => "development" })
    assert_equal "sqlite://#{File.join(Database::ROOT, 'data', 'development.sqlite3')}", url
    assert_equal "postgres://u@h/db", Database.url({ "DATABASE_URL" => "postgres://u@h/db" })
  end
end
