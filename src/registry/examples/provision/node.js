// POST /heroku/resources: make the resource, then answer with its id, its config and a
// message Heroku shows the user. 201 for a new resource, 200 for a redelivery.
router.post('/heroku/resources', herokuAuth, express.json(), async (req, res) => {
  const { uuid, plan, region } = req.body;
  const { resource, created } = await store.provision({ uuid, plan, region });
  res.status(created ? 201 : 200).json({
    id: resource.id,
    config: { ACME_DB_URL: resource.url },
    message: 'Your database is ready.',
  });
});
