// v3: answer 202 without config at once, then finish in the background: exchange the grant
// at the identity service, set the config through the Platform API, mark it provisioned.
router.post('/heroku/resources', herokuAuth, express.json(), async (req, res) => {
  const { uuid, plan, callback_url: callbackUrl, oauth_grant: grant } = req.body;
  const { resource, created } = await store.provision({ uuid, plan, callbackUrl });
  res.status(202).json({ id: resource.id, message: 'Your database is being created.' });
  if (created) finish(resource, callbackUrl, grant.code).catch((err) => console.error(err.message));
});

async function finish(resource, callbackUrl, code) {
  // Heroku's identity service; kensa's loopback fake serves it on callback_url's origin.
  const callback = new URL(callbackUrl);
  const identity = callback.hostname === 'api.heroku.com' ? 'https://id.heroku.com' : callback.origin;
  const res = await fetch(`${identity}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      client_secret: process.env.HEROKU_CLIENT_SECRET,
    }),
  });
  if (!res.ok) throw new Error(`the grant exchange answered ${res.status}`);
  const token = await res.json(); // access_token, refresh_token, expires_in
  await store.saveToken(resource.id, token);
  await platformApi('PATCH', `${callbackUrl}/config`, token.access_token, {
    config: [{ name: 'ACME_DB_URL', value: resource.url }],
  });
  await platformApi('POST', `${callbackUrl}/actions/provision`, token.access_token);
}
