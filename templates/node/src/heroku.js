import { setTimeout as sleep } from 'node:timers/promises';

// The calls an add-on provider makes back to Heroku while provisioning asynchronously
// (PROTOCOL.md 5): the OAuth grant exchange at Heroku's identity service, then the Platform API.
// Node's global fetch does the HTTP; no client library is needed.

export const PLATFORM_ACCEPT = 'application/vnd.heroku+json; version=3';
const REAL_API_HOST = 'api.heroku.com';
const REAL_IDENTITY_URL = 'https://id.heroku.com';

// Where to exchange the grant: HEROKU_IDENTITY_URL when set; Heroku's own identity service when
// the callback is on api.heroku.com; otherwise the callback's origin (kensa's loopback fake of
// Heroku serves both on one origin).
export function identityUrlFor(callbackUrl, override) {
  if (override) return override.replace(/\/+$/, '');
  const url = new URL(callbackUrl);
  return url.hostname === REAL_API_HOST ? REAL_IDENTITY_URL : url.origin;
}

// A failed call. The message names the method, the URL without credentials or query, and what
// came back; it never carries a secret, a grant code or a token.
export class HerokuError extends Error {
  constructor(message, { status, retryable = false } = {}) {
    super(message);
    this.name = 'HerokuError';
    this.status = status;
    this.retryable = retryable;
  }
}

const describeUrl = (url) => {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
};

export class HerokuClient {
  // tries: attempts per call; delayMs: first backoff, doubled after each retry; timeoutMs: per attempt.
  constructor({ clientSecret, identityUrl, tries = 3, delayMs = 500, timeoutMs = 10_000, fetch = globalThis.fetch } = {}) {
    this.clientSecret = clientSecret;
    this.identityUrl = identityUrl;
    this.tries = tries;
    this.delayMs = delayMs;
    this.timeoutMs = timeoutMs;
    this.fetch = fetch;
  }

  // POST <identity>/oauth/token → { accessToken, refreshToken, expiresIn }.
  async exchangeGrant(callbackUrl, code) {
    if (!this.clientSecret) throw new HerokuError('HEROKU_CLIENT_SECRET is not set');
    const url = `${identityUrlFor(callbackUrl, this.identityUrl)}/oauth/token`;
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, client_secret: this.clientSecret });
    const answer = await this.#call('POST', url, {
      headers: { Accept: 'application/json' },
      body, // URLSearchParams: sent as application/x-www-form-urlencoded
    });
    if (typeof answer?.access_token !== 'string' || answer.access_token === '') {
      throw new HerokuError(`POST ${describeUrl(url)} answered without an access_token`);
    }
    return {
      accessToken: answer.access_token,
      refreshToken: typeof answer.refresh_token === 'string' ? answer.refresh_token : undefined,
      expiresIn: answer.expires_in,
    };
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

  // One call, retried on network errors, timeouts and 5xx (with backoff), never on 4xx.
  // Resolves with the parsed JSON answer (undefined when there is none).
  async #call(method, url, { headers, body }) {
    const what = `${method} ${describeUrl(url)}`;
    for (let attempt = 1; ; attempt += 1) {
      let error;
      try {
        const res = await this.fetch(url, {
          method, headers, body, redirect: 'error', signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.text();
        if (res.ok) return parseJson(text);
        const reason = parseJson(text)?.message;
        error = new HerokuError(`${what} answered ${res.status}${typeof reason === 'string' ? `: ${reason.slice(0, 200)}` : ''}`,
          { status: res.status, retryable: res.status >= 500 });
      } catch (err) {
        // fetch rejects with a TypeError on network failures, and aborts with a TimeoutError.
        error = new HerokuError(`${what} failed: ${err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.message)}`,
          { retryable: true });
      }
      if (!error.retryable || attempt >= this.tries) throw error;
      await sleep(this.delayMs * 2 ** (attempt - 1));
    }
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
