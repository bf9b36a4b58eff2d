import express from 'express';
import { ADDON_NAME } from '../config.js';
import * as resources from '../models/resources.js';
import { decodeNavData, ssoProblem } from '../tokens.js';
import { dashboardPage, messagePage } from '../views.js';

const PARAMS = ['id', 'token', 'timestamp', 'resource_id', 'resource_token', 'user_scoped_resource_token',
  'user_id', 'email', 'app', 'context_app', 'nav-data'];

// Keeps only single string values: a repeated parameter arrives as an array and is dropped.
const pickParams = (source) =>
  Object.fromEntries(PARAMS.filter((name) => typeof source?.[name] === 'string').map((name) => [name, source[name]]));

// base64url nav-data goes into the cookie as is; anything else is percent-encoded so that
// an odd value can never produce an invalid Set-Cookie header.
const cookieValue = (value) => (/^[A-Za-z0-9_=.-]*$/.test(value) ? value : encodeURIComponent(value));

// Single sign-on from Heroku's dashboard
// (https://devcenter.heroku.com/articles/add-on-single-sign-on), and the page it leads to.
// Without SSO_SALT, single sign-on is off: its routes answer 404 and say so.
export function ssoRouter({ settings, db }) {
  const router = express.Router();

  const login = async (req, res, params) => {
    // Look up by Heroku's uuid when given (v3), else by our own id (v1).
    const resource = params.resource_id
      ? await resources.findByUuid(db, params.resource_id)
      : await resources.findById(db, params.id ?? '');
    if (!resource || resource.state === 'deprovisioned') {
      return res.status(404).type('html').send(messagePage('Not found', 'No such resource.'));
    }

    const problem = ssoProblem(params, resource, settings.ssoSalt);
    if (problem) return res.status(403).type('html').send(messagePage('Forbidden', `Single sign-on failed: ${problem}.`));

    const navData = params['nav-data'];
    // A fresh session object replaces whatever the browser had before.
    req.session = { resourceId: resource.id, nav: decodeNavData(navData), email: params.email?.slice(0, 200) };
    // Heroku's header script (boomerang) reads this cookie to draw its navigation bar, so it is
    // not HttpOnly; it carries nothing secret.
    if (navData !== undefined) {
      res.cookie('heroku-nav-data', navData, { path: '/', encode: cookieValue, secure: req.secure, sameSite: 'lax' });
    }
    res.redirect(302, '/');
  };

  const ssoOff = (req, res) =>
    res.status(404).json({ message: 'Single sign-on is not enabled on this add-on (SSO_SALT is not set).' });
  const form = express.urlencoded({ extended: false, limit: '64kb' });

  // Legacy SSO: GET <base_url>/:id?token=...&timestamp=...
  router.get('/heroku/resources/:id', settings.ssoSalt
    ? (req, res) => login(req, res, { ...pickParams(req.query), id: req.params.id })
    : ssoOff);

  // Form POST SSO to the manifest's sso_url.
  router.post('/sso/login', settings.ssoSalt ? [form, (req, res) => login(req, res, pickParams(req.body))] : ssoOff);

  router.get('/', async (req, res) => {
    const session = req.session ?? {};
    const resource = session.resourceId && (await resources.findById(db, session.resourceId));
    if (!resource || resource.state === 'deprovisioned') {
      // A session for a resource deprovisioned since is dropped; no cookie is set otherwise.
      if (session.resourceId) req.session = null;
      return res.status(403).type('html')
        .send(messagePage(ADDON_NAME, 'Please log in through Heroku: open this add-on from your app\'s dashboard.'));
    }
    res.type('html').send(dashboardPage({ resource, nav: session.nav ?? {}, email: session.email }));
  });

  return router;
}
