PLANS = %w[test basic premium].freeze

helpers do
  # A plan this add-on does not have gets 422 with a message Heroku shows to the user.
  def plan!(data)
    plan = data["plan"]
    return plan if PLANS.include?(plan)

    halt 422, { "Content-Type" => "application/json" },
         JSON.generate(message: "Unknown plan #{plan.inspect}; plans: #{PLANS.join(', ')}.")
  end
end
