# frozen_string_literal: true

require "logger"
require_relative "database"
require_relative "heroku_client"

# Runs the persisted jobs (lib/jobs.rb) in a thread of the web process: on start
# it picks up every unfinished job where its step left it, then wakes when a
# request queues one and every `poll_interval` seconds for retries and for jobs
# queued by other processes. One process at a time runs jobs (a lock that dies
# with its holder, lib/database.rb), so no grant is ever exchanged twice.
#
# A failed call is tried again with exponential backoff (or after the
# Retry-After Heroku sent) for 429, 5xx and network errors, `max_attempts` times
# in all; any other answer fails the job at once. Access tokens are refreshed
# before any Platform API call once they are expired or within a minute of it.
# Each step is stored as soon as its call has answered; a process killed in the
# instant between the identity service's answer and that commit cannot exchange
# the grant again (a code works once), and that job fails. A bigger service can
# move #work_off into a job queue's process; the jobs table stays the same.
class JobWorker
  REFRESH_MARGIN = 60 # seconds before expiry that a token counts as expired

  attr_reader :logger

  def initialize(db:, jobs:, resources:, heroku:, config_var:, logger: Logger.new($stderr, progname: "jobs"),
                 poll_interval: 1, max_attempts: 8, backoff: 1, max_backoff: 300)
    @db = db
    @jobs = jobs
    @resources = resources
    @heroku = heroku
    @config_var = config_var
    @logger = logger
    @poll_interval = poll_interval
    @max_attempts = max_attempts
    @backoff = backoff
    @max_backoff = max_backoff
    @lock = Mutex.new
    @woken = ConditionVariable.new
    @pending = false # a wake-up came while a pass was running
    @stopping = false
    @thread = nil
  end

  def start
    @thread ||= Thread.new do
      Thread.current.name = "job worker"
      run
    end
    self
  end

  # Finishes the step at hand, then stops; waits `timeout` seconds at most.
  def stop(timeout: 15)
    thread = @thread or return
    @lock.synchronize do
      @stopping = true
      @woken.signal
    end
    thread.join(timeout)
    @thread = nil
  end

  # Something is due now (a job queued by a request of this process).
  def wake
    @lock.synchronize do
      @pending = true
      @woken.signal
    end
  end

  # Runs every due job as far as it can go now. Returns how many ran, or nil
  # when another process holds the worker lock.
  def work_off(now = Time.now)
    Database.lock(@db, "jobs", wait: false) do
      due = @jobs.due(now)
      due.each { |job| perform(job, now) }
      due.size
    end
  end

  # Takes one job through its steps until it is finished or must wait (until after `now`).
  def perform(job, now = Time.now)
    while job && Jobs::RUNNABLE.include?(job.step) && job.run_at <= now
      step = job.step
      send(step, job)
      job = @jobs.find(job.id)
      break if job.step == step # not advanced: it waits for a retry
    end
  rescue HerokuClient::Retry => e
    retry_later(job, e.message, e.retry_after)
  rescue HerokuClient::Refused => e
    give_up(job, e.message)
  rescue StandardError => e
    # The class only: an unexpected error's message is not checked for secrets.
    retry_later(job, "unexpected #{e.class}", nil)
  end

  private

  def run
    until @stopping
      begin
        work_off
      rescue StandardError => e # the database away for a moment: try again later
        @logger.error("job worker: #{e.class}")
      end
      @lock.synchronize do
        @woken.wait(@lock, @poll_interval) unless @pending || @stopping
        @pending = false
      end
    end
  end

  # --- the steps: each one makes one call, then moves the job on -------------------

  def accepted(job)
    if job.grant_expires_at && Time.now > job.grant_expires_at
      raise HerokuClient::Refused, "the grant code expired at #{job.grant_expires_at.utc.iso8601} " \
                                   "before it could be exchanged"
    end
    tokens = @heroku.exchange_grant(job.identity_url, job.grant_code)
    @jobs.advance(job, "grant_exchanged", grant_code: nil, access_token: tokens.access_token,
                                          refresh_token: tokens.refresh_token,
                                          access_token_expires_at: tokens.expires_at)
  end

  def grant_exchanged(job)
    resource = @resources.find(job.resource_id)
    url = resource && @resources.config_url(resource)
    return unless url # deprovisioned meanwhile: the DELETE moved the job on

    @heroku.set_config(job.callback_url, fresh_token(job), @config_var => url)
    @jobs.advance(job, "config_set")
  end

  def config_set(job)
    @heroku.mark_provisioned(job.callback_url, fresh_token(job))
    @db.transaction do
      @resources.finish_provisioning(job.resource_id, "provisioned") if @jobs.advance(job, "done")
    end
    @logger.info("resource #{job.resource_id}: provisioned")
  end

  def deprovisioning(job)
    @heroku.mark_deprovisioned(job.callback_url, fresh_token(job))
    @jobs.advance(job, "deprovisioned", access_token: nil, refresh_token: nil, access_token_expires_at: nil)
    @logger.info("resource #{job.resource_id}: deprovisioned")
  end

  # The job's access token, refreshed first (and the new tokens stored) when it
  # has expired or is about to.
  def fresh_token(job)
    expires_at = job.access_token_expires_at
    return job.access_token unless expires_at && Time.now >= expires_at - REFRESH_MARGIN
    raise HerokuClient::Refused, "the access token expired and there is no refresh token" unless job.refresh_token

    tokens = @heroku.refresh(job.identity_url, job.refresh_token)
    @jobs.save_tokens(job, access_token: tokens.access_token, refresh_token: tokens.refresh_token,
                           access_token_expires_at: tokens.expires_at)
    job.access_token = tokens.access_token
    job.refresh_token = tokens.refresh_token
    job.access_token_expires_at = tokens.expires_at
    tokens.access_token
  end

  # --- failures ---------------------------------------------------------------------

  def retry_later(job, error, retry_after)
    current = @jobs.find(job.id)
    return unless current && current.step == job.step

    return give_up(current, "#{error} (gave up after #{current.attempts + 1} tries)") if current.attempts + 1 >= @max_attempts

    pause = retry_after || [@backoff * (2**current.attempts), @max_backoff].min
    @jobs.retry_later(current, error, Time.now + pause)
    @logger.warn("resource #{job.resource_id}: #{error}; trying again in #{pause.round(2)} s " \
                 "(#{current.attempts + 2} of #{@max_attempts})")
  end

  def give_up(job, error)
    current = @jobs.find(job.id)
    return unless current && current.step == job.step

    @db.transaction do
      @jobs.fail(current, error)
      @resources.finish_provisioning(job.resource_id, "failed") unless job.step == "deprovisioning"
    end
    @logger.error("resource #{job.resource_id}: #{job.step == 'deprovisioning' ? 'deprovisioning' : 'provisioning'} " \
                  "failed: #{error}")
  end
end
