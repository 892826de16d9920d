import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTarget } from '../src/artifact/target.ts';
import { decodeBase64, thousands } from '../src/core/encoding.ts';
import { parseStrictJson } from '../src/core/json.ts';
import { VouchError } from '../src/errors.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VouchError, `expected VouchError, got ${e}`);
    return e.code;
  }
  return undefined;
}

describe('strict JSON', () => {
  const rows: [string, string, string | undefined][] = [
    ['valid', '{"a":1,"b":{"a":2}}', undefined],
    ['duplicate key', '{"a":1,"a":2}', 'BUNDLE_MALFORMED'],
    ['duplicate after unescape', '{"a":1,"\\u0061":2}', 'BUNDLE_MALFORMED'],
    ['duplicate nested', '{"x":[{"k":1,"k":1}]}', 'BUNDLE_MALFORMED'],
    ['same key in sibling objects', '[{"k":1},{"k":2}]', undefined],
    ['string containing braces', '{"a":"{\\"a\\":1,","b":"}"}', undefined],
    ['invalid JSON', '{"a":', 'BUNDLE_MALFORMED'],
    ['too deep', '['.repeat(100) + ']'.repeat(100), 'BUNDLE_MALFORMED'],
    // Depth is checked before the text is known to be JSON: hostile text must still end in the document's code.
    ['too deep and never closed', '{"a":'.repeat(100), 'BUNDLE_MALFORMED'],
    ['a list where a key is due', '{["a":1]}', 'BUNDLE_MALFORMED'],
    ['a list where a key is due, then a key', '{[,"a":1,"a":2', 'BUNDLE_MALFORMED'],
    ['a key with a bad escape', '{"a\\x":1,"\\q":2}', 'BUNDLE_MALFORMED'],
    ['a key with an unknown escape', '{"\\q":1}', 'BUNDLE_MALFORMED'],
    ['an escaped key never closed', '{"\\u00', 'BUNDLE_MALFORMED'],
  ];
  for (const [name, text, expected] of rows) {
    it(name, () =>
      assert.equal(
        code(() => parseStrictJson(text)),
        expected,
      ),
    );
  }
  it('caps size', () =>
    assert.equal(
      code(() => parseStrictJson('"xxxx"', { maxBytes: 3 })),
      'BUNDLE_TOO_LARGE',
    ));
});

describe('strict base64', () => {
  const rows: [string, string | undefined][] = [
    ['aGVsbG8=', undefined],
    ['aGVsbG8', 'BUNDLE_MALFORMED'],
    ['aGVsbG8=garbage', 'BUNDLE_MALFORMED'],
    ['aGVs bG8=', 'BUNDLE_MALFORMED'],
    ['aGVsbG9=', 'BUNDLE_MALFORMED'],
    ['', undefined],
  ];
  for (const [text, expected] of rows) {
    it(JSON.stringify(text), () =>
      assert.equal(
        code(() => decodeBase64(text, 'x')),
        expected,
      ),
    );
  }
});

describe('targets', () => {
  it('parses schemes', () => {
    assert.deepEqual(parseTarget('file:a.txt'), { kind: 'file', path: 'a.txt' });
    assert.deepEqual(parseTarget('oci:reg/x:1'), { kind: 'oci', reference: 'reg/x:1' });
    assert.equal(parseTarget('.').kind, 'dir');
    assert.equal(parseTarget('missing-file').kind, 'file');
    assert.equal(parseTarget(`sha256:${'a'.repeat(64)}`).kind, 'digest');
  });
  it('rejects bad targets', () => {
    assert.equal(
      code(() => parseTarget('sha256:abcd')),
      'TARGET_INVALID',
    );
    assert.equal(
      code(() => parseTarget('ftp:thing')),
      'TARGET_UNSUPPORTED',
    );
    assert.equal(
      code(() => parseTarget('')),
      'TARGET_INVALID',
    );
  });
});

describe('CLI number formatting', () => {
  it('thousands separators as toLocaleString("en-US") writes them', () => {
    for (const n of [0, 7, 999, 1000, 80000, 1234567, 2_000_000_000, -4500, 12.5]) {
      assert.equal(thousands(n), n.toLocaleString('en-US'), String(n));
    }
  });
});
