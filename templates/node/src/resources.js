import express from 'express';
import { ADDON_ID, ADDON_NAME, CONFIG_VAR } from './config.js';
import { basicAuth } from './auth.js';

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const text = (value) => (typeof value === 'string' && value !== '' ? value : undefined);

// The Add-on Partner API Heroku calls: provision, plan change, deprovision (PROTOCOL.md 2-3).
export function resourcesRouter({ settings, store }) {
  const router = express.Router();
  const auth = basicAuth({ username: settings.username, password: settings.password, realm: ADDON_NAME });
  // Any content type is read as JSON (Heroku always sends JSON), and non-strict so that a valid
  // JSON body which is not an object reaches the handler and gets a 422 rather than a parse 400.
  const json = express.json({ type: () => true, strict: false, limit: '100kb' });

  const configFor = (resource) => ({ [CONFIG_VAR]: `${settings.publicUrl}/resources/${resource.id}` });

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
    // Unknown fields are ignored; v1 sends heroku_id, v3 sends name, oauth_grant, ...
    const { resource, created } = await store.provision({
      uuid: text(body.uuid),
      plan,
      region: text(body.region),
      name: text(body.name),
      herokuId: text(body.heroku_id),
      options: isObject(body.options) ? body.options : {},
    });
    // Provisioning is synchronous: the resource works at once, so the answer carries its config.
    // An asynchronous mode would answer 202 {id, message} here, then exchange
    // body.oauth_grant.code for a token, set the config and report done (PROTOCOL.md 5).
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
    if (!(await store.delete(req.params.id))) {
      return res.status(404).json({ message: `No ${ADDON_ID} resource ${req.params.id}.` });
    }
    res.status(204).end();
  });

  return router;
}
