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

/** The certificates of a PEM text (one or more CERTIFICATE blocks), as DER. */
export function pemCertificates(pem: string, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer[] {
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new VouchError(code, `${what} holds no PEM certificate`);
  return blocks.map((b) => decodeBase64(b[1]!.replace(/\s+/g, ''), what, code));
}

export function decodeBase64Url(s: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Buffer {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: a length of 4n+1 decodes short and fails the round trip below too
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

/** Characters decoded per native call: short strings stay in V8's young generation. */
const NATIVE_SLICE = 48 << 10;

/** Value of each standard base64 character; 64 for '=', 255 for anything else. */
const B64_VALUES = (() => {
  const t = new Uint8Array(256).fill(255);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  t[0x3d] = 64;
  return t;
})();

/**
 * Strict standard base64 of text that arrives in pieces (a DSSE payload of a large directory bundle, read from
 * the file in chunks): the canonical form `decodeBase64` accepts (standard alphabet, no whitespace, padding to a
 * whole group and only in the last one, zero pad bits), decoded into one reused output buffer in short native
 * slices, so a 200 MB payload makes little garbage.
 */
export class Base64Decoder {
  readonly #what: string;
  readonly #code: ErrorCode;
  readonly #carry = new Uint8Array(4);
  #carried = 0;
  #padded = false;
  #out = Buffer.alloc(0);

  constructor(what: string, code: ErrorCode = 'BUNDLE_MALFORMED') {
    this.#what = what;
    this.#code = code;
  }

  #fail(why: string): never {
    throw new VouchError(this.#code, `${this.#what} is not canonical base64 (${why})`);
  }

  /**
   * The bytes of every complete group so far (a view of a buffer reused by the next call: consume it before);
   * up to three characters wait for the next piece.
   */
  push(piece: Buffer): Buffer {
    if (piece.length === 0) return this.#out.subarray(0, 0);
    if (this.#padded) this.#fail('data after padding');
    const max = Math.floor((this.#carried + piece.length) / 4) * 3;
    if (this.#out.length < max) this.#out = Buffer.allocUnsafe(Math.max(max, 3 << 16));
    const out = this.#out;
    let o = 0;
    let i = 0;
    const carry = this.#carry;
    if (this.#carried > 0) {
      while (this.#carried < 4 && i < piece.length) carry[this.#carried++] = piece[i++]!;
      if (this.#carried < 4) return out.subarray(0, 0);
      o = this.#group(carry, 0, out, 0, i === piece.length);
      this.#carried = 0;
    }
    const whole = i + Math.floor((piece.length - i) / 4) * 4;
    if (i < whole) {
      // Every group but the piece's last one must be plain alphabet: decoded natively, checked by its length
      // (the native decoder skips what is not base64, so anything else comes out short) and for the two
      // base64url characters it would take.
      const last = whole - 4;
      const dash = piece.indexOf(0x2d, i);
      const underscore = piece.indexOf(0x5f, i);
      if ((dash >= 0 && dash < last) || (underscore >= 0 && underscore < last)) this.#fail('base64url character');
      for (let at = i; at < last; at += NATIVE_SLICE) {
        const to = Math.min(at + NATIVE_SLICE, last);
        const n = out.write(piece.toString('latin1', at, to), o, 'base64');
        if (n !== ((to - at) / 4) * 3) this.#fail('character outside the alphabet or misplaced padding');
        o += n;
      }
      o = this.#group(piece, last, out, o, whole === piece.length);
      i = whole;
    }
    for (; i < piece.length; i++) carry[this.#carried++] = piece[i]!;
    return out.subarray(0, o);
  }

  /** One group at `src[at..at+4)`; padding is allowed when it may be the last group of the text. */
  #group(src: Uint8Array, at: number, out: Buffer, o: number, mayBeLast: boolean): number {
    const V = B64_VALUES;
    const a = V[src[at]!]!;
    const b = V[src[at + 1]!]!;
    const c = V[src[at + 2]!]!;
    const d = V[src[at + 3]!]!;
    if (a >= 64 || b >= 64 || c === 255 || d === 255) this.#fail('character outside the alphabet or misplaced padding');
    out[o++] = (a << 2) | (b >> 4);
    if (c === 64) {
      if (d !== 64) this.#fail('misplaced padding');
      if (!mayBeLast || (b & 15) !== 0) this.#fail('padding');
      this.#padded = true;
      return o;
    }
    out[o++] = ((b & 15) << 4) | (c >> 2);
    if (d === 64) {
      if (!mayBeLast || (c & 3) !== 0) this.#fail('padding');
      this.#padded = true;
      return o;
    }
    out[o++] = ((c & 3) << 6) | d;
    return o;
  }

  /** Fails unless the text ended on a whole group. */
  end(): void {
    if (this.#carried !== 0) this.#fail('truncated');
  }
}

/** The decoded length of canonical base64 text of `chars` characters ending in `tail` (its last two characters). */
export function base64DecodedLength(chars: number, tail: string): number {
  return (chars / 4) * 3 - (tail.endsWith('==') ? 2 : tail.endsWith('=') ? 1 : 0);
}

/**
 * An integer with comma thousands separators, as toLocaleString('en-US') writes it, without loading ICU's number
 * formatting (~15 ms on first use, in a command that otherwise takes a few hundred).
 */
export function thousands(n: number): string {
  const s = String(Math.abs(n));
  if (!/^\d+$/.test(s)) return n.toLocaleString('en-US');
  return (n < 0 ? '-' : '') + s.replace(/\B(?=(\d{3})+$)/g, ',');
}
