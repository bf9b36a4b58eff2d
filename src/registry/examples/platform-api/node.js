const PLATFORM_ACCEPT = 'application/vnd.heroku+json; version=3';

// Every Platform API call: the add-on's own access token (never the client secret), the
// version 3 Accept header, and only URLs under the callback_url Heroku sent, such as
// `${callbackUrl}/config` or `${callbackUrl}/actions/provision`.
export async function platformApi(method, url, accessToken, body) {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${accessToken}`,
      Accept: PLATFORM_ACCEPT,
      ...(body && { 'Content-Type': 'application/json' }),
    },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}`);
  return res.json();
}
