/**
 * Minimal strict DER reader (ITU-T X.690 §10) for the few structures the verifier walks: certificates, RFC 3161
 * tokens, CMS. Only definite lengths in minimal form are accepted (§10.1), so one byte string has exactly one
 * parse; anything else raises `code`. Values are views into the input (no copies), which keeps certificate parsing
 * cheap enough to do on every verification.
 */
import { type ErrorCode, VouchError } from '../errors.ts';

export interface Tlv {
  /** The full identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** Content octets. */
  value: Buffer;
  /** The whole encoding: identifier, length and content. */
  raw: Buffer;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads consecutive TLVs from a buffer. */
export class DerReader {
  readonly buf: Buffer;
  pos = 0;
  readonly code: ErrorCode;

  constructor(buf: Buffer, code: ErrorCode = 'BUNDLE_MALFORMED') {
    this.buf = buf;
    this.code = code;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  fail(what: string): never {
    throw new VouchError(this.code, `malformed DER: ${what}`);
  }

  peekTag(): number | undefined {
    return this.pos < this.buf.length ? this.buf[this.pos] : undefined;
  }

  next(expected?: number): Tlv {
    const b = this.buf;
    const start = this.pos;
    if (start + 2 > b.length) this.fail('truncated');
    const tag = b[start]!;
    if ((tag & 0x1f) === 0x1f) this.fail('high tag numbers are not used here');
    if (expected !== undefined && tag !== expected) {
      this.fail(`expected tag 0x${expected.toString(16)}, got 0x${tag.toString(16)}`);
    }
    let len = b[start + 1]!;
    let p = start + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) this.fail('indefinite or oversize length');
      if (p + n > b.length) this.fail('truncated length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
      // Minimal form: long form only for >= 128, and no leading zero octet.
      if (len < 0x80 || b[p] === 0) this.fail('non-minimal length');
      p += n;
    }
    if (p + len > b.length) this.fail('length beyond end');
    this.pos = p + len;
    return { tag, value: b.subarray(p, p + len), raw: b.subarray(start, p + len) };
  }

  /** Next TLV if it has `tag`, else undefined (for OPTIONAL and context-tagged fields). */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.next() : undefined;
  }

  end(): void {
    if (!this.done) this.fail('trailing data');
  }
}

/** Parse exactly one TLV covering the whole buffer. */
export function derOne(buf: Buffer, expected?: number, code: ErrorCode = 'BUNDLE_MALFORMED'): Tlv {
  const r = new DerReader(buf, code);
  const t = r.next(expected);
  r.end();
  return t;
}

export function children(t: Tlv, code: ErrorCode = 'BUNDLE_MALFORMED'): DerReader {
  if ((t.tag & 0x20) === 0) throw new VouchError(code, 'malformed DER: primitive where constructed expected');
  return new DerReader(t.value, code);
}

/**
 * An OBJECT IDENTIFIER's dotted form (X.690 §8.19). Arcs past 2^53 (UUID arcs under 2.25, X.667) are read as
 * BigInt, so two different OIDs never decode to the same string.
 */
export function decodeOid(v: Buffer): string {
  if (v.length === 0) return '';
  const parts: (number | bigint)[] = [];
  let acc: number | bigint = 0;
  for (let i = 0; i < v.length; i++) {
    const byte = v[i]!;
    if (typeof acc === 'number' && acc >= 2 ** 45) acc = BigInt(acc);
    acc = typeof acc === 'number' ? acc * 128 + (byte & 0x7f) : acc * 128n + BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) {
        const first = acc < 80 ? Math.floor(Number(acc) / 40) : 2;
        parts.push(first, typeof acc === 'number' ? acc - first * 40 : acc - BigInt(first * 40));
      } else parts.push(acc);
      acc = 0;
    }
  }
  return parts.join('.');
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSS[.f]Z) as epoch milliseconds; DER requires 'Z'. */
export function decodeTime(t: Tlv, code: ErrorCode = 'BUNDLE_MALFORMED'): number {
  const s = t.value.toString('latin1');
  let year: number;
  let rest: string[];
  let frac = 0;
  const utc = t.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  const gen =
    t.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(s) : null;
  if (utc) {
    const yy = Number(utc[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 §4.1.2.5.1
    rest = utc.slice(2, 7);
  } else if (gen) {
    year = Number(gen[1]);
    rest = gen.slice(2, 7);
    if (gen[7]) frac = Math.floor(Number(`0.${gen[7]}`) * 1000);
  } else {
    throw new VouchError(code, 'malformed DER time');
  }
  const [mo, d, h, mi, se] = rest.map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const check = new Date(ms);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw new VouchError(code, 'invalid date in DER time');
  }
  return ms + frac;
}

/** Encode a DER length + content under `tag` (used to rebuild a TBS certificate for SCT checks). */
export function derEncode(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let head: Buffer;
  if (n < 0x80) head = Buffer.from([tag, n]);
  else if (n < 0x100) head = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) head = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else head = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, content]);
}
