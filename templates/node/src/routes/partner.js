import express from 'express';
import { basicAuth } from '../auth.js';
import { ADDON_ID, ADDON_NAME } from '../config.js';
import { identityUrlFor } from '../identity.js';
import { ASYNC_PLAN, isKnownPlan, planNames } from '../plans.js';

// The Add-on Partner API that Heroku calls: provision, plan change, deprovision
// (https://devcenter.heroku.com/articles/add-on-partner-api-reference).

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
const text = (value) => (typeof value === 'string' && value !== '' ? value : undefined);

// An absolute http(s) URL without credentials or a trailing slash, or undefined.
const httpUrl = (value) => {
  if (!text(value) || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  return ['http:', 'https:'].includes(url.protocol) && url.username === '' && url.password === ''
    ? url.href.replace(/\/+$/, '') : undefined;
};

const HOST = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/;

// The public base URL of this service: PUBLIC_URL, else what the request was sent to (Heroku's
// router passes Host on and sets X-Forwarded-Proto, which req.protocol reads).
const baseUrlOf = (req, settings) => {
  if (settings.publicUrl) return settings.publicUrl;
  const host = req.get('host');
  return host && HOST.test(host) ? `${req.protocol}://${host}` : undefined;
};

export function partnerRouter({ settings, provisioning, logger }) {
  const router = express.Router();
  const auth = basicAuth({ username: settings.username, password: settings.password, realm: ADDON_NAME });
  // Any content type is read as JSON (Heroku always sends JSON), and non-strict so that a valid
  // JSON body which is not an object gets a 422 rather than a parse error's 400.
  const json = express.json({ type: () => true, strict: false, limit: '64kb' });
  const notFound = (res, id) => res.status(404).json({ message: `No ${ADDON_ID} resource ${id}.` });
  const gone = (res, id) => res.status(410).json({ message: `${ADDON_ID} resource ${id} was deprovisioned.` });

  // Returns the request's plan, or answers 422 and returns undefined.
  const planFrom = (req, res) => {
    if (!isObject(req.body)) {
      res.status(422).json({ message: 'The request body must be a JSON object.' });
      return undefined;
    }
    const plan = text(req.body.plan);
    if (!plan) {
      res.status(422).json({ message: 'The request body needs a "plan".' });
      return undefined;
    }
    if (!isKnownPlan(plan)) {
      res.status(422).json({ message: `Unknown plan "${plan.slice(0, 100)}"; this add-on has ${planNames().join(', ')}.` });
      return undefined;
    }
    return plan;
  };

  router.post('/', auth, json, async (req, res) => {
    const plan = planFrom(req, res);
    if (!plan) return;
    const body = req.body;
    const baseUrl = baseUrlOf(req, settings);
    if (!baseUrl) return res.status(422).json({ message: 'Cannot tell this service\'s URL: set PUBLIC_URL.' });

    // Heroku's OAuth client secret goes to the identity service only: a callback_url that does
    // not say where that is (src/identity.js) is refused before anything is created.
    const rawCallback = body.callback_url;
    const callbackUrl = httpUrl(rawCallback);
    if (rawCallback !== undefined && rawCallback !== null && !callbackUrl) {
      return res.status(422).json({ message: 'callback_url must be an http(s) URL.' });
    }
    const identityUrl = callbackUrl
      && identityUrlFor(callbackUrl, settings.identityUrl, { production: settings.production });
    if (callbackUrl && !identityUrl) {
      return res.status(422).json({
        message: 'callback_url is not on https://api.heroku.com: refusing to send credentials there (set HEROKU_IDENTITY_URL to use another Heroku).',
      });
    }
    const grant = isObject(body.oauth_grant) && text(body.oauth_grant.code)
      ? { code: body.oauth_grant.code, expiresAt: dateOrUndefined(body.oauth_grant.expires_at) } : undefined;
    if (plan === ASYNC_PLAN) {
      // The asynchronous plan finishes through Heroku's API, so it needs what v3 sends for that.
      if (!(callbackUrl && grant)) {
        return res.status(422).json({ message: `The ${ASYNC_PLAN} plan needs the v3 API: a callback_url and an oauth_grant.` });
      }
      if (!settings.clientSecret) {
        logger.error('async provisioning refused: HEROKU_CLIENT_SECRET is not set');
        return res.status(503).json({ message: `${ADDON_NAME} cannot provision asynchronously yet; please try again later.` });
      }
    }

    // Unknown fields are ignored; v1 sends heroku_id, v3 sends name, oauth_grant, ...
    const { outcome, resource, config } = await provisioning.provision({
      uuid: text(body.uuid),
      plan,
      region: text(body.region),
      name: text(body.name),
      herokuId: text(body.heroku_id),
      options: isObject(body.options) ? body.options : {},
      baseUrl,
      callbackUrl,
      identityUrl,
      grant,
    });
    switch (outcome) {
      case 'gone':
        return res.status(410).json({ message: `The resource for uuid ${body.uuid} was deprovisioned; it cannot be provisioned again.` });
      case 'accepted':
        // Asynchronous: 202 now (to every redelivery too, until it is done); the worker exchanges
        // the grant, sets the config var through Heroku's API and reports it provisioned.
        return res.status(202).json({
          id: resource.id,
          message: `${ADDON_NAME} is being provisioned; its config will be set on the app when it is ready.`,
        });
      default:
        return res.status(outcome === 'created' ? 201 : 200).json({
          id: resource.id,
          config,
          message: outcome === 'created' ? `${ADDON_NAME} is ready.` : `${ADDON_NAME} was already provisioned for this uuid.`,
        });
    }
  });

  router.put('/:id', auth, json, async (req, res) => {
    const plan = planFrom(req, res);
    if (!plan) return;
    const { outcome } = await provisioning.changePlan(req.params.id, plan);
    if (outcome === 'missing') return notFound(res, req.params.id);
    if (outcome === 'gone') return gone(res, req.params.id);
    // No config: the config var (its credentials) stays the same; the API now allows what the
    // new plan allows.
    res.json({ message: outcome === 'unchanged' ? `Already on plan ${plan}.` : `Plan changed to ${plan}.` });
  });

  router.delete('/:id', auth, async (req, res) => {
    const { outcome } = await provisioning.deprovision(req.params.id);
    if (outcome === 'missing') return notFound(res, req.params.id);
    if (outcome === 'gone') return gone(res, req.params.id);
    if (outcome === 'accepted') return res.status(202).json({ message: `${ADDON_NAME} is being deprovisioned.` });
    res.status(204).end();
  });

  return router;
}

function dateOrUndefined(value) {
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(time) ? undefined : new Date(time);
}
