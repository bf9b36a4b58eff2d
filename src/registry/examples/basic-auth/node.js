import { createHash, timingSafeEqual } from 'node:crypto';

// Constant time whatever the lengths: compare digests, not the strings themselves.
const digest = (value) => createHash('sha256').update(String(value ?? '')).digest();
const safeEqual = (a, b) => timingSafeEqual(digest(a), digest(b));

// Heroku's calls carry Basic auth: user = the add-on id, password = the manifest's api.password.
export function herokuAuth(req, res, next) {
  const match = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? '' : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  // `&`, not `&&`: both comparisons always run, so timing does not tell which one was wrong.
  if (safeEqual(user, process.env.HEROKU_USERNAME) & safeEqual(password, process.env.HEROKU_PASSWORD)) {
    return next();
  }
  res.status(401).set('WWW-Authenticate', 'Basic realm="Acme DB"').json({ message: 'Unauthorized' });
}

// Provision, plan change and deprovision all need it; SSO does not (the browser signs on).
app.use('/heroku/resources', herokuAuth);
