/** Strict encodings: every decoder rejects what a lenient one would silently repair (CONVENTIONS: hostile input). */
import { type ErrorCode, VouchError } from '../errors.ts';

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

/** The certificates of a PEM text (one or more CERTIFICATE blocks), as DER. */
export function pemCertificates(pem: string, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new VouchError(code, `${what} holds no PEM certificate`);
  return blocks.map((b) => decodeBase64(b[1]!.replace(/\s/g, ''), what, code));
}

/** Decode base64url without padding, refusing every other spelling (the round trip, as in decodeBase64). */
export function decodeBase64Url(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  if (typeof s !== 'string') throw new VouchError(code, `${what} is not base64url`);
  const out = Buffer.from(s, 'base64url');
  if (out.toString('base64url') !== s) throw new VouchError(code, `${what} is not canonical base64url`);
  return out;
}

export function decodeHex(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  if (typeof s !== 'string' || !HEX.test(s)) throw new VouchError(code, `${what} is not lowercase hex`);
  return Buffer.from(s, 'hex');
}

/**
 * Constant-time comparison is not needed for public data; this is plain equality of byte strings (Buffer.compare is
 * 0 only for equal lengths and equal bytes).
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/**
 * An integer with comma thousands separators, as toLocaleString('en-US') writes it, without loading ICU's number
 * formatting (~15 ms on first use, in a command that otherwise takes a few hundred).
 */
export function thousands(n: number): string {
  const s = String(Math.abs(n));
  // Stryker disable next-line ConditionalExpression,Regex: toLocaleString writes the same string; the test only picks the faster way
  if (!/^\d+$/.test(s)) return n.toLocaleString('en-US');
  return (n < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+$)/g, ',');
}
