# A sign-on is only good for minutes: refuse (403) a timestamp more than 5 minutes old,
# and one more than a minute ahead of your clock.
MAX_AGE_SECONDS = 300
MAX_SKEW_SECONDS = 60

def timestamp_fresh?(timestamp, now = Time.now.to_i)
  return false unless timestamp.to_s.match?(/\A\d{1,15}\z/)

  age = now - Integer(timestamp, 10)
  age <= MAX_AGE_SECONDS && age >= -MAX_SKEW_SECONDS
end
