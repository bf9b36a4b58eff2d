// A sign-on is only good for minutes: refuse (403) a timestamp more than 5 minutes old,
// and one more than a minute ahead of your clock.
const MAX_AGE_SECONDS = 300;
const MAX_SKEW_SECONDS = 60;

export function timestampFresh(timestamp, now = Math.floor(Date.now() / 1000)) {
  if (!/^\d{1,15}$/.test(timestamp ?? '')) return false;
  const age = now - Number(timestamp);
  return age <= MAX_AGE_SECONDS && age >= -MAX_SKEW_SECONDS;
}
