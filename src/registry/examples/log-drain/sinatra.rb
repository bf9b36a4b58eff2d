# With "requires": ["syslog_drain"], the request carries log_drain_token and the answer
# names where Heroku drains the app's logs: a syslog:// or https:// URL.
def provision_answer(resource)
  {
    id: resource[:id],
    config: { "ACME_DB_URL" => resource[:url] },
    log_drain_url: "syslog://logs.acme.example.com:6514/#{resource[:drain_token]}"
  }
end
