import express from 'express';
import { ADDON_ID, ADDON_NAME } from './config.js';
import { basicAuth } from './auth.js';
import { ASYNC_PLAN } from './provisioning.js';

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const text = (value) => (typeof value === 'string' && value !== '' ? value : undefined);
// An absolute http(s) URL without a trailing slash, or undefined.
const httpUrl = (value) => {
  if (!text(value) || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  return ['http:', 'https:'].includes(url.protocol) && url.username === '' && url.password === ''
    ? url.href.replace(/\/+$/, '') : undefined;
};

// The Add-on Partner API Heroku calls: provision, plan change, deprovision (PROTOCOL.md 2-3).
export function resourcesRouter({ settings, store, provisioner, configFor }) {
  const router = express.Router();
  const auth = basicAuth({ username: settings.username, password: settings.password, realm: ADDON_NAME });
  // Any content type is read as JSON (Heroku always sends JSON), and non-strict so that a valid
  // JSON body which is not an object reaches the handler and gets a 422 rather than a parse 400.
  const json = express.json({ type: () => true, strict: false, limit: '100kb' });

  const provisioning = (resource) => resource.async && resource.state !== 'provisioned';

  // Returns the plan, or sends the 422 and returns undefined.
  const planFrom = (req, res) => {
    if (!isObject(req.body)) {
      res.status(422).json({ message: 'The request body must be a JSON object.' });
      return undefined;
    }
    const plan = text(req.body.plan);
    if (!plan) res.status(422).json({ message: 'The request body needs a "plan".' });
    return plan;
  };

  router.post('/', auth, json, async (req, res) => {
    const plan = planFrom(req, res);
    if (!plan) return;
    const body = req.body;
    // The async plan finishes through Heroku's API, so it needs what v3 sends for that.
    const isAsync = plan === ASYNC_PLAN;
    const callbackUrl = httpUrl(body.callback_url);
    const grantCode = isObject(body.oauth_grant) ? text(body.oauth_grant.code) : undefined;
    if (isAsync && !(callbackUrl && grantCode)) {
      return res.status(422).json({ message: `The ${ASYNC_PLAN} plan needs the v3 API: a callback_url and an oauth_grant.` });
    }
    if (isAsync && !settings.clientSecret) {
      provisioner.logger.error('async provisioning refused: HEROKU_CLIENT_SECRET is not set');
      return res.status(503).json({ message: `${ADDON_NAME} cannot provision asynchronously yet; please try again later.` });
    }
    // Unknown fields are ignored; v1 sends heroku_id, v3 sends name, oauth_grant, ...
    const { resource, created } = await store.provision({
      uuid: text(body.uuid),
      plan,
      region: text(body.region),
      name: text(body.name),
      herokuId: text(body.heroku_id),
      options: isObject(body.options) ? body.options : {},
      // Stored in the same step as the uuid, so concurrent redeliveries agree on the mode.
      ...(isAsync && { async: true, state: 'provisioning', callbackUrl }),
    });
    // Asynchronous (PROTOCOL.md 5): answer 202 {id, message} now; the provisioner then exchanges
    // the grant for a token, sets the config through Heroku's API and reports it done. A
    // redelivery gets the same id (202 until done); one that finds it failed starts it again.
    if (provisioning(resource)) {
      const retry = resource.state === 'failed' && (grantCode || resource.accessToken);
      if (created || retry) provisioner.start(resource, grantCode);
      return res.status(202).json({
        id: resource.id,
        message: `${ADDON_NAME} is being provisioned; its config will be set on the app when it is ready.`,
      });
    }
    // Synchronous: the resource works at once, so the answer carries its config.
    res.status(created ? 201 : 200).json({
      id: resource.id,
      config: configFor(resource),
      message: created ? `${ADDON_NAME} is ready.` : `${ADDON_NAME} was already provisioned for this uuid.`,
    });
  });

  router.put('/:id', auth, json, async (req, res) => {
    const plan = planFrom(req, res);
    if (!plan) return;
    const resource = await store.update(req.params.id, { plan });
    if (!resource) return res.status(404).json({ message: `No ${ADDON_ID} resource ${req.params.id}.` });
    res.json({ config: configFor(resource), message: `Plan changed to ${plan}.` });
  });

  router.delete('/:id', auth, async (req, res) => {
    const resource = await store.findById(req.params.id);
    if (!resource || !(await store.delete(req.params.id))) {
      return res.status(404).json({ message: `No ${ADDON_ID} resource ${req.params.id}.` });
    }
    // An asynchronous resource is removed now and Heroku told afterwards, with its token.
    if (resource.async) {
      res.status(202).json({ message: `${ADDON_NAME} is being deprovisioned.` });
      return provisioner.deprovision(resource);
    }
    res.status(204).end();
  });

  return router;
}
