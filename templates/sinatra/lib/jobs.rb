# frozen_string_literal: true

# The persisted asynchronous jobs, in the `jobs` table: one per resource
# provisioned on the async plan. The OAuth grant code and tokens are sealed with
# ENCRYPTION_KEY in the database and opened only in memory (Job below).
#
#   accepted --exchange the grant--> grant_exchanged --PATCH config--> config_set
#            --POST actions/provision--> done
#   (a DELETE) deprovisioning --POST actions/deprovision--> deprovisioned
#   cancelled: deprovisioned before the grant was exchanged; failed: last_error says why
#
# Every change of step is conditional on the step it starts from, so a job that
# moved on meanwhile (a DELETE, another process) is never overwritten.
class Jobs
  RUNNABLE = %w[accepted grant_exchanged config_set deprovisioning].freeze
  FINISHED = %w[done deprovisioned cancelled failed].freeze
  SECRETS = { grant_code: :grant_code_ciphertext, access_token: :access_token_ciphertext,
              refresh_token: :refresh_token_ciphertext }.freeze

  Job = Struct.new(:id, :resource_id, :step, :callback_url, :identity_url, :grant_code, :grant_expires_at,
                   :access_token, :refresh_token, :access_token_expires_at, :attempts, :last_error,
                   :run_at, :created_at, :updated_at, keyword_init: true) do
    # Never shows the grant code or the tokens, wherever a job ends up printed.
    def inspect
      "#<job #{id} resource=#{resource_id} step=#{step} attempts=#{attempts}>"
    end
    alias_method :to_s, :inspect
  end

  def initialize(db, box)
    @db = db
    @box = box
  end

  # A new job for a resource just created; a second one for the same resource is
  # ignored (the unique index on resource_id).
  def create(resource_id:, callback_url:, identity_url:, grant_code:, grant_expires_at: nil, run_at: Time.now)
    now = Time.now
    @db[:jobs].insert_conflict(target: :resource_id).insert(
      resource_id: resource_id, step: "accepted", callback_url: callback_url, identity_url: identity_url,
      grant_code_ciphertext: @box.seal(grant_code), grant_expires_at: grant_expires_at,
      attempts: 0, run_at: run_at, created_at: now, updated_at: now
    )
  end

  def find(id)
    load(@db[:jobs].where(id: id).first)
  end

  def for_resource(resource_id)
    load(@db[:jobs].where(resource_id: resource_id).first)
  end

  # Unfinished jobs whose time has come, oldest first.
  def due(now = Time.now, limit: 100)
    @db[:jobs].where(step: RUNNABLE).where { run_at <= now }.order(:run_at, :id).limit(limit).all.map { |r| load(r) }
  end

  # When the next unfinished job is due (nil: none is waiting).
  def next_run_at
    @db[:jobs].where(step: RUNNABLE).min(:run_at)
  end

  # Moves `job` from the step it is at to `step`, saving `changes` (plaintext
  # secrets are sealed); false when the job was no longer at that step.
  def advance(job, step, **changes)
    update(job, step: step, attempts: 0, last_error: nil, **changes)
  end

  # Stores new tokens (a refresh) without changing the step.
  def save_tokens(job, access_token:, refresh_token:, access_token_expires_at:)
    update(job, access_token: access_token, refresh_token: refresh_token,
                access_token_expires_at: access_token_expires_at)
  end

  # One more failed try of the current step; it runs again at `run_at`.
  def retry_later(job, error, run_at)
    update(job, attempts: job.attempts + 1, last_error: error, run_at: run_at)
  end

  def fail(job, error)
    update(job, step: "failed", attempts: job.attempts + 1, last_error: error)
  end

  # A DELETE of the job's resource. With a token to call Heroku back with, the job
  # goes on to `deprovisioning` (returns true: answer 202); before the grant was
  # exchanged it is cancelled (returns false: nothing to tell Heroku).
  def request_deprovision(resource_id)
    now = Time.now
    open = @db[:jobs].where(resource_id: resource_id).exclude(step: %w[deprovisioning deprovisioned cancelled])
    with_token = open.exclude(access_token_ciphertext: nil)
                     .update(step: "deprovisioning", attempts: 0, last_error: nil, run_at: now, updated_at: now)
    return true if with_token.positive?

    open.where(access_token_ciphertext: nil).exclude(step: "failed")
        .update(step: "cancelled", grant_code_ciphertext: nil, updated_at: now)
    false
  end

  private

  def update(job, **changes)
    row = changes.to_h do |key, value|
      SECRETS.key?(key) ? [SECRETS[key], @box.seal(value)] : [key, value]
    end
    @db[:jobs].where(id: job.id, step: job.step).update(row.merge(updated_at: Time.now)) == 1
  end

  def load(row)
    return nil unless row

    fields = row.slice(*Job.members)
    SECRETS.each { |name, column| fields[name] = @box.open(row[column]) }
    Job.new(**fields)
  end
end
