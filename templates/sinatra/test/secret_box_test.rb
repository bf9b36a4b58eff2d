# frozen_string_literal: true

require_relative "test_helper"

class SecretBoxTest < Minitest::Test
  KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

  def box(key = KEY)
    SecretBox.new(key)
  end

  def test_seals_and_opens
    sealed = box.seal("access-token-1")
    assert_match(/\Av1:/, sealed)
    refute_includes sealed, "access-token-1"
    assert_equal "access-token-1", box.open(sealed)
    assert_nil box.seal(nil)
    assert_nil box.open(nil)
  end

  def test_every_seal_has_its_own_nonce
    refute_equal box.seal("same"), box.seal("same")
  end

  def test_an_altered_value_or_another_key_is_refused
    sealed = box.seal("secret")
    raw = sealed.delete_prefix("v1:").unpack1("m0")
    raw.setbyte(15, raw.getbyte(15) ^ 1)
    assert_raises(OpenSSL::Cipher::CipherError) { box.open("v1:#{[raw].pack('m0')}") }
    assert_raises(OpenSSL::Cipher::CipherError) { box("f" * 64).open(sealed) }
    ["secret", "v1:", "v1:!!!"].each do |garbage|
      assert_raises(OpenSSL::Cipher::CipherError) { box.open(garbage) }
    end
  end

  def test_the_key_must_be_64_hex_characters
    [nil, "", "abc", "g" * 64, "a" * 63, "a" * 65].each do |key|
      error = assert_raises(SecretBox::KeyError) { SecretBox.new(key) }
      assert_match(/ENCRYPTION_KEY/, error.message)
    end
    refute_includes box.inspect, KEY
  end
end
