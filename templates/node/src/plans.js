// What each plan allows: the add-on's plans as the service knows them. Keep the names in step
// with your add-on's plans in Heroku's Partner Portal (Heroku sends the plan's name, e.g.
// "basic" for my-addon:basic). `test` is the plan `kensa test` provisions; `async` provisions
// asynchronously (v3, see src/worker.js). A plan not listed here gets 422, as kensa's made-up
// plan-change target `foo` does (`kensa test all --plan premium` changes to a real one).
export const PLANS = Object.freeze({
  test: Object.freeze({ api_calls: 1_000 }),
  premium: Object.freeze({ api_calls: 100_000 }),
  async: Object.freeze({ api_calls: 1_000 }),
});

export const ASYNC_PLAN = 'async';

export const isKnownPlan = (plan) => Object.hasOwn(PLANS, plan);
export const limitsOf = (plan) => PLANS[plan] ?? {};
export const planNames = () => Object.keys(PLANS);
