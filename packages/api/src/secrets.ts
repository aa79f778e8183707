// Registry credentials at rest: AES-256-GCM under a key from the environment
// (CIDER_SECRET_KEY, 32 bytes as base64 or hex). A sealed value is
// version(1) | iv(12) | tag(16) | ciphertext, so keys or formats can change later.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from './errors.ts';

const version = 1;

export function parseSecretKey(value: string | undefined): Buffer {
  if (!value) throw new Error('CIDER_SECRET_KEY is not set: generate one with `openssl rand -base64 32`');
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error('CIDER_SECRET_KEY must be 32 bytes, as base64 (openssl rand -base64 32) or 64 hex digits');
  return key;
}

export function seal(key: Buffer, plaintext: string, context: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  // The context (e.g. the registry id) is authenticated: a sealed value moved to another row fails to open.
  cipher.setAAD(Buffer.from(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), ciphertext]);
}

export function open(key: Buffer, sealed: Uint8Array, context: string): string {
  const data = Buffer.from(sealed);
  if (data[0] !== version || data.length < 29) throw new AppError('INTERNAL', 'A stored secret has an unknown format');
  const iv = data.subarray(1, 13);
  const tag = data.subarray(13, 29);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data.subarray(29)), decipher.final()]).toString('utf8');
  } catch {
    throw new AppError('INTERNAL', 'A stored secret could not be decrypted: was CIDER_SECRET_KEY changed?');
  }
}
