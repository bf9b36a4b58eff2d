/// A sign-on is only good for minutes: refuse (403) a timestamp more than 5 minutes old,
/// and one more than a minute ahead of your clock.
const MAX_AGE_SECONDS: i64 = 300;
const MAX_SKEW_SECONDS: i64 = 60;

fn timestamp_fresh(timestamp: &str, now: i64) -> bool {
    if timestamp.is_empty()
        || timestamp.len() > 15
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let Ok(then) = timestamp.parse::<i64>() else {
        return false;
    };
    let age = now - then;
    (-MAX_SKEW_SECONDS..=MAX_AGE_SECONDS).contains(&age)
}
