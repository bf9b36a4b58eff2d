// Access tokens expire (expires_in seconds; about eight hours at Heroku). Check the stored
// expiry before every call, and trade the refresh token for a new access token when it
// has passed (or is a minute from passing).
export async function accessTokenFor(resource, identityUrl) {
  if (Date.now() < resource.tokenExpiresAt - 60_000) return resource.accessToken;
  const res = await fetch(`${identityUrl}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: resource.refreshToken,
      client_secret: process.env.HEROKU_CLIENT_SECRET,
    }),
  });
  if (!res.ok) throw new Error(`the token refresh answered ${res.status}`);
  const token = await res.json();
  resource.accessToken = token.access_token;
  resource.refreshToken = token.refresh_token ?? resource.refreshToken;
  resource.tokenExpiresAt = Date.now() + token.expires_in * 1000;
  await store.saveToken(resource.id, token);
  return resource.accessToken;
}
