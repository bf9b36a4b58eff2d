# frozen_string_literal: true

# One row per add-on resource Heroku provisioned. Rows are never deleted: a
# deprovisioned resource keeps its uuid, so a late redelivery of its provision
# request is answered 410 instead of creating it again.
Sequel.migration do
  change do
    create_table(:resources) do
      String :id, primary_key: true, size: 32 # the provider's own random id
      String :uuid, unique: true              # Heroku's id; NULL for v1 requests without one
      String :heroku_id                       # v1: the app, e.g. app123@heroku.com
      String :plan, null: false
      String :region
      String :callback_url, text: true
      String :options, text: true, null: false, default: "{}" # JSON
      String :state, null: false              # provisioning, provisioned, failed, deprovisioned
      String :public_url, text: true, null: false # base of the config var's URL
      String :token_digest, size: 64          # SHA-256 of the API token; NULL once revoked
      String :token_ciphertext, text: true    # the token sealed with ENCRYPTION_KEY, to repeat the config var
      Integer :api_calls, null: false, default: 0
      DateTime :created_at, null: false
      DateTime :updated_at, null: false
      DateTime :deprovisioned_at
    end
  end
end
