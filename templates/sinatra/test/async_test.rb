# frozen_string_literal: true

require_relative "test_helper"
require_relative "fake_heroku"
require "stringio"

# Asynchronous provisioning (v3) as persisted jobs, against a fake Heroku on
# loopback. The tests run the worker's passes themselves (JobWorker#work_off),
# with a clock of their choosing, rather than waiting for its thread.
class AsyncTest < Minitest::Test
  include Rack::Test::Methods
  include TestHelpers

  CONFIG_VAR = ADDON[:config_var]
  API_ACCEPT = "application/vnd.heroku+json; version=3"

  def app
    AddonApp
  end

  def setup
    reset_database
    @fake = FakeHeroku.new
    @log = StringIO.new
    @worker = new_worker
    @original_worker = AddonApp.settings.worker
    AddonApp.set :worker, @worker
    basic_authorize "test-addon", "test-password"
  end

  def teardown
    AddonApp.set :worker, @original_worker
    @fake.stop
  end

  # A worker as the app builds one, with short pauses between tries; `client_secret`
  # and `db` can differ (a process started anew has a connection of its own).
  def new_worker(db: self.db, client_secret: CLIENT_SECRET, max_attempts: 3)
    box = SecretBox.from_env
    JobWorker.new(db: db, jobs: Jobs.new(db, box), resources: Resources.new(db, box),
                  heroku: HerokuClient.new(client_secret: client_secret, timeout: 2), config_var: CONFIG_VAR,
                  logger: Logger.new(@log), backoff: 0.01, max_attempts: max_attempts)
  end

  def json
    JSON.parse(last_response.body)
  end

  def provision_async(uuid = SecureRandom.uuid, code: "grant-#{SecureRandom.hex(8)}",
                      callback_url: @fake.callback_url(uuid), expires_at: Time.now + 300)
    body = { uuid: uuid, name: "acme-inc-1", plan: "async", region: "amazon-web-services::us-east-1",
             callback_url: callback_url, options: {},
             oauth_grant: { code: code, expires_at: expires_at.utc.iso8601, type: "authorization_code" } }
    post "/heroku/resources", JSON.generate(body), "CONTENT_TYPE" => "application/json"
    json
  end

  def job_of(id)
    jobs.for_resource(id)
  end

  # Runs the worker's passes until nothing is due even `ahead` seconds from now.
  def work_off(worker = @worker, ahead: 0)
    5.times { worker.work_off(Time.now + ahead) }
  end

  def assert_api_call(request, method, token)
    assert_equal method, request.method
    assert_equal "Bearer #{token}", request.headers["authorization"]
    assert_equal API_ACCEPT, request.headers["accept"]
  end

  def assert_log_keeps_secrets
    refute_includes @log.string, CLIENT_SECRET
    refute_match(/access-token-|refresh-token-|grant-/, @log.string)
  end

  # --- the flow ----------------------------------------------------------------

  def test_async_plan_answers_202_then_the_job_provisions_through_the_api
    uuid = SecureRandom.uuid
    code = "grant-#{SecureRandom.hex(8)}"
    body = provision_async(uuid, code: code)
    assert_equal 202, last_response.status
    assert_equal %w[id message], body.keys.sort
    assert_equal "accepted", job_of(body["id"]).step
    assert_empty @fake.requests # nothing before the worker's pass

    work_off
    exchange, patch, done = @fake.requests
    assert_equal ["/oauth/token", "/addons/#{uuid}/config", "/addons/#{uuid}/actions/provision"],
                 @fake.requests.map(&:path)

    # 1. the grant exchange: a form, at the callback's origin (a loopback callback, no HEROKU_IDENTITY_URL)
    assert_equal "POST", exchange.method
    assert_equal "application/x-www-form-urlencoded", exchange.headers["content-type"]
    assert_equal({ "grant_type" => "authorization_code", "code" => code, "client_secret" => CLIENT_SECRET },
                 exchange.form)

    # 2. the config, with the exchanged token: the resource API URL with its credentials
    assert_api_call patch, "PATCH", "access-token-1"
    resource = resources.find(body["id"])
    assert_equal({ "config" => [{ "name" => CONFIG_VAR, "value" => resources.config_url(resource) }] }, patch.json)
    assert_match %r{\Ahttp://#{body['id']}:\h{64}@addon\.test/api/resource\z}, resources.config_url(resource)

    # 3. provisioned
    assert_api_call done, "POST", "access-token-1"
    assert_equal "provisioned", resource.state
    assert_equal "done", job_of(body["id"]).step
    assert_log_keeps_secrets

    # A redelivery now gets the config with the same id.
    again = provision_async(uuid, code: code)
    assert_equal 200, last_response.status
    assert_equal body["id"], again["id"]
    assert_equal({ CONFIG_VAR => resources.config_url(resource) }, again["config"])
  end

  def test_async_delay_seconds_holds_the_first_step_back
    with_setting(:async_delay, 30) do
      id = provision_async["id"]
      assert_in_delta Time.now + 30, job_of(id).run_at, 5
      work_off
      assert_empty @fake.requests
      work_off(ahead: 31)
      assert_equal "done", job_of(id).step
    end
  end

  def test_redelivery_while_provisioning_gives_the_same_id_and_one_job
    uuid = SecureRandom.uuid
    first = provision_async(uuid)
    again = provision_async(uuid)
    assert_equal 202, last_response.status
    assert_equal first["id"], again["id"]
    refute again.key?("config")
    assert_equal 1, db[:jobs].count
    work_off
    assert_equal 1, @fake.requests_to("/oauth/token").size
  end

  def test_concurrent_copies_of_one_request_make_one_resource_and_one_job
    uuid = SecureRandom.uuid
    body = JSON.generate(uuid: uuid, plan: "async", callback_url: @fake.callback_url(uuid),
                         oauth_grant: { code: "c" })
    auth = "Basic #{['test-addon:test-password'].pack('m0')}"
    answers = Array.new(16) do
      Thread.new do
        app.call(Rack::MockRequest.env_for("/heroku/resources", method: "POST", input: body,
                                                                "CONTENT_TYPE" => "application/json",
                                                                "HTTP_AUTHORIZATION" => auth))
      end
    end.map(&:value)
    assert_equal [202], answers.map(&:first).uniq
    assert_equal 1, answers.map { |_, _, response| JSON.parse(response.each.to_a.join)["id"] }.uniq.size
    assert_equal 1, db[:resources].count
    assert_equal 1, db[:jobs].count
  end

  # --- restart safety ------------------------------------------------------------------

  def test_a_restarted_process_resumes_the_job_where_it_stopped_without_a_second_exchange
    uuid = SecureRandom.uuid
    @fake.fail("/addons/#{uuid}/config", 503) # the first process stops after the exchange
    id = provision_async(uuid)["id"]
    @worker.work_off
    job = job_of(id)
    assert_equal "grant_exchanged", job.step
    assert_equal 1, job.attempts
    assert_match(/PATCH config answered 503/, job.last_error)

    # "Restart": a new connection, new repositories and a new worker; nothing kept in memory.
    restarted_db = Database.connect(ENV.fetch("DATABASE_URL"))
    begin
      work_off(new_worker(db: restarted_db), ahead: 60)
    ensure
      restarted_db.disconnect
    end
    assert_equal "done", job_of(id).step
    assert_equal "provisioned", resources.find(id).state
    assert_equal 1, @fake.requests_to("/oauth/token").size # the grant code works once
    assert_equal 2, @fake.requests_to("/addons/#{uuid}/config").size
  end

  def test_a_new_worker_thread_resumes_unfinished_jobs_on_start
    id = provision_async["id"] # accepted; no worker ran
    worker = new_worker.start
    begin
      eventually("the job to finish") { job_of(id).step == "done" }
    ensure
      worker.stop(timeout: 5)
    end
    assert_equal "provisioned", resources.find(id).state
  end

  def test_the_worker_wakes_when_a_request_queues_a_job
    worker = new_worker
    AddonApp.set :worker, worker
    worker.instance_variable_set(:@poll_interval, 60) # only a wake-up can start the job in time
    worker.start
    begin
      sleep 0.1 # the first pass has found nothing and the thread waits
      id = provision_async["id"]
      eventually("the job to finish") { job_of(id).step == "done" }
    ensure
      worker.stop(timeout: 5)
    end
  end

  def test_one_process_at_a_time_runs_jobs
    provision_async
    held = Queue.new
    release = Queue.new
    holder = Thread.new { Database.lock(db, "jobs") { held << true; release.pop } }
    held.pop
    assert_nil @worker.work_off # another process's worker holds the lock
    assert_empty @fake.requests
    release << true
    holder.join
    assert_equal 1, @worker.work_off
  end

  # --- tokens ----------------------------------------------------------------------------

  def test_an_expired_access_token_is_refreshed_before_the_platform_api_call
    uuid = SecureRandom.uuid
    @fake.fail("/addons/#{uuid}/config", 503)
    id = provision_async(uuid)["id"]
    @worker.work_off
    db[:jobs].where(resource_id: id).update(access_token_expires_at: Time.now - 1)

    work_off(ahead: 60)
    refresh = @fake.requests_to("/oauth/token").last
    assert_equal({ "grant_type" => "refresh_token", "refresh_token" => "refresh-token-1",
                   "client_secret" => CLIENT_SECRET }, refresh.form)
    assert_api_call @fake.requests_to("/addons/#{uuid}/config").last, "PATCH", "access-token-2"
    assert_api_call @fake.requests_to("/addons/#{uuid}/actions/provision").last, "POST", "access-token-2"
    job = job_of(id)
    assert_equal %w[access-token-2 refresh-token-2], [job.access_token, job.refresh_token]
    assert_in_delta Time.now + 28_800, job.access_token_expires_at, 60
  end

  def test_a_token_within_a_minute_of_expiry_counts_as_expired
    @fake.expires_in = 30
    uuid = SecureRandom.uuid
    provision_async(uuid)
    work_off
    assert_equal %w[authorization_code refresh_token refresh_token],
                 @fake.requests_to("/oauth/token").map { |r| r.form["grant_type"] }
  end

  def test_the_database_never_holds_a_token_or_grant_code_in_clear
    uuid = SecureRandom.uuid
    code = "grant-#{SecureRandom.hex(8)}"
    @fake.fail("/addons/#{uuid}/actions/provision", 503) # keep the tokens on the job
    id = provision_async(uuid, code: code)["id"]
    stored = db[:jobs].first
    refute_nil stored[:grant_code_ciphertext]
    refute_includes stored.values.join(" "), code
    @worker.work_off # one pass: it stops at the provision action's 503

    job_row = db[:jobs].first
    assert_equal "config_set", job_row[:step]
    %i[access_token_ciphertext refresh_token_ciphertext].each { |c| assert_match(/\Av1:/, job_row[c]) }
    assert_equal "access-token-1", job_of(id).access_token # opened only in memory
    dump = [db[:jobs].all, db[:resources].all].flatten.map { |row| row.values.join(" ") }.join("\n")
    secrets = ["access-token-1", "refresh-token-1", code, CLIENT_SECRET,
               URI.parse(resources.config_url(resources.find(id))).password]
    secrets.each { |secret| refute_includes dump, secret }
    return if TestDatabase.postgres?

    db.run("PRAGMA wal_checkpoint(TRUNCATE)") # everything in the database file itself
    raw = File.binread(db.opts[:database])
    secrets.each { |secret| refute_includes raw, secret }
  end

  # --- failures --------------------------------------------------------------------------

  def test_429_and_5xx_are_retried_with_backoff_and_retry_after
    uuid = SecureRandom.uuid
    @fake.fail("/oauth/token", 503)
    @fake.fail("/addons/#{uuid}/config", 429, headers: { "Retry-After" => "120" })
    id = provision_async(uuid)["id"]
    @worker.work_off
    assert_equal 1, job_of(id).attempts # the 503: backoff of 0.01 s
    sleep 0.05
    @worker.work_off
    job = job_of(id)
    assert_equal "grant_exchanged", job.step
    assert_in_delta Time.now + 120, job.run_at, 5 # Retry-After honoured
    @worker.work_off
    assert_equal 1, @fake.requests_to("/addons/#{uuid}/config").size

    work_off(ahead: 121)
    assert_equal "done", job_of(id).step
    assert_match(/429; trying again in 120 s/, @log.string)
  end

  def test_gives_up_after_max_attempts
    uuid = SecureRandom.uuid
    @fake.fail("/addons/#{uuid}/actions/provision", 503, times: 3)
    id = provision_async(uuid)["id"]
    work_off(ahead: 60)
    job = job_of(id)
    assert_equal "failed", job.step
    assert_match(%r{POST actions/provision answered 503.*gave up after 3 tries}, job.last_error)
    assert_equal "failed", resources.find(id).state
    assert_equal 3, @fake.requests_to("/addons/#{uuid}/actions/provision").size
    assert_log_keeps_secrets

    provision_async(uuid)
    assert_equal 422, last_response.status
  end

  def test_4xx_answers_are_not_retried
    @fake.fail("/oauth/token", 400)
    id = provision_async["id"]
    work_off(ahead: 60)
    assert_equal "failed", job_of(id).step
    assert_equal ["/oauth/token"], @fake.requests.map(&:path)
    assert_match(/grant exchange answered 400: injected 400/, job_of(id).last_error)
    assert_log_keeps_secrets
  end

  def test_network_errors_are_retried
    closed = TCPServer.new("127.0.0.1", 0)
    port = closed.addr[1]
    closed.close # nothing listens there now
    id = provision_async(callback_url: "http://127.0.0.1:#{port}/addons/x")["id"]
    work_off(ahead: 60)
    assert_equal "failed", job_of(id).step
    assert_equal 2, @log.string.scan(/grant exchange failed: Errno::ECONNREFUSED; trying again/).size
    assert_match(/gave up after 3 tries/, @log.string)
  end

  def test_an_expired_grant_is_not_sent
    id = provision_async(expires_at: Time.now - 1)["id"]
    work_off
    assert_equal "failed", job_of(id).step
    assert_match(/grant code expired/, job_of(id).last_error)
    assert_empty @fake.requests
  end

  def test_without_a_client_secret_nothing_is_sent
    id = provision_async["id"]
    work_off(new_worker(client_secret: ""))
    assert_equal "failed", job_of(id).step
    assert_match(/HEROKU_CLIENT_SECRET is not set/, job_of(id).last_error)
    assert_empty @fake.requests
  end

  def test_heroku_identity_url_is_where_the_grant_is_exchanged
    with_setting(:identity_url, "#{@fake.url}/identity/") do
      provision_async
    end
    work_off
    assert_equal "/identity/oauth/token", @fake.requests.first.path
  end

  def test_async_plan_needs_a_callback_url_and_a_grant
    post "/heroku/resources", JSON.generate(plan: "async", uuid: SecureRandom.uuid), "CONTENT_TYPE" => "application/json"
    assert_equal 422, last_response.status
    post "/heroku/resources", JSON.generate(plan: "async", callback_url: @fake.callback_url("x")),
         "CONTENT_TYPE" => "application/json"
    assert_equal 422, last_response.status
    assert_equal 0, db[:resources].count
  end

  def test_other_plans_stay_synchronous
    uuid = SecureRandom.uuid
    post "/heroku/resources", JSON.generate(uuid: uuid, plan: "test", callback_url: @fake.callback_url(uuid),
                                            oauth_grant: { code: "c" }), "CONTENT_TYPE" => "application/json"
    assert_equal 201, last_response.status
    assert json["config"][CONFIG_VAR]
    delete "/heroku/resources/#{json['id']}"
    assert_equal 204, last_response.status
    work_off
    assert_empty @fake.requests
    assert_equal 0, db[:jobs].count
  end

  # --- deprovision -------------------------------------------------------------------

  def test_async_deprovision_answers_202_then_calls_actions_deprovision
    uuid = SecureRandom.uuid
    id = provision_async(uuid)["id"]
    work_off
    config = resources.config_url(resources.find(id))

    delete "/heroku/resources/#{id}"
    assert_equal 202, last_response.status
    assert_kind_of String, json["message"]
    assert_equal "deprovisioning", job_of(id).step
    assert_nil resources.config_url(resources.find(id)) # revoked at once
    uri = URI.parse(config)
    basic_authorize uri.user, uri.password
    get "/api/resource"
    assert_equal 401, last_response.status

    work_off
    assert_api_call @fake.requests_to("/addons/#{uuid}/actions/deprovision").first, "POST", "access-token-1"
    job = db[:jobs].first
    assert_equal "deprovisioned", job[:step]
    assert_nil job[:access_token_ciphertext] # no use for the tokens any more
    assert_nil job[:refresh_token_ciphertext]

    basic_authorize "test-addon", "test-password"
    delete "/heroku/resources/#{id}"
    assert_equal 410, last_response.status
  end

  def test_async_deprovision_refreshes_an_expired_token
    uuid = SecureRandom.uuid
    id = provision_async(uuid)["id"]
    work_off
    db[:jobs].update(access_token_expires_at: Time.now - 1)

    delete "/heroku/resources/#{id}"
    assert_equal 202, last_response.status
    work_off
    assert_equal "refresh_token", @fake.requests_to("/oauth/token").last.form["grant_type"]
    assert_api_call @fake.requests_to("/addons/#{uuid}/actions/deprovision").first, "POST", "access-token-2"
  end

  def test_deprovision_before_the_grant_was_exchanged_cancels_the_job
    id = provision_async["id"]
    delete "/heroku/resources/#{id}"
    assert_equal 204, last_response.status # no token to call Heroku back with: gone at once
    assert_equal "cancelled", job_of(id).step
    work_off
    assert_empty @fake.requests
  end

  def test_deprovision_in_mid_provisioning_moves_the_job_to_deprovisioning
    uuid = SecureRandom.uuid
    @fake.fail("/addons/#{uuid}/config", 503)
    id = provision_async(uuid)["id"]
    @worker.work_off # exchanged, config failed once
    delete "/heroku/resources/#{id}"
    assert_equal 202, last_response.status
    work_off(ahead: 60)
    assert_equal "deprovisioned", job_of(id).step
    assert_equal 1, @fake.requests_to("/addons/#{uuid}/config").size # never set after the DELETE
    assert_equal 1, @fake.requests_to("/addons/#{uuid}/actions/deprovision").size
    assert_empty @fake.requests_to("/addons/#{uuid}/actions/provision")
  end
end
