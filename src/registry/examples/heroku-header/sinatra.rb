require "base64"
require "erb"

# The dashboard page a sign-on lands on carries Heroku's add-on header: any element with
# id="heroku-header", naming the app and the add-on from nav-data (base64url JSON).
get "/" do
  resource = DB[:resources].first(id: session[:resource_id].to_s) or halt 403, "Log in through Heroku."
  nav = JSON.parse(Base64.urlsafe_decode64(request.cookies["heroku-nav-data"] || "e30")) rescue {}
  <<~HTML
    <!doctype html>
    <html><body>
      <div id="heroku-header">#{ERB::Util.h(nav['appname'])} · #{ERB::Util.h(nav['addon'])}</div>
      <h1>Database #{ERB::Util.h(resource[:id])}</h1>
    </body></html>
  HTML
end
