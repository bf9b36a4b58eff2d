// The dashboard page a sign-on lands on carries Heroku's add-on header: any element with
// id="heroku-header", naming the app and the add-on from nav-data (base64url JSON).
export function dashboardPage({ resource, navData }) {
  const nav = JSON.parse(Buffer.from(navData ?? 'e30', 'base64url').toString('utf8'));
  const escape = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html><body>
  <div id="heroku-header">${escape(nav.appname)} · ${escape(nav.addon)}</div>
  <h1>Database ${escape(resource.id)}</h1>
</body></html>`;
}
