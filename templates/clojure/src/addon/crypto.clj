(ns addon.crypto
  "Secrets, at rest and in comparisons. The OS random number generator makes every secret
  this service invents; SHA-256 keeps the resource credentials it only has to check;
  AES-256-GCM (the JDK's javax.crypto) protects what it must read back: Heroku's OAuth
  tokens and grant codes, and each resource's credential for answering a redelivered
  provision with the same config."
  (:import (java.nio ByteBuffer)
           (java.nio.charset StandardCharsets)
           (java.security MessageDigest SecureRandom)
           (java.util Base64 HexFormat)
           (javax.crypto Cipher)
           (javax.crypto.spec GCMParameterSpec SecretKeySpec)))

(defonce ^:private ^SecureRandom random
  ;; On Linux the default SecureRandom reads the kernel's generator (/dev/urandom).
  (SecureRandom.))

(defn utf8 ^bytes [^String s]
  (.getBytes s StandardCharsets/UTF_8))

(defn random-bytes ^bytes [n]
  (let [bytes (byte-array n)]
    (.nextBytes random bytes)
    bytes))

(defn hex [^bytes bytes]
  (.formatHex (HexFormat/of) bytes))

(defn random-token
  "A new secret: 256 random bits as 64 lowercase hex characters (safe in URLs as they are)."
  []
  (hex (random-bytes 32)))

(defn sha256-hex [^String s]
  (hex (.digest (MessageDigest/getInstance "SHA-256") (utf8 s))))

(defn secure=
  "Compares two strings in constant time (for equal lengths), so response times do not
  reveal how much of a secret was guessed right. nil never matches."
  [a b]
  (and (string? a) (string? b)
       (MessageDigest/isEqual (utf8 a) (utf8 b))))

(defn parse-key
  "The 32-byte AES key in `text` (64 hex characters, as `openssl rand -hex 32` prints), or nil."
  [text]
  (when (and (string? text) (re-matches #"[0-9a-fA-F]{64}" text))
    (.parseHex (HexFormat/of) text)))

;; ---------------------------------------------------------------------------------------
;; AES-256-GCM. A stored value is "v1." + base64url(nonce || ciphertext || tag), with a
;; fresh 96-bit nonce for every value. `context` names where the value lives (column and
;; row) and is authenticated with it, so a value copied into another row does not decrypt.

(def ^:private prefix "v1.")
(def ^:private nonce-bytes 12)
(def ^:private tag-bits 128)

(defn- cipher ^Cipher [mode ^bytes key ^bytes nonce ^String context]
  (doto (Cipher/getInstance "AES/GCM/NoPadding")
    (.init (int mode) (SecretKeySpec. key "AES") (GCMParameterSpec. tag-bits nonce))
    (.updateAAD (utf8 context))))

(defn encrypt
  "`plaintext` (a string, or nil which stays nil) sealed with `key` for `context`."
  [^bytes key ^String plaintext ^String context]
  (when plaintext
    (let [nonce (random-bytes nonce-bytes)
          sealed (.doFinal (cipher Cipher/ENCRYPT_MODE key nonce context) (utf8 plaintext))
          out (-> (ByteBuffer/allocate (+ nonce-bytes (alength sealed))) (.put nonce) (.put sealed))]
      (str prefix (.encodeToString (.withoutPadding (Base64/getUrlEncoder)) (.array out))))))

(defn decrypt
  "The plaintext of a value made by `encrypt` with the same key and context (nil stays nil).
  Throws when the value was altered, moved to another context, or sealed with another key."
  [^bytes key ^String stored ^String context]
  (when stored
    (when-not (.startsWith stored prefix)
      (throw (ex-info "not an encrypted value" {})))
    (let [raw (.decode (Base64/getUrlDecoder) (subs stored (count prefix)))
          nonce (java.util.Arrays/copyOfRange raw 0 (int nonce-bytes))
          plain (.doFinal (cipher Cipher/DECRYPT_MODE key nonce context)
                          raw nonce-bytes (- (alength raw) nonce-bytes))]
      (String. plain StandardCharsets/UTF_8))))
