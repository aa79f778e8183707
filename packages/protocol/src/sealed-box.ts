// Sealed boxes: a secret encrypted to one node's X25519 public key, so that only that node can
// open it. The control plane seals registry credentials and rotated node secrets with it before
// they leave the process: Redis pub/sub and any proxy between control and agent see ciphertext.
//
//   box = version(1) | ephemeral public key(32) | iv(12) | GCM tag(16) | ciphertext
//   key = HKDF-SHA256(X25519(ephemeral, recipient), salt = epk | recipient pk, info = "cider sealed box v1")
//   AAD = the context the box was sealed for (e.g. "sync:<job id>"), so a box cannot be replayed
//         into another message.
//
// The construction is libsodium's crypto_box_seal idea (anonymous sender, ephemeral key per box)
// built from node:crypto primitives, so neither side needs a native addon.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

const version = 1;
const info = Buffer.from('cider sealed box v1');
const headerLength = 1 + 32 + 12 + 16;

/** A node's key pair as stored in its config: raw 32-byte keys, base64url. */
export interface NodeKeyPair {
  publicKey: string;
  privateKey: string;
}

/** A raw X25519 public key, base64url without padding (43 characters). */
export const publicKeyPattern = /^[A-Za-z0-9_-]{43}$/;

export function generateNodeKeyPair(): NodeKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: publicKey.export({ format: 'jwk' }).x!, privateKey: privateKey.export({ format: 'jwk' }).d! };
}

function publicKeyObject(raw: string): KeyObject {
  if (!publicKeyPattern.test(raw)) throw new Error('not an X25519 public key (32 bytes, base64url)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw }, format: 'jwk' });
}

function privateKeyObject(pair: NodeKeyPair): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', x: pair.publicKey, d: pair.privateKey }, format: 'jwk' });
}

function deriveKey(shared: Buffer, ephemeral: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), info, 32));
}

/** Encrypts `plaintext` to the holder of `recipientPublicKey`, bound to `context`. */
export function seal(recipientPublicKey: string, plaintext: string, context: string): string {
  const recipient = publicKeyObject(recipientPublicKey);
  const ephemeral = generateKeyPairSync('x25519');
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const epk = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const key = deriveKey(shared, epk, Buffer.from(recipientPublicKey, 'base64url'));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([version]), epk, iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/** Opens a box sealed to `pair` for `context`; throws when it was not, or was altered. */
export function open(pair: NodeKeyPair, box: string, context: string): string {
  const data = Buffer.from(box, 'base64url');
  if (data.length < headerLength || data[0] !== version) throw new Error('not a sealed box of a known version');
  const epk = data.subarray(1, 33);
  const iv = data.subarray(33, 45);
  const tag = data.subarray(45, 61);
  const shared = diffieHellman({ privateKey: privateKeyObject(pair), publicKey: publicKeyObject(epk.toString('base64url')) });
  const key = deriveKey(shared, epk, Buffer.from(pair.publicKey, 'base64url'));
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data.subarray(headerLength)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('the sealed box does not open with this node key (sealed for another node or context, or altered)');
  }
}
