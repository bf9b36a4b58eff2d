# frozen_string_literal: true

require "openssl"
require "securerandom"

# Seals the secrets the database keeps (OAuth tokens, grant codes, API tokens
# for repeating a config var) with AES-256-GCM under ENCRYPTION_KEY, so a copy of
# the database alone gives none of them away. Each value gets a random nonce; the
# stored text is "v1:" + base64(nonce | ciphertext | tag).
class SecretBox
  class KeyError < StandardError; end

  VERSION = "v1:"
  NONCE_BYTES = 12
  TAG_BYTES = 16

  # ENCRYPTION_KEY: 64 hex characters (256 bits). `kensa create` writes a random
  # one into .env; on Heroku: heroku config:set ENCRYPTION_KEY=$(openssl rand -hex 32)
  def self.from_env(env = ENV)
    new(env.fetch("ENCRYPTION_KEY", ""))
  end

  def initialize(hex_key)
    unless hex_key.is_a?(String) && hex_key.match?(/\A\h{64}\z/)
      raise KeyError, "ENCRYPTION_KEY must be 64 hex characters (a 256-bit key); " \
                      "generate one with `openssl rand -hex 32`"
    end

    @key = [hex_key].pack("H*")
  end

  def seal(plaintext)
    return nil if plaintext.nil?

    cipher = OpenSSL::Cipher.new("aes-256-gcm").encrypt
    cipher.key = @key
    nonce = SecureRandom.random_bytes(NONCE_BYTES)
    cipher.iv = nonce
    cipher.auth_data = ""
    sealed = cipher.update(plaintext.to_s) + cipher.final
    VERSION + [nonce + sealed + cipher.auth_tag].pack("m0")
  end

  # The plaintext; raises OpenSSL::Cipher::CipherError when the value was
  # altered or sealed under another key.
  def open(sealed)
    return nil if sealed.nil?
    raise OpenSSL::Cipher::CipherError, "not a sealed value" unless sealed.start_with?(VERSION)

    raw = sealed.delete_prefix(VERSION).unpack1("m0")
    raise OpenSSL::Cipher::CipherError, "sealed value too short" if raw.bytesize < NONCE_BYTES + TAG_BYTES

    cipher = OpenSSL::Cipher.new("aes-256-gcm").decrypt
    cipher.key = @key
    cipher.iv = raw.byteslice(0, NONCE_BYTES)
    cipher.auth_tag = raw.byteslice(-TAG_BYTES, TAG_BYTES)
    cipher.auth_data = ""
    (cipher.update(raw.byteslice(NONCE_BYTES...-TAG_BYTES)) + cipher.final).force_encoding(Encoding::UTF_8)
  rescue ArgumentError
    raise OpenSSL::Cipher::CipherError, "sealed value is not base64"
  end

  # Never shows the key, wherever the box ends up printed.
  def inspect
    "#<SecretBox>"
  end
end
