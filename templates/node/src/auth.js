import { createHash, timingSafeEqual } from 'node:crypto';

// Constant-time string comparison. Hashing both sides first gives equal-length buffers, which
// timingSafeEqual needs, and keeps the secret's length from leaking through timing.
export function safeEqual(a, b) {
  const digest = (value) => createHash('sha256').update(String(value)).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function parseBasic(header) {
  const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

// HTTP Basic auth for Heroku's calls to the Partner API: user is the add-on id, password the
// manifest's api.password.
export function basicAuth({ username, password, realm }) {
  // Header values must be plain ASCII; drop anything else from the display name.
  const challenge = `Basic realm="${String(realm).replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
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
