// The config an answer carries (provision, plan change): exactly the names the manifest
// declares in api.config_vars, every value a string (config vars become environment
// variables), URLs an app on a dyno can reach, never localhost.
export const configFor = (resource) => ({
  ACME_DB_URL: `postgres://${resource.user}:${resource.password}@db.acme.example.com:5432/${resource.name}`,
});
