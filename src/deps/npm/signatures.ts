/**
 * npm registry signatures: the registry signs `${name}@${version}:${dist.integrity}` with ECDSA P-256 / SHA-256
 * and publishes its keys at `/-/npm/v1/keys` (npm docs, "About ECDSA registry signatures"; npm/pacote
 * lib/registry.js). Every signature a version carries must verify with a published key; a key counts only if it
 * had not expired when the version was published (`time[version]`, 2015-01-01 for versions without one), which
 * lets a registry rotate keys without invalidating what was signed before.
 *
 * Only the message above is signed: publish time, maintainers, `repository` and attestation pointers are not.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { decodeBase64 } from '../../core/encoding.ts';
import { asArray, asObject } from '../../core/json.ts';
import { type ErrorCode, VouchError } from '../../errors.ts';

/** npm's stand-in publish time for versions the registry has no `time` for (pacote MISSING_TIME_CUTOFF). */
export const MISSING_TIME_CUTOFF = '2015-01-01T00:00:00.000Z';
const MAX_KEYS = 64;

export interface RegistryKey {
  keyid: string;
  /** Epoch ms after which the key signs nothing; undefined: no expiry. */
  expires?: number;
  expiresText?: string;
  key: KeyObject;
  /** The SPKI DER bytes (what a verification policy takes). */
  spki: Buffer;
}

export interface Signature {
  keyid: string;
  sig: string;
}

function bad(registry: string, msg: string): never {
  throw new VouchError('SERVICE_ERROR', `registry ${registry}: keys: ${msg}`);
}

/** Parse a `/-/npm/v1/keys` answer. Only `ecdsa-sha2-nistp256` keys exist for npm; others are refused. */
export function parseRegistryKeys(doc: unknown, registry: string): RegistryKey[] {
  const keys = asArray(asObject(doc, 'keys document', 'SERVICE_ERROR').keys, 'keys', 'SERVICE_ERROR');
  if (keys.length > MAX_KEYS) bad(registry, `more than ${MAX_KEYS} keys`);
  const out: RegistryKey[] = [];
  for (const raw of keys) {
    const k = asObject(raw, 'key', 'SERVICE_ERROR');
    if (typeof k.keyid !== 'string' || k.keyid === '' || k.keyid.length > 256) bad(registry, 'a key has no keyid');
    if (k.keytype !== 'ecdsa-sha2-nistp256' || k.scheme !== 'ecdsa-sha2-nistp256') {
      bad(registry, `key ${k.keyid}: unsupported type ${String(k.keytype).slice(0, 40)}`);
    }
    const spki = decodeBase64(k.key, `key ${k.keyid}`, 'SERVICE_ERROR');
    let key: KeyObject;
    try {
      key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    } catch (e) {
      throw new VouchError('SERVICE_ERROR', `registry ${registry}: key ${k.keyid} is not a public key`, { cause: e });
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      bad(registry, `key ${k.keyid} is not a P-256 key`);
    }
    const entry: RegistryKey = { keyid: k.keyid, key, spki };
    if (k.expires !== null && k.expires !== undefined) {
      const t = typeof k.expires === 'string' ? Date.parse(k.expires) : Number.NaN;
      if (Number.isNaN(t)) bad(registry, `key ${k.keyid}: expires is not a date`);
      entry.expires = t;
      entry.expiresText = k.expires as string;
    }
    out.push(entry);
  }
  return out;
}

/** Shape-check the `dist.signatures` of a packument version. */
export function parseSignatures(v: unknown): Signature[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 16) return [{ keyid: '', sig: '' }];
  return v.map((s) => {
    const o = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    return { keyid: typeof o.keyid === 'string' ? o.keyid : '', sig: typeof o.sig === 'string' ? o.sig : '' };
  });
}

export type SignatureVerdict =
  | { status: 'verified'; keyids: string[] }
  | { status: 'missing' }
  | { status: 'unchecked' }
  | { status: 'invalid'; code: ErrorCode; message: string };

/** A key's validity at `at` (epoch ms): no expiry, or expiring after it. */
export function keyValidAt(key: RegistryKey, at: number): boolean {
  return key.expires === undefined || at < key.expires;
}

/**
 * Check every registry signature of `name@version` over `integrity`. `keys` undefined: the registry publishes no
 * keys, so nothing can be checked (`unchecked`, never `verified`).
 */
export function checkRegistrySignatures(input: {
  name: string;
  version: string;
  integrity: string;
  signatures: Signature[] | undefined;
  publishedAt: string | undefined;
  keys: RegistryKey[] | undefined;
}): SignatureVerdict {
  if (input.keys === undefined) return { status: 'unchecked' };
  if (!input.signatures || input.signatures.length === 0) return { status: 'missing' };
  const message = Buffer.from(`${input.name}@${input.version}:${input.integrity}`, 'utf8');
  const published = Date.parse(input.publishedAt ?? MISSING_TIME_CUTOFF);
  const at = Number.isNaN(published) ? Date.parse(MISSING_TIME_CUTOFF) : published;
  for (const s of input.signatures) {
    const key = input.keys.find((k) => k.keyid === s.keyid);
    if (!key) {
      return {
        status: 'invalid',
        code: 'REGISTRY_KEY_UNKNOWN',
        message: `signed with key ${JSON.stringify(s.keyid.slice(0, 80))}, which the registry does not publish`,
      };
    }
    if (!keyValidAt(key, at)) {
      return {
        status: 'invalid',
        code: 'REGISTRY_KEY_EXPIRED',
        message: `signed with key ${key.keyid}, which expired ${key.expiresText} before the version was published (${new Date(at).toISOString()})`,
      };
    }
    let sig: Buffer;
    try {
      sig = decodeBase64(s.sig, 'signature', 'REGISTRY_SIGNATURE_INVALID');
    } catch {
      return { status: 'invalid', code: 'REGISTRY_SIGNATURE_INVALID', message: 'the signature is not base64' };
    }
    if (!cryptoVerify('sha256', message, key.key, sig)) {
      return {
        status: 'invalid',
        code: 'REGISTRY_SIGNATURE_INVALID',
        message: `the signature with key ${key.keyid} does not verify over ${input.name}@${input.version}:${input.integrity.slice(0, 24)}...`,
      };
    }
  }
  return { status: 'verified', keyids: input.signatures.map((s) => s.keyid) };
}
