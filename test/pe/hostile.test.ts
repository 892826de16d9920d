/**
 * Hostile PE files: one row per attack on the headers or the certificate table, built from a small synthetic PE32+
 * image (headers, one section, one certificate entry) so every field can be set to what an attacker would. Each
 * row names the outcome: not a PE image, the error code, or the anomaly codes. No row may crash, hang or read
 * more than the headers, the table and (for the image digest) the file once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPe, inspectPe, type PeSource, peFailure } from '../../src/artifact/pe/index.ts';
import { type ErrorCode, VouchError } from '../../src/errors.ts';

const PE_OFFSET = 0x40;
const OPT = PE_OFFSET + 24;
const OPT_SIZE = 112 + 16 * 8;
const SECTIONS = OPT + OPT_SIZE;
const TEXT = 0x200;
const TABLE = 0x400;

/** A DER SEQUENCE of `n` content bytes (not a PKCS#7: enough for the table walk). */
function derSequence(n: number): Buffer {
  const head = n < 0x80 ? Buffer.from([0x30, n]) : Buffer.from([0x30, 0x82, n >> 8, n & 0xff]);
  return Buffer.concat([head, Buffer.alloc(n, 0x11)]);
}

function entry(content: Buffer, { revision = 0x0200, type = 2, length = 8 + content.length } = {}): Buffer {
  const out = Buffer.alloc(Math.ceil((8 + content.length) / 8) * 8);
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(revision, 4);
  out.writeUInt16LE(type, 6);
  content.copy(out, 8);
  return out;
}

/** PE32+ with one `.text` section at 0x200 and, when `table` is given, a certificate table at 0x400. */
function pe(table?: Buffer): Buffer {
  const size = TABLE + (table?.length ?? 0);
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(PE_OFFSET, 0x3c);
  b.write('PE\0\0', PE_OFFSET, 'latin1');
  b.writeUInt16LE(0x8664, PE_OFFSET + 4);
  b.writeUInt16LE(1, PE_OFFSET + 6);
  b.writeUInt16LE(OPT_SIZE, PE_OFFSET + 20);
  b.writeUInt16LE(0x20b, OPT);
  b.writeUInt32LE(0x200, OPT + 60); // SizeOfHeaders
  b.writeUInt32LE(16, OPT + 108); // NumberOfRvaAndSizes
  b.write('.text', SECTIONS, 'latin1');
  b.writeUInt32LE(0x200, SECTIONS + 8);
  b.writeUInt32LE(0x1000, SECTIONS + 12);
  b.writeUInt32LE(0x200, SECTIONS + 16);
  b.writeUInt32LE(TEXT, SECTIONS + 20);
  if (table) {
    b.writeUInt32LE(TABLE, OPT + 112 + 4 * 8);
    b.writeUInt32LE(table.length, OPT + 112 + 4 * 8 + 4);
    table.copy(b, TABLE);
  }
  return b;
}

const SIG = derSequence(100);
const signed = () => pe(entry(SIG));
const set = (b: Buffer, f: (b: Buffer) => void) => {
  f(b);
  return b;
};
const securityEntry = OPT + 112 + 32;

type Outcome = 'not-pe' | 'clean' | ErrorCode | { anomalies: string[] };

