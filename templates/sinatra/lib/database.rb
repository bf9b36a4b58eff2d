# frozen_string_literal: true

require "digest"
require "fileutils"
require "sequel"

# The SQL database: Postgres from DATABASE_URL (Heroku Postgres sets it), else an
# SQLite file under data/ that needs no server. Schema changes are the numbered
# Sequel migrations in db/migrations, recorded in the schema_migrations table.
module Database
  ROOT = File.expand_path("..", __dir__)
  MIGRATIONS = File.join(ROOT, "db", "migrations")

  # Every timestamp is stored and compared in UTC, whatever the machine's zone.
  Sequel.default_timezone = :utc

  module_function

  # DATABASE_URL when set (postgres://, postgresql://, or any URL Sequel knows);
  # otherwise data/<environment>.sqlite3 in the project directory.
  def url(env = ENV)
    url = env.fetch("DATABASE_URL", "").strip
    return url unless url.empty?

    environment = env.fetch("APP_ENV") { env.fetch("RACK_ENV", "development") }
    "sqlite://#{File.join(ROOT, 'data', "#{environment}.sqlite3")}"
  end

  # max_connections: Puma's threads (MAX_THREADS, config/puma.rb) plus the job
  # worker. SQLite gets a single connection: the sqlite3 gem waits for a locked
  # database without releasing Ruby's global lock, so two connections in one
  # process could only block each other; with one, the pool queues the (short)
  # statements instead.
  def connect(url, max_connections: Integer(ENV.fetch("MAX_THREADS", "5")) + 1, **options)
    sqlite = url.start_with?("sqlite:")
    if sqlite
      file = url.sub(%r{\Asqlite:(//)?}, "")
      FileUtils.mkdir_p(File.dirname(file)) unless file.empty? || file == ":memory:"
      options[:max_connections] = 1
    else
      options[:max_connections] ||= max_connections
    end
    db = Sequel.connect(url, **options)
    db.run("PRAGMA journal_mode = WAL") if sqlite && !memory?(db) # readers do not wait for a writer process
    db
  end

  def postgres?(db)
    db.database_type == :postgres
  end

  def memory?(db)
    db.database_type == :sqlite && ["", ":memory:"].include?(db.opts[:database].to_s)
  end

  # Applies the pending migrations. Two processes starting at once (a release
  # phase and a dyno, two dynos) take turns: the second finds nothing left to do.
  def migrate!(db)
    Sequel.extension :migration
    lock(db, "migrations") { Sequel::TimestampMigrator.new(db, MIGRATIONS).run }
  end

  def current?(db)
    Sequel.extension :migration
    Sequel::TimestampMigrator.new(db, MIGRATIONS).is_current?
  end

  # Runs the block while holding the lock `name`, shared by every process using
  # this database, and returns its value. With wait: false, returns nil at once
  # when another process holds it. A lock dies with its holder (a killed process
  # never leaves one behind): a Postgres advisory lock belongs to the connection,
  # an flock on the SQLite file's lock file to the process.
  def lock(db, name, wait: true, &block)
    postgres?(db) ? advisory_lock(db, name, wait, &block) : file_lock(db, name, wait, &block)
  end

  def advisory_lock(db, name, wait)
    key = Digest::SHA256.digest("addon:#{name}").unpack1("q>") # a signed 64-bit key
    db.synchronize do # one connection for the lock, the block and the unlock
      if wait
        db.get(Sequel.function(:pg_advisory_lock, key))
      elsif !db.get(Sequel.function(:pg_try_advisory_lock, key))
        return nil
      end
      begin
        yield
      ensure
        db.get(Sequel.function(:pg_advisory_unlock, key))
      end
    end
  end

  def file_lock(db, name, wait)
    return yield if memory?(db) # a private in-memory database: no other process sees it

    File.open("#{db.opts[:database]}.#{name}.lock", File::RDWR | File::CREAT, 0o600) do |file|
      return nil unless file.flock(wait ? File::LOCK_EX : File::LOCK_EX | File::LOCK_NB)

      yield
    end
  end
end
