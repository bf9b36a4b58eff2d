// A provision for a uuid already deprovisioned (a late redelivery) gets 410 Gone: the
// tombstone row keeps the uuid, so the resource never comes back unbilled.
router.post('/heroku/resources', herokuAuth, express.json(), knownPlan, async (req, res, next) => {
  const existing = await store.findByUuid(req.body.uuid);
  if (existing?.deprovisioned) {
    return res.status(410).json({ message: `Resource ${existing.id} was deprovisioned.` });
  }
  next();
});
