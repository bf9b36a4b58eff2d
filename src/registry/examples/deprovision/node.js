// DELETE /heroku/resources/:id: remove it and answer 204. A repeat (Heroku delivers at
// least once) finds nothing and answers 404 or 410, never an error. A slow removal answers
// 202 and reports back with POST <callback_url>/actions/deprovision when done.
router.delete('/heroku/resources/:id', herokuAuth, async (req, res) => {
  const resource = await store.findById(req.params.id);
  if (!resource || resource.deprovisioned) {
    return res.status(410).json({ message: `Resource ${req.params.id} is gone.` });
  }
  await store.markDeprovisioned(resource.id); // keeps the uuid as a tombstone
  if (!resource.callbackUrl) return res.status(204).end();
  res.status(202).json({ message: 'Your database is being removed.' });
  removeData(resource)
    .then(async () => {
      const token = await accessTokenFor(resource, identityUrl(resource.callbackUrl));
      await platformApi('POST', `${resource.callbackUrl}/actions/deprovision`, token);
    })
    .catch((err) => console.error(err.message));
});
