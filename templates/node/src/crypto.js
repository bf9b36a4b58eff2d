import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Secrets at rest. The OAuth tokens Heroku gives for asynchronous provisioning, the grant code
// and each resource's API token are stored sealed: AES-256-GCM with ENCRYPTION_KEY and a random
// 96-bit nonce per value, so the database never holds one in clear. Each value is bound to
// what it is (the `context`, e.g. "access_token:<resource id>") as associated data: a sealed
// value copied into another row or column does not open.

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

// ENCRYPTION_KEY: 64 hex characters (256 bits), e.g. `openssl rand -hex 32`.
export function parseEncryptionKey(hex) {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error('ENCRYPTION_KEY must be 64 hex characters (a 256-bit key; generate one with `openssl rand -hex 32`)');
  }
  return Buffer.from(hex, 'hex');
}

export class SecretBox {
  #key;

  constructor(key) {
    if (!Buffer.isBuffer(key) || key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.#key = key;
  }

  // "v1.<base64url(nonce | ciphertext | tag)>"
  seal(plaintext, context) {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  // Throws when the value was not sealed with this key and context (or was changed).
  open(sealed, context) {
    const [version, data] = String(sealed).split('.');
    const raw = Buffer.from(data ?? '', 'base64url');
    if (version !== VERSION || raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()])
      .toString('utf8');
  }

  // Never shows the key, whatever prints this object.
  toJSON() {
    return 'SecretBox';
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return 'SecretBox {}';
  }
}

// A resource's API token: 256 random bits from the OS, URL-safe (it goes into a URL's userinfo).
export const newApiToken = () => randomBytes(32).toString('base64url');

// The token's SHA-256, hex: what the database keeps to check it. A slow password hash is not
// needed for 256 random bits.
export const hashToken = (token) => createHash('sha256').update(String(token), 'utf8').digest('hex');

// Constant-time comparison of two strings of any length: hashing both sides gives equal-length
// buffers, which timingSafeEqual needs, and keeps a secret's length from leaking through timing.
export function safeEqual(a, b) {
  const digest = (value) => createHash('sha256').update(String(value)).digest();
  return timingSafeEqual(digest(a), digest(b));
}
