// PUT /heroku/resources/:id: a change to the current plan is a no-op answered 200; a quick
// change answers 200 with the new config; a slow one answers 202 and sets the config
// through the Platform API when it is done.
router.put('/heroku/resources/:id', herokuAuth, express.json(), knownPlan, async (req, res) => {
  const resource = await store.findById(req.params.id);
  if (!resource) return res.status(404).json({ message: `No resource ${req.params.id}.` });
  const { plan } = req.body;
  if (plan === resource.plan) return res.json({ message: `Already on ${plan}.` });
  if (!needsMigration(resource.plan, plan)) {
    const changed = await store.update(resource.id, { plan });
    return res.json({ config: configFor(changed), message: `Now on ${plan}.` });
  }
  res.status(202).json({ message: `Moving to ${plan}; your config will be updated.` });
  migrate(resource, plan)
    .then(async (moved) => {
      const token = await accessTokenFor(moved, identityUrl(moved.callbackUrl));
      const config = Object.entries(configFor(moved)).map(([name, value]) => ({ name, value }));
      await platformApi('PATCH', `${moved.callbackUrl}/config`, token, { config });
    })
    .catch((err) => console.error(err.message));
});
