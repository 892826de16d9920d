/** Strict encodings: every decoder rejects what a lenient one would silently repair (CONVENTIONS: hostile input). */
import { type ErrorCode, VouchError } from '../errors.ts';

const B64URL = /^[A-Za-z0-9_-]*$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

/**
 * Decode standard base64, refusing whitespace, trailing garbage, missing padding and non-zero pad bits
 * (Buffer.from(s, 'base64') accepts all of them).
 */
export function decodeBase64(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  if (typeof s !== 'string') throw new VouchError(code, `${what} is not canonical base64`);
  // The round trip alone is the canonical-form check: the lenient decoder drops or remaps anything outside the
  // alphabet (whitespace, base64url, garbage after padding) and fixes missing padding and pad bits, so any such
  // input re-encodes to a different string. A regular expression first costs ~10x the decode on certificates.
  const out = Buffer.from(s, 'base64');
  if (out.toString('base64') !== s) throw new VouchError(code, `${what} is not canonical base64`);
  return out;
}

export function decodeBase64Url(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  if (typeof s !== 'string' || !B64URL.test(s) || s.length % 4 === 1) {
    throw new VouchError(code, `${what} is not base64url`);
  }
  const out = Buffer.from(s, 'base64url');
  if (out.toString('base64url') !== s) throw new VouchError(code, `${what} is not canonical base64url`);
  return out;
}

export function decodeHex(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  if (typeof s !== 'string' || !HEX.test(s)) throw new VouchError(code, `${what} is not lowercase hex`);
  return Buffer.from(s, 'hex');
}

/** Constant-time comparison is not needed for public data; this is plain equality of byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
