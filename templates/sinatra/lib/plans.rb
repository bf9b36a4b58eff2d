# frozen_string_literal: true

# What each plan allows: the add-on's plans as the service knows them. Keep the
# names in step with the plans of your add-on in Heroku's Partner Portal. `test`
# is the plan `kensa test` provisions; `async` provisions asynchronously (v3), see
# lib/job_worker.rb. Any other plan gets 422, as kensa's made-up plan-change
# target `foo` does (`kensa test all --plan premium` changes to a real one).
module Plans
  LIMITS = {
    "test" => { "api_calls" => 1_000 },
    "premium" => { "api_calls" => 100_000 },
    "async" => { "api_calls" => 1_000 }
  }.freeze

  ASYNC = "async"

  module_function

  def known?(plan)
    LIMITS.key?(plan)
  end

  def limits(plan)
    LIMITS.fetch(plan, {})
  end

  def async?(plan)
    plan == ASYNC
  end

  def names
    LIMITS.keys
  end
end