const ROWS: Array<[name: string, input: () => Buffer, expected: Outcome]> = [
  ['empty file', () => Buffer.alloc(0), 'not-pe'],
  ['"MZ" alone', () => Buffer.from('MZ'), 'not-pe'],
  [
    'a text file starting with MZ',
    () => Buffer.from('MZ is a pair of letters, and this is no executable at all.\n'.repeat(2)),
    'not-pe',
  ],
  ['e_lfanew past the end', () => set(pe(), (b) => b.writeUInt32LE(0x10000, 0x3c)), 'not-pe'],
  ['e_lfanew 0xFFFFFFFF', () => set(pe(), (b) => b.writeUInt32LE(0xffffffff, 0x3c)), 'not-pe'],
  ['no PE signature', () => set(pe(), (b) => b.write('NE', PE_OFFSET, 'latin1')), 'not-pe'],
  ['truncated in the COFF header', () => pe().subarray(0, PE_OFFSET + 10), 'PE_MALFORMED'],
  ['truncated in the optional header', () => pe().subarray(0, OPT + 40), 'PE_MALFORMED'],
  ['truncated in the section table', () => pe().subarray(0, SECTIONS + 20), 'PE_MALFORMED'],
  ['65,535 sections', () => set(pe(), (b) => b.writeUInt16LE(0xffff, PE_OFFSET + 6)), 'PE_MALFORMED'],
  ['97 sections', () => set(pe(), (b) => b.writeUInt16LE(97, PE_OFFSET + 6)), 'PE_MALFORMED'],
  ['no optional header (an object file)', () => set(pe(), (b) => b.writeUInt16LE(0, PE_OFFSET + 20)), 'PE_MALFORMED'],
  [
    'optional header larger than the file',
    () => set(pe(), (b) => b.writeUInt16LE(0xffff, PE_OFFSET + 20)),
    'PE_MALFORMED',
  ],
  [
    'optional header shorter than its fields',
    () => set(pe(), (b) => b.writeUInt16LE(64, PE_OFFSET + 20)),
    'PE_MALFORMED',
  ],
  ['ROM optional header magic', () => set(pe(), (b) => b.writeUInt16LE(0x107, OPT)), 'PE_MALFORMED'],
  ['0xFFFFFFFF data directories', () => set(pe(), (b) => b.writeUInt32LE(0xffffffff, OPT + 108)), 'PE_MALFORMED'],
  ['17 data directories', () => set(pe(), (b) => b.writeUInt32LE(17, OPT + 108)), 'PE_MALFORMED'],
  ['4 data directories: no certificate table entry', () => set(pe(), (b) => b.writeUInt32LE(4, OPT + 108)), 'clean'],
  ['SizeOfHeaders past the end', () => set(pe(), (b) => b.writeUInt32LE(0x7fffffff, OPT + 60)), 'PE_MALFORMED'],
  ['section data past the end', () => set(pe(), (b) => b.writeUInt32LE(0x10000, SECTIONS + 16)), 'PE_MALFORMED'],
  [
    'section offset and size that overflow 32 bits',
    () =>
      set(pe(), (b) => {
        b.writeUInt32LE(0xffffffff, SECTIONS + 16);
        b.writeUInt32LE(0xffffffff, SECTIONS + 20);
      }),
    'PE_MALFORMED',
  ],
  ['section data inside the headers', () => set(pe(), (b) => b.writeUInt32LE(0x100, SECTIONS + 20)), 'PE_MALFORMED'],
  ['unsigned, well formed', () => pe(), 'clean'],
  [
    'certificate table past the end',
    () => set(signed(), (b) => b.writeUInt32LE(0x10000, securityEntry + 4)),
    'PE_MALFORMED',
  ],
  [
    'certificate table of 0xFFFFFFFF bytes',
    () => set(signed(), (b) => b.writeUInt32LE(0xffffffff, securityEntry + 4)),
    'PE_MALFORMED',
  ],
  [
    'certificate table at offset 0xFFFFFFF8',
    () => set(signed(), (b) => b.writeUInt32LE(0xfffffff8, securityEntry)),
    'PE_MALFORMED',
  ],
  [
    'certificate table with a size and no offset',
    () => set(signed(), (b) => b.writeUInt32LE(0, securityEntry)),
    'PE_MALFORMED',
  ],
  [
    'certificate table inside the headers',
    () => set(signed(), (b) => b.writeUInt32LE(0x40, securityEntry)),
    'PE_MALFORMED',
  ],
  [
    'certificate table over the .text section',
    () => set(signed(), (b) => b.writeUInt32LE(0x300, securityEntry)),
    'PE_MALFORMED',
  ],
  [
    'certificate table over 8 MiB',
    () => set(pe(entry(Buffer.alloc(9 << 20))), (b) => b.writeUInt32LE(9 << 20, TABLE)),
    'PE_MALFORMED',
  ],
  [
    'entry length 0 (would loop forever)',
    () => pe(entry(SIG, { length: 0 })),
    { anomalies: ['PE_CERTIFICATE_TABLE_SIZE'] },
  ],
  ['entry length 7', () => pe(entry(SIG, { length: 7 })), { anomalies: ['PE_CERTIFICATE_TABLE_SIZE'] }],
  [
    'entry longer than the table',
    () => pe(entry(SIG, { length: 0x10000 })),
    { anomalies: ['PE_CERTIFICATE_TABLE_SIZE'] },
  ],
  [
    'table larger than its entries',
    () => set(pe(Buffer.concat([entry(SIG), Buffer.alloc(16)])), () => {}),
    { anomalies: ['PE_CERTIFICATE_TABLE_SIZE'] },
  ],
  [
    'table of 4 bytes',
    () => set(pe(Buffer.alloc(8)), (b) => b.writeUInt32LE(4, securityEntry + 4)),
    { anomalies: ['PE_OVERLAY', 'PE_CERTIFICATE_TABLE_SIZE'] },
  ],
  ['revision 1.0 entry', () => pe(entry(SIG, { revision: 0x0100 })), { anomalies: ['PE_EXTRA_CERTIFICATE'] }],
  ['X.509 entry instead of PKCS#7', () => pe(entry(SIG, { type: 1 })), { anomalies: ['PE_EXTRA_CERTIFICATE'] }],
  ['two entries', () => pe(Buffer.concat([entry(SIG), entry(SIG)])), { anomalies: ['PE_EXTRA_CERTIFICATE'] }],
  [
    '3CX: 64 bytes after the PKCS#7 inside the entry',
    () => pe(entry(Buffer.concat([SIG, Buffer.alloc(64, 0xce)]))),
    { anomalies: ['PE_SIGNATURE_PADDING'] },
  ],
  [
    '8 zero bytes after the PKCS#7 (more than alignment)',
    () => pe(entry(Buffer.concat([SIG, Buffer.alloc(8)]))),
    { anomalies: ['PE_SIGNATURE_PADDING'] },
  ],
  [
    'non-zero alignment padding inside the entry',
    () => pe(entry(Buffer.concat([SIG, Buffer.from([1])]))),
    { anomalies: ['PE_SIGNATURE_PADDING'] },
  ],
  [
    'non-zero alignment padding after the entry',
    () =>
      set(pe(entry(SIG)), (b) => {
        b[TABLE + 8 + SIG.length] = 0xff;
      }),
    { anomalies: ['PE_SIGNATURE_PADDING'] },
  ],
  [
    'data after the table',
    () => Buffer.concat([signed(), Buffer.from([0xfe, 0xed, 0xfa, 0xce])]),
    { anomalies: ['PE_OVERLAY'] },
  ],
  [
    'table not 8-byte aligned',
    () =>
      set(Buffer.concat([pe(), Buffer.alloc(4), entry(SIG)]), (b) => {
        b.writeUInt32LE(TABLE + 4, securityEntry);
        b.writeUInt32LE(entry(SIG).length, securityEntry + 4);
      }),
    { anomalies: ['PE_CERTIFICATE_TABLE_SIZE'] },
  ],
  // The table is sound; the signature inside it is not (the Authenticode verification names it).
  ['a DER SEQUENCE that is no PKCS#7', () => signed(), 'AUTHENTICODE_SIGNATURE_INVALID'],
  [
    'a signature that is not DER',
    () => pe(entry(Buffer.from('not der at all, but text'))),
    'AUTHENTICODE_SIGNATURE_INVALID',
  ],
  [
    'a DER length past the entry',
    () => pe(entry(Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0, 0]))),
    'AUTHENTICODE_SIGNATURE_INVALID',
  ],
  [
    '5,000 nested SEQUENCEs',
    () => {
      let der = Buffer.alloc(0);
      for (let i = 0; i < 5000; i++) {
        const n = der.length;
        const head = n < 0x80 ? [0x30, n] : n < 0x100 ? [0x30, 0x81, n] : [0x30, 0x82, n >> 8, n & 0xff];
        der = Buffer.concat([Buffer.from(head), der]);
      }
      return pe(entry(der));
    },
    'AUTHENTICODE_SIGNATURE_INVALID',
  ],
];

