import { safeEqual } from './crypto.js';

// The user and password of an `Authorization: Basic …` header, or undefined.
export function parseBasic(header) {
  const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

// Header values must be plain ASCII; drop anything else from a display name.
export const basicChallenge = (realm) => `Basic realm="${String(realm).replace(/[^\x20-\x7e]|["\\]/g, '')}"`;

// HTTP Basic auth for Heroku's calls to the Add-on Partner API: user is the add-on id, password
// the manifest's api.password.
export function basicAuth({ username, password, realm }) {
  const challenge = basicChallenge(realm);
  return (req, res, next) => {
    const creds = parseBasic(req.get('authorization'));
    // `&` rather than `&&`: both comparisons always run, so timing does not tell which was wrong.
    if (creds && (safeEqual(creds.user, username) & safeEqual(creds.pass, password))) return next();
    res
      .status(401)
      .set('WWW-Authenticate', challenge)
      .json({ message: 'Authentication required: use the add-on id and the manifest password.' });
  };
}
