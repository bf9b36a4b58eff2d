helpers do
  # After a good sign-on: start a session that remembers it came from Heroku, copy nav-data
  # into the heroku-nav-data cookie (Heroku's legacy header script reads it), and redirect
  # to the dashboard.
  def start_session(resource)
    session.clear
    session[:resource_id] = resource[:id]
    session[:email] = params[:email]
    response.set_cookie("heroku-nav-data", value: params[:"nav-data"], path: "/") if params[:"nav-data"]
    redirect to("/"), 302
  end
end
