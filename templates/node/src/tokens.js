import { createHash } from 'node:crypto';
import { safeEqual } from './crypto.js';

// Heroku signs SSO requests with tokens it can compute because it knows the SSO salt
// (https://devcenter.heroku.com/articles/add-on-single-sign-on). Tokens older than 5 minutes,
// or more than 1 minute ahead (clock skew), are refused so a leaked SSO URL cannot be replayed.
export const MAX_AGE_SECONDS = 300;
export const MAX_SKEW_SECONDS = 60;

const hex = (algorithm, text) => createHash(algorithm).update(text, 'utf8').digest('hex');

export const v1Token = (id, salt, timestamp) => hex('sha1', `${id}:${salt}:${timestamp}`);
export const resourceToken = (uuid, salt, timestamp) => hex('sha1', `${uuid}:${salt}:${timestamp}`);
export const userScopedResourceToken = (uuid, salt, timestamp, userId, email) =>
  hex('sha256', `${uuid}:${salt}:${timestamp}:${userId}:${email}`);

export function timestampIsFresh(timestamp, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (typeof timestamp !== 'string' || !/^-?\d{1,15}$/.test(timestamp)) return false;
  const age = nowSeconds - Number(timestamp);
  return age <= MAX_AGE_SECONDS && age >= -MAX_SKEW_SECONDS;
}

// Checks an SSO request for `resource` ({id, uuid}). At least one of token / resource_token
// must be sent, and every token sent must be right: a wrong extra token is not ignored.
// Returns undefined when valid, or the reason it is not (for the 403 page, never secrets).
export function ssoProblem(params, resource, salt, nowSeconds) {
  const { token, resource_token: rToken, user_scoped_resource_token: uToken, timestamp } = params;
  if (!token && !rToken) return 'missing token';
  if (!timestampIsFresh(timestamp, nowSeconds)) return 'timestamp missing, malformed or expired';
  if ((rToken || uToken) && !resource.uuid) return 'this resource has no Heroku uuid';

  const checks = [];
  if (token) checks.push(safeEqual(token.toLowerCase(), v1Token(resource.id, salt, timestamp)));
  if (rToken) checks.push(safeEqual(rToken.toLowerCase(), resourceToken(resource.uuid, salt, timestamp)));
  if (uToken) {
    const expected = userScopedResourceToken(
      resource.uuid, salt, timestamp, params.user_id ?? '', params.email ?? '');
    checks.push(safeEqual(uToken.toLowerCase(), expected));
  }
  return checks.every(Boolean) ? undefined : 'invalid token';
}

// nav-data is base64url (padding optional) of a small JSON object such as
// {"addon":"My Addon","appname":"my-app"}. Anything unreadable yields {} rather than an error.
export function decodeNavData(navData) {
  if (typeof navData !== 'string' || navData === '') return {};
  try {
    const data = JSON.parse(Buffer.from(navData, 'base64url').toString('utf8'));
    const text = (value) => (typeof value === 'string' ? value.slice(0, 200) : undefined);
    return data && typeof data === 'object' ? { addon: text(data.addon), app: text(data.appname) } : {};
  } catch {
    return {};
  }
}
