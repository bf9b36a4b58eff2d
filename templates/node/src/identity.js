// Where the OAuth grant of an asynchronous provision is exchanged (and its tokens refreshed):
// Heroku's identity service. HEROKU_CLIENT_SECRET goes there and nowhere else, so the service
// never trusts a callback_url to name it, except for a loopback address in development
// (kensa's fake Heroku serves the identity service and the Platform API on one loopback
// origin). See https://devcenter.heroku.com/articles/add-on-partner-api-reference.

export const HEROKU_IDENTITY_URL = 'https://id.heroku.com';
const HEROKU_API_HOST = 'api.heroku.com';

// 127.0.0.0/8, ::1 and localhost; `hostname` as URL gives it ("[::1]" for IPv6).
export function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

// The identity service for `callbackUrl`, or undefined when the callback may not be trusted
// (the provision is then refused with 422 before anything is created):
//   1. HEROKU_IDENTITY_URL (`override`) when set;
//   2. https://id.heroku.com when the callback is on https://api.heroku.com;
//   3. the callback's own origin when it is a loopback address, in development only (in
//      production, NODE_ENV=production, a loopback callback cannot come from Heroku);
//   4. otherwise none.
export function identityUrlFor(callbackUrl, override, { production = false } = {}) {
  if (override) return override.replace(/\/+$/, '');
  if (!URL.canParse(callbackUrl)) return undefined;
  const url = new URL(callbackUrl);
  if (url.protocol === 'https:' && url.host === HEROKU_API_HOST) return HEROKU_IDENTITY_URL;
  if (!production && ['http:', 'https:'].includes(url.protocol) && isLoopback(url.hostname)) return url.origin;
  return undefined;
}
