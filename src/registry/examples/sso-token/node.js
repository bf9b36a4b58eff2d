import { createHash } from 'node:crypto';

const hex = (algorithm, text) => createHash(algorithm).update(text, 'utf8').digest('hex');

// Single sign-on (a form POST to sso_url): recompute the tokens Heroku sent from your own
// salt and compare in constant time (safeEqual: see `kensa explain provision.auth-missing`).
// v3 sends resource_id with resource_token = sha1(uuid:salt:timestamp) and
// user_scoped_resource_token = sha256(uuid:salt:timestamp:user_id:email); v1 sent id and
// token = sha1(id:salt:timestamp). Every token sent must be right; anything else is 403.
export function tokensValid(params, resource, salt) {
  const { timestamp } = params;
  const checks = [];
  if (params.resource_token) {
    checks.push(safeEqual(params.resource_token, hex('sha1', `${resource.uuid}:${salt}:${timestamp}`)));
  }
  if (params.user_scoped_resource_token) {
    const scoped = `${resource.uuid}:${salt}:${timestamp}:${params.user_id}:${params.email}`;
    checks.push(safeEqual(params.user_scoped_resource_token, hex('sha256', scoped)));
  }
  if (params.token) checks.push(safeEqual(params.token, hex('sha1', `${resource.id}:${salt}:${timestamp}`)));
  return checks.length > 0 && checks.every(Boolean);
}

router.post('/sso/login', express.urlencoded({ extended: false }), async (req, res) => {
  const resource = req.body.resource_id
    ? await store.findByUuid(req.body.resource_id)
    : await store.findById(req.body.id);
  if (!resource) return res.status(404).send('No such resource.');
  if (!timestampFresh(req.body.timestamp) || !tokensValid(req.body, resource, process.env.SSO_SALT)) {
    return res.status(403).send('Single sign-on failed.');
  }
  startSession(req, res, resource);
});
