# frozen_string_literal: true

# The asynchronous (v3) work for one resource: provisioning through Heroku's
# Platform API and, later, the deprovision callback. A row remembers the step it
# reached, so a restarted process resumes it where it stopped (a grant code works
# once: a job past `accepted` never exchanges it again).
Sequel.migration do
  change do
    create_table(:jobs) do
      primary_key :id
      foreign_key :resource_id, :resources, type: String, size: 32, null: false, unique: true
      # accepted -> grant_exchanged -> config_set -> done; deprovisioning -> deprovisioned;
      # cancelled; failed (last_error says why)
      String :step, null: false
      String :callback_url, text: true, null: false
      String :identity_url, text: true, null: false
      String :grant_code_ciphertext, text: true     # sealed with ENCRYPTION_KEY, like the tokens
      DateTime :grant_expires_at
      String :access_token_ciphertext, text: true
      String :refresh_token_ciphertext, text: true
      DateTime :access_token_expires_at
      Integer :attempts, null: false, default: 0    # failed tries of the current step
      String :last_error, text: true
      DateTime :run_at, null: false                 # not before: ASYNC_DELAY_SECONDS, backoff
      DateTime :created_at, null: false
      DateTime :updated_at, null: false
      index %i[step run_at]
    end
  end
end
