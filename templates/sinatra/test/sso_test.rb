# frozen_string_literal: true

require_relative "test_helper"

class SSOTest < Minitest::Test
  include TestHelpers

  SALT = "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4"

  def test_v1_token_matches_the_published_vector
    assert_equal "bb466eb1d6bc345d11072c3cd25c311f21be130d", SSO.token("123", SALT, "1267597772")
  end

  def test_timestamp_window
    now = 1_700_000_000
    assert SSO.fresh?(now.to_s, now: now)
    assert SSO.fresh?((now - 300).to_s, now: now)
    refute SSO.fresh?((now - 360).to_s, now: now), "6 minutes old"
    refute SSO.fresh?((now + 360).to_s, now: now), "6 minutes ahead"
    refute SSO.fresh?("12abc", now: now)
    refute SSO.fresh?(nil, now: now)
  end

  def test_nav_data_decodes_with_or_without_padding
    unpadded = nav_data(addon: "My Addon", appname: "my-app!")
    refute_equal 0, unpadded.length % 4, "this example needs padding"
    padded = unpadded + "=" * (-unpadded.length % 4)
    assert_equal "my-app!", SSO.decode_nav_data(unpadded)["appname"]
    assert_equal "My Addon", SSO.decode_nav_data(padded)["addon"]
  end

  def test_garbage_nav_data_decodes_to_nothing
    b64 = ->(text) { [text].pack("m0").tr("+/", "-_") }
    ["", "!!!", "a", b64.("not json"), b64.("[1]"), b64.("\xff\xfe".b), nil].each do |raw|
      assert_equal({}, SSO.decode_nav_data(raw), raw.inspect)
    end
  end
end
