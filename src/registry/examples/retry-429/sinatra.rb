# The Platform API limits each account's requests: on 429, wait Retry-After seconds (or
# back off) and make the same call again.
def with_retries(tries: 5)
  attempt = 0
  loop do
    attempt += 1
    response = yield
    return response unless response.code == "429" && attempt < tries

    seconds = Integer(response["Retry-After"], exception: false) || 2**attempt
    sleep seconds
  end
end

# response = with_retries { http.request(patch_config) }
