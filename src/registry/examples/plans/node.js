const PLANS = ['test', 'basic', 'premium'];

// A plan this add-on does not have gets 422 with a message Heroku shows to the user.
export function knownPlan(req, res, next) {
  const plan = req.body?.plan;
  if (PLANS.includes(plan)) return next();
  res.status(422).json({ message: `Unknown plan ${JSON.stringify(plan)}; plans: ${PLANS.join(', ')}.` });
}

router.post('/heroku/resources', herokuAuth, express.json(), knownPlan, provision);
router.put('/heroku/resources/:id', herokuAuth, express.json(), knownPlan, changePlan);
