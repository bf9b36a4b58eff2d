// After a good sign-on: start a session that remembers it came from Heroku, copy nav-data
// into the heroku-nav-data cookie (Heroku's legacy header script reads it), and redirect
// to the dashboard.
export function startSession(req, res, resource) {
  req.session = { resourceId: resource.id, fromHeroku: true, email: req.body.email };
  if (req.body['nav-data']) res.cookie('heroku-nav-data', req.body['nav-data'], { path: '/' });
  res.redirect(302, '/');
}
