// What each plan allows: the add-on's plans as the service knows them. Keep the names in step
// with your add-on's plans in Heroku's Partner Portal (Heroku sends the plan's name, e.g.
// "basic" for my-addon:basic). `test` is the plan `kensa test` provisions and `foo` the one it
// changes to; `async` provisions asynchronously (v3, see src/worker.js).
export const PLANS = Object.freeze({
  test: Object.freeze({ api_calls: 1_000 }),
  foo: Object.freeze({ api_calls: 10_000 }),
  premium: Object.freeze({ api_calls: 100_000 }),
  async: Object.freeze({ api_calls: 1_000 }),
});

export const ASYNC_PLAN = 'async';

export const isKnownPlan = (plan) => Object.hasOwn(PLANS, plan);
export const limitsOf = (plan) => PLANS[plan] ?? {};
export const planNames = () => Object.keys(PLANS);
