import express from 'express';
import { basicChallenge, parseBasic } from '../auth.js';
import { ADDON_NAME } from '../config.js';
import * as resources from '../models/resources.js';
import { limitsOf } from '../plans.js';

// The resource itself, as the customer's app uses it: the config var is this API's URL with
// the resource's credentials in it (https://<id>:<token>@host/api/resource). Replace it with
// what your add-on really offers; keep the authentication.
export function apiRouter({ db }) {
  const router = express.Router();
  const challenge = basicChallenge(`${ADDON_NAME} API`);

  // Authenticates the resource (user = resource id, password = its API token), or answers 401.
  const authenticate = async (req, res, next) => {
    const creds = parseBasic(req.get('authorization'));
    const resource = creds && await resources.authenticate(db, creds.user, creds.pass);
    if (!resource) {
      return res.status(401).set('WWW-Authenticate', challenge)
        .json({ message: 'Invalid or revoked credentials: use the URL in the add-on\'s config var.' });
    }
    req.resource = resource;
    next();
  };

  // Status, plan, what the plan allows and what was used. Each call counts; a plan's limit
  // reached answers 429 until a plan change allows more.
  router.get('/api/resource', authenticate, async (req, res) => {
    const limits = limitsOf(req.resource.plan);
    const resource = await resources.countCall(db, req.resource.id, limits.api_calls);
    if (!resource) {
      return res.status(429).json({ message: `The ${req.resource.plan} plan allows ${limits.api_calls} API calls; change plan for more.` });
    }
    res.json({
      id: resource.id,
      plan: resource.plan,
      status: resource.state,
      limits,
      usage: { api_calls: resource.apiCalls },
    });
  });

  return router;
}
