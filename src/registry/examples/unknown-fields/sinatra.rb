# Read the fields you need and ignore the rest: Heroku adds request fields without notice,
# so no strict schema on the request body.
def provision_request(data)
  {
    uuid: data.fetch("uuid"),
    plan: data.fetch("plan"),
    region: data["region"],
    callback_url: data["callback_url"],
    grant_code: data.dig("oauth_grant", "code"),
    options: data["options"] || {}
  }
end
