// The Platform API limits each account's requests: on 429, wait Retry-After seconds (or
// back off) and make the same call again.
export async function withRetries(call, tries = 5) {
  for (let attempt = 1; ; attempt += 1) {
    const res = await call();
    if (res.status !== 429 || attempt === tries) return res;
    const seconds = Number(res.headers.get('retry-after')) || 2 ** attempt;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

// const res = await withRetries(() => fetch(`${callbackUrl}/config`, { method: 'PATCH', headers, body }));
