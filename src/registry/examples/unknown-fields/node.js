// Read the fields you need and ignore the rest: Heroku adds request fields without notice,
// so no schema that refuses unknown properties (no `additionalProperties: false`).
export const provisionRequest = (body) => ({
  uuid: body.uuid,
  plan: body.plan,
  region: body.region,
  callbackUrl: body.callback_url,
  grantCode: body.oauth_grant?.code,
  options: body.options ?? {},
});
