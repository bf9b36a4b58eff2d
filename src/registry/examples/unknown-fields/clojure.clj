(defn provision-request
  "Reads the fields it needs and ignores the rest: Heroku adds request fields without
  notice, so no closed spec or schema on the request body."
  [body]
  {:uuid (get body "uuid")
   :plan (get body "plan")
   :region (get body "region")
   :callback-url (get body "callback_url")
   :grant-code (get-in body ["oauth_grant" "code"])
   :options (get body "options" {})})
