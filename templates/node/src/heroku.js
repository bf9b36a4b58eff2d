// The calls an add-on provider makes back to Heroku while provisioning asynchronously
// (https://devcenter.heroku.com/articles/add-on-partner-api-reference): the OAuth grant exchange
// and token refreshes at Heroku's identity service, then the Platform API. Node's global fetch
// does the HTTP. Each method makes ONE attempt with a deadline; the job worker (src/worker.js)
// decides about retries, so they survive a restart.

export const PLATFORM_ACCEPT = 'application/vnd.heroku+json; version=3';

// A failed call. The message names the method, the URL without credentials or query, and what
// came back; it never carries a secret, a grant code or a token. `retryable`: network errors,
// timeouts, 429 and 5xx; `retryAfterMs`: what a Retry-After header asked for.
export class HerokuError extends Error {
  constructor(message, { status, retryable = false, retryAfterMs } = {}) {
    super(message);
    this.name = 'HerokuError';
    this.status = status;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

const describeUrl = (url) => {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
};

// Retry-After: delay-seconds or an HTTP date.
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class HerokuClient {
  #clientSecret;

  constructor({ clientSecret, timeoutMs = 10_000, fetch = globalThis.fetch } = {}) {
    this.#clientSecret = clientSecret;
    this.timeoutMs = timeoutMs;
    this.fetch = fetch;
  }

  // POST <identity>/oauth/token (grant_type=authorization_code) → { accessToken, refreshToken, expiresIn }.
  exchangeGrant(identityUrl, code) {
    return this.#token(identityUrl, { grant_type: 'authorization_code', code });
  }

  // POST <identity>/oauth/token (grant_type=refresh_token) → { accessToken, refreshToken, expiresIn }.
  refresh(identityUrl, refreshToken) {
    return this.#token(identityUrl, { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  // PATCH <callback_url>/config with {"config": [{"name", "value"}]}.
  setConfig(callbackUrl, accessToken, config) {
    const items = Object.entries(config).map(([name, value]) => ({ name, value: String(value) }));
    return this.#platform('PATCH', `${callbackUrl}/config`, accessToken, { config: items });
  }

  // POST <callback_url>/actions/provision or /actions/deprovision.
  action(callbackUrl, accessToken, action) {
    return this.#platform('POST', `${callbackUrl}/actions/${action}`, accessToken);
  }

  async #token(identityUrl, form) {
    if (!this.#clientSecret) throw new HerokuError('HEROKU_CLIENT_SECRET is not set');
    const url = `${identityUrl}/oauth/token`;
    const answer = await this.#call('POST', url, {
      headers: { Accept: 'application/json' },
      // URLSearchParams: sent as application/x-www-form-urlencoded
      body: new URLSearchParams({ ...form, client_secret: this.#clientSecret }),
    });
    if (typeof answer?.access_token !== 'string' || answer.access_token === '') {
      throw new HerokuError(`POST ${describeUrl(url)} answered without an access_token`);
    }
    return {
      accessToken: answer.access_token,
      refreshToken: typeof answer.refresh_token === 'string' ? answer.refresh_token : undefined,
      expiresIn: Number.isFinite(answer.expires_in) ? answer.expires_in : undefined,
    };
  }

  #platform(method, url, accessToken, json) {
    return this.#call(method, url, {
      headers: {
        Authorization: `Bearer ${accessToken}`,
        Accept: PLATFORM_ACCEPT,
        ...(json && { 'Content-Type': 'application/json' }),
      },
      body: json && JSON.stringify(json),
    });
  }

  // Resolves with the parsed JSON answer (undefined when there is none), or throws a HerokuError.
  async #call(method, url, { headers, body }) {
    const what = `${method} ${describeUrl(url)}`;
    let res;
    let text;
    try {
      res = await this.fetch(url, {
        method, headers, body, redirect: 'error', signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // fetch rejects with a TypeError on network failures, and aborts with a TimeoutError.
      const why = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.message);
      throw new HerokuError(`${what} failed: ${why}`, { retryable: true });
    }
    if (res.ok) return parseJson(text);
    const reason = parseJson(text)?.message;
    throw new HerokuError(
      `${what} answered ${res.status}${typeof reason === 'string' ? `: ${reason.slice(0, 200)}` : ''}`,
      {
        status: res.status,
        retryable: res.status === 429 || res.status >= 500,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      },
    );
  }
}

function parseJson(text) {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
