// With "requires": ["syslog_drain"], the request carries log_drain_token and the answer
// names where Heroku drains the app's logs: a syslog:// or https:// URL.
export const provisionAnswer = (resource) => ({
  id: resource.id,
  config: { ACME_DB_URL: resource.url },
  log_drain_url: `syslog://logs.acme.example.com:6514/${resource.drainToken}`,
});
