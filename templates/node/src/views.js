import { ADDON_NAME } from './config.js';

// Everything shown comes from requests or the store, so all of it is escaped.
const escapeHtml = (value) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const layout = (title, body) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
  #heroku-header { background: #79589f; color: #fff; padding: .75rem 1.5rem; }
  #heroku-header a { color: #fff; }
  main { padding: 1.5rem; }
  dt { font-weight: bold; }
</style>
</head>
<body>
${body}
</body>
</html>
`;

export function messagePage(title, text) {
  return layout(title, `<main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main>`);
}

// The dashboard a user reaches through Heroku SSO. The header bar names the add-on and the app
// the user came from (from nav-data). It is a plain div#heroku-header because that is exactly
// what Heroku's (and kensa's) layout check looks for.
export function dashboardPage({ resource, nav, email }) {
  const header = [
    nav.addon && `<strong>${escapeHtml(nav.addon)}</strong>`,
    nav.app && `for app <strong>${escapeHtml(nav.app)}</strong>`,
    nav.app && `<a href="https://dashboard.heroku.com/apps/${escapeHtml(encodeURIComponent(nav.app))}">Back to Heroku</a>`,
  ].filter(Boolean).join(' ');
  return layout(`${ADDON_NAME} dashboard`, `<div id="heroku-header">${header}</div>
<main>
  <h1>${escapeHtml(ADDON_NAME)}</h1>
  <dl>
    <dt>Resource</dt><dd>${escapeHtml(resource.id)}</dd>
    <dt>Plan</dt><dd>${escapeHtml(resource.plan)}</dd>
    <dt>Status</dt><dd>${escapeHtml(resource.state)}</dd>
    <dt>API calls</dt><dd>${escapeHtml(resource.apiCalls)}</dd>
    ${email ? `<dt>Signed in as</dt><dd>${escapeHtml(email)}</dd>` : ''}
  </dl>
</main>`);
}
