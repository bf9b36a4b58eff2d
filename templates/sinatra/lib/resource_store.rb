# frozen_string_literal: true

require "securerandom"

# Where provisioned resources live.
#
# This one keeps them in memory: they vanish when the process restarts and are
# not shared between dynos. A real provider plugs its database in here, behind
# the same six methods, with a unique index on `uuid` (Heroku delivers a
# provision request at least once, so the same uuid may arrive twice, even
# several copies at the same moment). The OAuth tokens of asynchronously
# provisioned resources are secrets: encrypt those columns in a real database.
class ResourceStore
  # `state` is "provisioned", or for an asynchronous (v3) resource "provisioning"
  # until its background job has finished, then "provisioned" or "failed".
  Resource = Struct.new(:id, :uuid, :plan, :region, :callback_url, :options, :created_at,
                        :async, :state, :access_token, :refresh_token, :token_expires_at,
                        keyword_init: true) do
    # Never shows the OAuth tokens, wherever a resource ends up printed.
    def inspect
      "#<resource #{id} uuid=#{uuid.inspect} plan=#{plan.inspect} state=#{state}>"
    end
    alias_method :to_s, :inspect
  end

  def initialize
    @mutex = Mutex.new # Puma serves requests from several threads
    @by_id = {}
    @by_uuid = {}
  end

  # Returns [resource, created]. A uuid seen before gives back its resource
  # rather than a second one; a request without a uuid always creates one.
  # Check and insert happen under one lock, so concurrent copies of one
  # request make one resource and exactly one of them gets created = true.
  def provision(plan:, uuid: nil, region: nil, callback_url: nil, options: {}, async: false)
    @mutex.synchronize do
      existing = uuid && @by_uuid[uuid]
      return [existing, false] if existing

      # The provider's own random id: never derived from anything Heroku sent.
      resource = Resource.new(id: SecureRandom.hex(12), uuid: uuid, plan: plan, region: region,
                              callback_url: callback_url, options: options, created_at: Time.now,
                              async: async, state: async ? "provisioning" : "provisioned")
      @by_id[resource.id] = resource
      @by_uuid[uuid] = resource if uuid
      [resource, true]
    end
  end

  def find(id)
    @mutex.synchronize { @by_id[id] }
  end

  def find_by_uuid(uuid)
    @mutex.synchronize { @by_uuid[uuid] }
  end

  # Returns the updated resource, or nil when the id is unknown.
  def change_plan(id, plan)
    @mutex.synchronize do
      resource = @by_id[id]
      resource&.plan = plan
      resource
    end
  end

  # Changes a resource under the lock: yields it and returns it, or returns nil
  # (without yielding) when the id is unknown, e.g. deprovisioned meanwhile.
  def update(id)
    @mutex.synchronize do
      resource = @by_id[id]
      yield resource if resource
      resource
    end
  end

  # Returns the removed resource, or nil when the id is unknown. Its uuid is
  # free again afterwards, so Heroku may provision it anew.
  def delete(id)
    @mutex.synchronize do
      resource = @by_id.delete(id)
      @by_uuid.delete(resource.uuid) if resource&.uuid
      resource
    end
  end
end