/** A source over bytes that counts what is read. */
function counting(bytes: Buffer) {
  const reads: number[] = [];
  const source: PeSource = {
    size: bytes.length,
    read: async (offset, length) => {
      assert.ok(offset >= 0 && offset + length <= bytes.length, `read ${offset}+${length} outside the file`);
      reads.push(length);
      return bytes.subarray(offset, offset + length);
    },
  };
  return { source, reads };
}

async function outcome(bytes: Buffer): Promise<Outcome> {
  try {
    const r = await inspectPe('hostile.exe', counting(bytes).source);
    if (!r) return 'not-pe';
    const failure = peFailure(r);
    const codes = [...new Set(r.anomalies.map((a) => a.code))];
    if (failure && r.anomalies.some((a) => a.code === failure.code)) return { anomalies: codes };
    return failure ? failure.code : codes.length > 0 ? { anomalies: codes } : 'clean';
  } catch (e) {
    if (e instanceof VouchError) return e.code;
    throw e;
  }
}

describe('hostile PE files', () => {
  for (const [name, input, expected] of ROWS) {
    it(`${name}: ${typeof expected === 'string' ? expected : expected.anomalies.join(' + ')}`, async () => {
      const got = await outcome(input());
      if (typeof expected === 'string') assert.equal(got, expected);
      else assert.deepEqual(typeof got === 'string' ? got : [...got.anomalies].sort(), [...expected.anomalies].sort());
    });
  }

  it('the structural check reads at most the headers and the table, in at most three reads', async () => {
    for (const [name, input] of ROWS) {
      const bytes = input();
      const { source, reads } = counting(bytes);
      try {
        await checkPe(source);
      } catch (e) {
        assert.ok(e instanceof VouchError, `${name}: ${(e as Error).stack}`);
      }
      assert.ok(reads.length <= 3, `${name}: ${reads.length} reads`);
      const table = bytes.length > securityEntry + 8 ? bytes.readUInt32LE(securityEntry + 4) : 0;
      const bound = 4096 + (table <= 8 << 20 ? table : 0) + 40 * 96 + 0xffff;
      assert.ok(reads.reduce((a, b) => a + b, 0) <= bound, `${name}: read ${reads.reduce((a, b) => a + b, 0)} bytes`);
    }
  });

  it('a file that is not a PE image costs one read of its first 4 KiB at most', async () => {
    const { source, reads } = counting(Buffer.alloc(1 << 20, 0x41));
    assert.deepEqual(await checkPe(source), { kind: 'not-pe' });
    assert.deepEqual(reads, [4096]);
    const again = counting(Buffer.alloc(1 << 20, 0x41));
    assert.deepEqual(await checkPe(again.source, Buffer.alloc(4096, 0x41)), { kind: 'not-pe' });
    assert.deepEqual(again.reads, [], 'the head the caller already read is used');
  });
});
