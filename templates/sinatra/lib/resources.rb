# frozen_string_literal: true

require "digest"
require "json"
require "rack/utils"
require "securerandom"
require "uri"

# The add-on resources, in the `resources` table. Each one has credentials of
# its own: a random API token that the config var carries in its URL
# (https://<id>:<token>@host/api/resource, like DATABASE_URL). The database
# keeps the token's SHA-256 digest to check it, and a copy sealed with
# ENCRYPTION_KEY so a redelivered provision request (or the asynchronous job after
# a restart) can hand Heroku the same config var again; never the token in clear.
class Resources
  STATES = %w[provisioning provisioned failed deprovisioned].freeze

  Resource = Struct.new(:id, :uuid, :heroku_id, :plan, :region, :callback_url, :options, :state,
                        :public_url, :token_digest, :token_ciphertext, :api_calls,
                        :created_at, :updated_at, :deprovisioned_at, keyword_init: true) do
    def self.from_row(row)
      row && new(**row.slice(*members))
    end

    def deprovisioned?
      state == "deprovisioned"
    end

    # Never shows the credentials, wherever a resource ends up printed.
    def inspect
      "#<resource #{id} uuid=#{uuid.inspect} plan=#{plan.inspect} state=#{state}>"
    end
    alias_method :to_s, :inspect
  end

  def initialize(db, box)
    @db = db
    @box = box
  end

  # Creates the resource for Heroku's `uuid`, or finds the one a previous
  # delivery of the same request created: ONE statement on the unique index of
  # uuid (insert ... on conflict (uuid) do update ... returning), so concurrent
  # copies of a request make one resource and each gets it back. Returns
  # [resource, created]; the caller tells a deprovisioned one (410) by its state.
  def provision(plan:, public_url:, uuid: nil, heroku_id: nil, region: nil, callback_url: nil,
                options: {}, async: false)
    now = Time.now
    token = SecureRandom.hex(32) # 256 bits from the OS's random source
    id = SecureRandom.hex(12)    # the provider's own id, never derived from Heroku's
    row = { id: id, uuid: uuid, heroku_id: heroku_id, plan: plan, region: region,
            callback_url: callback_url, options: JSON.generate(options),
            state: async ? "provisioning" : "provisioned", public_url: public_url,
            token_digest: digest(token), token_ciphertext: @box.seal(token),
            api_calls: 0, created_at: now, updated_at: now }
    dataset = @db[:resources]
    dataset = dataset.insert_conflict(target: :uuid, update: { uuid: Sequel[:excluded][:uuid] }) if uuid
    stored = Resource.from_row(dataset.returning.insert(row).first)
    [stored, stored.id == id]
  end

  def find(id)
    Resource.from_row(@db[:resources].where(id: id.to_s).first)
  end

  def find_by_uuid(uuid)
    Resource.from_row(@db[:resources].where(uuid: uuid.to_s).first)
  end

  # The config var's value: the public URL of the resource API with the
  # resource's credentials in it. nil once the credentials are revoked.
  def config_url(resource)
    token = @box.open(resource.token_ciphertext) or return nil
    uri = URI.parse("#{resource.public_url.chomp('/')}/api/resource")
    uri.userinfo = "#{resource.id}:#{token}"
    uri.to_s
  end

  # The live resource whose credentials these are, else nil. The digests are
  # compared in constant time.
  def authenticate(id, token)
    resource = find(id)
    given = digest(token.to_s)
    stored = resource&.token_digest || ("0" * given.length) # compare even when there is none
    return nil unless Rack::Utils.secure_compare(given, stored) && resource && !resource.deprovisioned?

    resource
  end

  # Counts one API call, unless the plan's limit is reached: one conditional
  # UPDATE, so concurrent calls cannot overshoot it. Returns the new count, or nil.
  def count_call(id, limit)
    ds = @db[:resources].where(id: id).exclude(state: "deprovisioned")
    ds = ds.where(Sequel[:api_calls] < limit) if limit
    ds.returning(:api_calls).update(api_calls: Sequel[:api_calls] + 1).first&.fetch(:api_calls)
  end

  # Returns the updated resource, or nil when it is gone (deprovisioned).
  def change_plan(id, plan)
    updated = @db[:resources].where(id: id).exclude(state: "deprovisioned").returning
                             .update(plan: plan, updated_at: Time.now)
    Resource.from_row(updated.first)
  end

  # Revokes the credentials and marks the resource deprovisioned; the row stays,
  # so the uuid is never provisioned again. Returns the resource as it was, or nil
  # when it is unknown or already deprovisioned.
  def deprovision(id)
    before = find(id) or return nil
    now = Time.now
    changed = @db[:resources].where(id: id).exclude(state: "deprovisioned")
                             .update(state: "deprovisioned", token_digest: nil, token_ciphertext: nil,
                                     deprovisioned_at: now, updated_at: now)
    changed == 1 ? before : nil
  end

  # The asynchronous job's outcome; only a resource still provisioning changes.
  def finish_provisioning(id, state)
    @db[:resources].where(id: id, state: "provisioning").update(state: state, updated_at: Time.now) == 1
  end

  private

  def digest(token)
    Digest::SHA256.hexdigest(token)
  end
end
