/**
 * The strict readers every verification goes through (src/core/json.ts, src/core/encoding.ts), at the edges of
 * each rule: sizes and depths exactly at and one past their limits, duplicate keys however they are spelled,
 * integers at the int64 boundary, base64/base64url/hex in non-canonical forms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytesEqual,
  decodeBase64,
  decodeBase64Url,
  decodeHex,
  pemCertificates,
  thousands,
} from '../../src/core/encoding.ts';
import { asArray, asInt, asObject, asString, canonicalJson, optString, parseStrictJson } from '../../src/core/json.ts';
import { type ErrorCode, VouchError } from '../../src/errors.ts';

function code(fn: () => unknown): ErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    return e.code;
  }
}

describe('strict JSON', () => {
  const rows: [string, string, ErrorCode | 'ok'][] = [
    ['a duplicate key', '{"a":1,"a":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate key spelled with an escape', '{"a":1,"\\u0061":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate key holding an escaped quote', '{"a\\"b":1,"a\\"b":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate key ending in a backslash', '{"a\\\\":1,"a\\\\":2}', 'BUNDLE_MALFORMED'],
    ['keys differing only after an escape', '{"a\\"b":1,"a\\"c":2}', 'ok'],
    ['a duplicate after a nested object', '{"a":{"b":1},"a":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate after a nested list', '{"a":[1,{"a":1}],"a":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate after an empty list', '{"a":1,"b":[],"a":2}', 'BUNDLE_MALFORMED'],
    ['a duplicate inside a list inside an object', '{"x":[{"k":1,"k":2}]}', 'BUNDLE_MALFORMED'],
    ['the same key in sibling objects', '[{"k":1},{"k":1}]', 'ok'],
    ['the same key at two depths', '{"k":{"k":{"k":1}}}', 'ok'],
    ['a key equal to a string value', '{"a":"b","b":"a"}', 'ok'],
    ['string values holding braces, quotes and commas', '{"a":"{\\"a\\":1,","b":"}],[{"}', 'ok'],
    ['list elements that look like keys', '{"a":["a","a"],"b":1}', 'ok'],
    ['a string value equal to a later key, after a list', '{"l":["b"],"b":1}', 'ok'],
    ['invalid JSON', '{"a":', 'BUNDLE_MALFORMED'],
    ['trailing text', '{"a":1}x', 'BUNDLE_MALFORMED'],
  ];
  for (const [name, text, want] of rows)
    it(name, () =>
      assert.equal(
        code(() => parseStrictJson(text)),
        want,
      ),
    );

  it('the size limit: at it, and one past it', () => {
    const text = '{"a":"xxxx"}';
    assert.equal(
      code(() => parseStrictJson(text, { maxBytes: text.length })),
      'ok',
    );
    assert.equal(
      code(() => parseStrictJson(text, { maxBytes: text.length - 1 })),
      'BUNDLE_TOO_LARGE',
    );
    // Another document's code is kept: a trusted root too large is TRUST_ROOT_INVALID.
    assert.equal(
      code(() => parseStrictJson(text, { maxBytes: 3, code: 'TRUST_ROOT_INVALID' })),
      'TRUST_ROOT_INVALID',
    );
    assert.equal(
      code(() => parseStrictJson('{', { code: 'TLOG_INVALID' })),
      'TLOG_INVALID',
    );
    assert.equal(
      code(() => parseStrictJson('{"a":1,"a":1}', { code: 'TLOG_INVALID' })),
      'TLOG_INVALID',
    );
  });
  it('the depth limit: at it, and one past it, for objects and lists', () => {
    const lists = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
    for (const make of [lists, objects]) {
      assert.equal(
        code(() => parseStrictJson(make(64))),
        'ok',
      );
      assert.equal(
        code(() => parseStrictJson(make(65))),
        'BUNDLE_MALFORMED',
      );
      assert.equal(
        code(() => parseStrictJson(make(5), { maxDepth: 5 })),
        'ok',
      );
      assert.equal(
        code(() => parseStrictJson(make(6), { maxDepth: 5 })),
        'BUNDLE_MALFORMED',
      );
    }
    // Depth is nesting, not the number of containers: many siblings at depth 2 are fine.
    assert.equal(
      code(() => parseStrictJson(`[${'[],'.repeat(200)}[]]`)),
      'ok',
    );
    assert.equal(
      code(() => parseStrictJson(`[${'{},'.repeat(200)}{}]`)),
      'ok',
    );
  });
  it('returns the value JSON.parse builds', () => {
    assert.deepEqual(parseStrictJson('{"a":[1,"x",{"b":null}],"c":true}'), { a: [1, 'x', { b: null }], c: true });
  });
});

describe('typed accessors', () => {
  it('asObject, asArray, asString, optString refuse other types with the given code', () => {
    const values: unknown[] = [null, undefined, 1, 'x', [], {}, true];
    for (const v of values) {
      const isObject = typeof v === 'object' && v !== null && !Array.isArray(v);
      assert.equal(
        code(() => asObject(v, 'v', 'TLOG_INVALID')),
        isObject ? 'ok' : 'TLOG_INVALID',
      );
      assert.equal(
        code(() => asArray(v, 'v', 'TLOG_INVALID')),
        Array.isArray(v) ? 'ok' : 'TLOG_INVALID',
      );
      assert.equal(
        code(() => asString(v, 'v', 'TLOG_INVALID')),
        typeof v === 'string' ? 'ok' : 'TLOG_INVALID',
      );
      const opt = v === undefined || typeof v === 'string' ? 'ok' : 'TLOG_INVALID';
      assert.equal(
        code(() => optString(v, 'v', 'TLOG_INVALID')),
        opt,
      );
    }
    assert.equal(
      code(() => asObject(1, 'v')),
      'BUNDLE_MALFORMED',
    );
    assert.equal(optString(undefined, 'v'), undefined);
    assert.equal(optString('x', 'v'), 'x');
  });
  it('asInt: decimal strings and safe numbers within int64, nothing else', () => {
    const ok: [unknown, bigint][] = [
      [0, 0n],
      ['0', 0n],
      ['7', 7n],
      ['-7', -7n],
      ['9223372036854775807', 9223372036854775807n],
      ['1000000000000000000', 10n ** 18n],
      [Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
      [-3, -3n],
    ];
    for (const [v, want] of ok) assert.equal(asInt(v, 'n'), want, String(v));
    for (const v of [
      '',
      '01',
      '+1',
      '1.0',
      '1e3',
      ' 1',
      '1 ',
      '0x10',
      '12345678901234567890',
      1.5,
      2 ** 53,
      NaN,
      null,
    ]) {
      assert.equal(
        code(() => asInt(v, 'n', 'TLOG_INVALID')),
        'TLOG_INVALID',
        String(v),
      );
    }
  });
  it('canonicalJson sorts keys, drops undefined members and writes no whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, 'x"y'], c: undefined, d: { z: 1, y: 2 } }),
      '{"a":[true,null,"x\\"y"],"b":1,"d":{"y":2,"z":1}}',
    );
    assert.equal(canonicalJson([{ b: 1, a: 2 }]), '[{"a":2,"b":1}]');
    assert.equal(canonicalJson('s'), '"s"');
    assert.equal(canonicalJson(null), 'null');
  });
});

describe('strict encodings', () => {
  it('decodeBase64 refuses every non-canonical spelling', () => {
    assert.deepEqual(decodeBase64('AQID', 'x'), Buffer.from([1, 2, 3]));
    assert.deepEqual(decodeBase64('', 'x'), Buffer.alloc(0));
    for (const s of ['AQI', 'AQJ=', 'AQ==\n', ' AQID', 'AQ-_', 'AQ=', 'A', 'AQID=', 'AR==']) {
      assert.equal(
        code(() => decodeBase64(s, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        s,
      );
    }
    assert.equal(
      code(() => decodeBase64(7, 'x')),
      'BUNDLE_MALFORMED',
    );
  });
  it('decodeBase64Url refuses padding, the standard alphabet and non-zero pad bits', () => {
    assert.deepEqual(decodeBase64Url('-_8', 'x'), Buffer.from([0xfb, 0xff]));
    assert.deepEqual(decodeBase64Url('', 'x'), Buffer.alloc(0));
    assert.deepEqual(decodeBase64Url('AQID', 'x'), Buffer.from([1, 2, 3]));
    for (const s of ['AQ==', '+/8', 'A', 'AQIDB', '-_9', 'AR', ' AQ', 'AQ\n']) {
      assert.equal(
        code(() => decodeBase64Url(s, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        s,
      );
    }
    assert.equal(
      code(() => decodeBase64Url(null, 'x')),
      'BUNDLE_MALFORMED',
    );
  });
  it('decodeHex takes lowercase pairs only', () => {
    assert.deepEqual(decodeHex('00ff', 'x'), Buffer.from([0, 255]));
    assert.deepEqual(decodeHex('', 'x'), Buffer.alloc(0));
    for (const s of ['0', '00F', '00FF', 'zz', ' 00', '00 ', '0x00']) {
      assert.equal(
        code(() => decodeHex(s, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        s,
      );
    }
    assert.equal(
      code(() => decodeHex(1, 'x')),
      'BUNDLE_MALFORMED',
    );
  });
  it('bytesEqual compares length and content', () => {
    assert.equal(bytesEqual(Buffer.from([1, 2]), Buffer.from([1, 2])), true);
    assert.equal(bytesEqual(Buffer.from([1, 2]), Buffer.from([1, 2, 0])), false);
    assert.equal(bytesEqual(Buffer.from([1, 2, 0]), Buffer.from([1, 2])), false);
    assert.equal(bytesEqual(Buffer.from([1, 3]), Buffer.from([1, 2])), false);
    assert.equal(bytesEqual(Buffer.alloc(0), new Uint8Array(0)), true);
  });
  it('thousands writes comma separators as en-US does', () => {
    for (const n of [0, 7, 999, 1000, -1000, 12345, 999999, 1000000, 1234567890, -9876543, 2 ** 53]) {
      assert.equal(thousands(n), n.toLocaleString('en-US'), String(n));
    }
    assert.equal(thousands(1.5), (1.5).toLocaleString('en-US'));
    assert.equal(thousands(1e21), (1e21).toLocaleString('en-US'));
  });
});

describe('strict JSON and integers: inputs a looser rule would let through', () => {
  it('asInt keeps to the int64 range, and to strings and numbers', () => {
    assert.equal(asInt('-9223372036854775808', 'n'), -(2n ** 63n));
    assert.equal(asInt('9223372036854775807', 'n'), 2n ** 63n - 1n);
    for (const v of ['9223372036854775808', '-9223372036854775809', '9999999999999999999', ['5'], [7], true]) {
      assert.equal(
        code(() => asInt(v, 'n', 'TLOG_INVALID')),
        'TLOG_INVALID',
        JSON.stringify(v),
      );
    }
  });
});

describe('strict JSON: text that is not an object at the top', () => {
  const rows: [string, string, ErrorCode | 'ok'][] = [
    ['a string alone', '"a"', 'ok'],
    ['a string alone, then a key of no object', '"a":1}', 'BUNDLE_MALFORMED'],
    ['a number alone', '7', 'ok'],
    ['a list of strings', '["a","a"]', 'ok'],
  ];
  for (const [name, text, want] of rows)
    it(name, () =>
      assert.equal(
        code(() => parseStrictJson(text)),
        want,
      ),
    );
});

describe('strict encodings: PEM certificates and values that are not strings', () => {
  const block = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
  it('pemCertificates: every block, its base64 read across line breaks, nothing else', () => {
    const one = Buffer.from('first certificate');
    const two = Buffer.from([0, 1, 2, 0xff]);
    const wrapped = one.toString('base64').replace(/(.{8})/g, '$1\r\n');
    const text = `junk before\n${block(wrapped)}between\n${block(two.toString('base64'))}`;
    assert.deepEqual(pemCertificates(text, 'x'), [one, two]);
    assert.deepEqual(pemCertificates(block('AQID'), 'x'), [Buffer.from([1, 2, 3])]);
  });
  it('pemCertificates: no block, a block of other characters, or base64 that is not canonical, each refused', () => {
    const rows: [string, string][] = [
      ['no block at all', 'AQID'],
      ['an empty text', ''],
      ['a private key block', '-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n'],
      ['a block with an asterisk', block('AQ*D')],
      ['a block with base64url characters', block('-_8A')],
      ['a block with non-zero pad bits', block('AR==')],
      ['a block without padding', block('AQ')],
      ['a block never ended', '-----BEGIN CERTIFICATE-----\nAQID\n'],
    ];
    for (const [name, text] of rows) {
      assert.equal(
        code(() => pemCertificates(text, 'x', 'TRUST_ROOT_INVALID')),
        'TRUST_ROOT_INVALID',
        name,
      );
    }
  });
  it('decodeHex: a number or a list that would read as hex is refused, not decoded', () => {
    for (const v of [12, ['00'], ['0a', '0b'], { toString: () => '00' }]) {
      assert.equal(
        code(() => decodeHex(v, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        String(v),
      );
    }
  });
  it('decodeBase64Url and decodeBase64: only strings', () => {
    for (const v of [['AQID'], 7, null, Buffer.from('AQID')]) {
      assert.equal(
        code(() => decodeBase64Url(v, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        String(v),
      );
      assert.equal(
        code(() => decodeBase64(v, 'x', 'TLOG_INVALID')),
        'TLOG_INVALID',
        String(v),
      );
    }
  });
});
