/**
 * Key pairs for `vouch keygen` / `vouch sign --key`. Private keys are PKCS#8, always encrypted (PBES2 with AES-256-CBC,
 * as OpenSSL writes it), stored mode 0600 and never overwritten without `force`. Public keys are SPKI PEM; a key is
 * named by its fingerprint, the SHA-256 of its SPKI DER (the Sigstore bundle's public-key hint).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { fileError } from '../core/digest.ts';
import { readCappedText } from '../core/read.ts';
import { VouchError } from '../errors.ts';

export type KeyType = 'ecdsa-p256' | 'ed25519';

export interface GeneratedKeyPair {
  type: KeyType;
  /** Encrypted PKCS#8 PEM. */
  privateKeyPem: string;
  publicKeyPem: string;
  fingerprint: string;
}

export function generateKeyPair(type: KeyType, passphrase: string): GeneratedKeyPair {
  if (passphrase.length === 0) {
    throw new VouchError('PASSPHRASE_INVALID', 'refusing to store a private key with an empty passphrase');
  }
  const encoding = {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
  } as const;
  const pair =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519', encoding)
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1', ...encoding });
  return {
    type,
    privateKeyPem: pair.privateKey,
    publicKeyPem: pair.publicKey,
    fingerprint: fingerprint(createPublicKey(pair.publicKey)),
  };
}

/** SHA-256 of the SPKI DER, lowercase hex. */
export function fingerprint(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Write a file that must not exist yet (unless `force`), with the given mode, in one write. */
export function writeNewFile(path: string, data: string, mode: number, force = false): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | (force ? constants.O_TRUNC : constants.O_EXCL);
  let fd: number;
  try {
    fd = openSync(path, flags, mode);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new VouchError('FILE_EXISTS', `${path} already exists`, { cause: e });
    throw fileError(err, path);
  }
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

export function writeKeyPair(
  prefix: string,
  pair: GeneratedKeyPair,
  force = false,
): { privatePath: string; publicPath: string } {
  const privatePath = `${prefix}.key`;
  const publicPath = `${prefix}.pub`;
  // Write the public key second: a failure on it leaves the (recoverable) private key, never a lone public key.
  writeNewFile(privatePath, pair.privateKeyPem, 0o600, force);
  writeNewFile(publicPath, pair.publicKeyPem, 0o644, force);
  return { privatePath, publicPath };
}

export function parsePrivateKey(pem: string, passphrase: string | undefined): KeyObject {
  if (!pem.includes('-----BEGIN')) throw new VouchError('KEY_INVALID', 'the key file is not PEM');
  if (pem.includes('PUBLIC KEY-----'))
    throw new VouchError('KEY_INVALID', 'this is a public key; signing needs the private key');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase ?? '' });
  } catch (e) {
    // An encrypted key that does not open is a passphrase problem whatever OpenSSL says: about one wrong passphrase
    // in 256 gets past AES-CBC's padding check and fails later, in the DER of the garbage it decrypted.
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
      throw new VouchError('PASSPHRASE_INVALID', 'the passphrase does not decrypt the private key', { cause: e });
    }
    throw new VouchError('KEY_INVALID', 'the private key cannot be read', { cause: e });
  }
  keyTypeOf(key);
  return key;
}

/** Parse a public key from SPKI PEM or DER. */
export function parsePublicKey(data: string | Buffer): KeyObject {
  try {
    if (typeof data === 'string' || data.includes('-----BEGIN')) {
      const pem = data.toString();
      if (pem.includes('PRIVATE KEY-----')) {
        throw new VouchError('KEY_INVALID', 'this is a private key; verification takes the public key (.pub)');
      }
      return createPublicKey({ key: pem, format: 'pem' });
    }
    return createPublicKey({ key: data, format: 'der', type: 'spki' });
  } catch (e) {
    if (e instanceof VouchError) throw e;
    throw new VouchError('KEY_INVALID', 'the public key cannot be read', { cause: e });
  }
}

export function keyTypeOf(key: KeyObject): KeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  throw new VouchError('KEY_INVALID', `unsupported key type ${key.asymmetricKeyType}`);
}

/** Largest key file read: a PEM key is a few hundred bytes, an RSA-8192 one ~7 KiB. */
const MAX_KEY_FILE_BYTES = 64 << 10;

/** A key file's text, read under a cap (a FIFO or /dev/zero stops there with KEY_INVALID). */
export async function readKeyFile(path: string): Promise<string> {
  return readCappedText(path, { maxBytes: MAX_KEY_FILE_BYTES, code: 'KEY_INVALID', what: `key file ${path}` });
}
