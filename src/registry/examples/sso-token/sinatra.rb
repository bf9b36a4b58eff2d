require "digest"

helpers do
  # Recompute the tokens Heroku sent from your own salt and compare in constant time
  # (secure_equal?: see `kensa explain provision.auth-missing`). v3 sends resource_id with
  # resource_token = sha1(uuid:salt:timestamp) and user_scoped_resource_token =
  # sha256(uuid:salt:timestamp:user_id:email); v1 sent id and token = sha1(id:salt:timestamp).
  # Every token sent must be right.
  def sso_tokens_valid?(resource, salt)
    ts = params[:timestamp]
    checks = []
    if params[:resource_token]
      checks << secure_equal?(params[:resource_token], Digest::SHA1.hexdigest("#{resource[:uuid]}:#{salt}:#{ts}"))
    end
    if params[:user_scoped_resource_token]
      scoped = "#{resource[:uuid]}:#{salt}:#{ts}:#{params[:user_id]}:#{params[:email]}"
      checks << secure_equal?(params[:user_scoped_resource_token], Digest::SHA256.hexdigest(scoped))
    end
    checks << secure_equal?(params[:token], Digest::SHA1.hexdigest("#{resource[:id]}:#{salt}:#{ts}")) if params[:token]
    !checks.empty? && checks.all?
  end
end

# Single sign-on: a form POST to sso_url.
post "/sso/login" do
  resource = if params[:resource_id]
               DB[:resources].first(uuid: params[:resource_id])
             else
               DB[:resources].first(id: params[:id].to_s)
             end
  halt 404, "No such resource." unless resource
  halt 403, "Single sign-on failed." unless timestamp_fresh?(params[:timestamp]) && sso_tokens_valid?(resource, ENV.fetch("SSO_SALT"))

  start_session(resource)
end
