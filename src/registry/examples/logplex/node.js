// With "requires": ["log_input"], write to the app's log stream at log_input_url: an HTTP
// POST of octet-counted RFC 5424 frames ("<bytes> <190>1 <time> <host> <app> - - - <msg>"),
// Content-Type application/logplex-1, and a User-Agent that names the add-on. The URL's
// user-info carries the credentials.
export async function writeAppLog(logInputUrl, resourceUuid, lines) {
  const url = new URL(logInputUrl);
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const body = lines
    .map((msg) => {
      const frame = `<190>1 ${new Date().toISOString()} ${resourceUuid} acme-db - - - ${msg}`;
      return `${Buffer.byteLength(frame, 'utf8')} ${frame}`;
    })
    .join('');
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${auth}`,
      'Content-Type': 'application/logplex-1',
      'Logplex-Msg-Count': String(lines.length),
      'User-Agent': 'acme-db (https://elements.heroku.com/addons/acme-db)',
    },
    body,
  });
  if (!res.ok) throw new Error(`log post answered ${res.status}; fetch log_input_url again`);
}
