/**
 * The pieces that let a 200 MB directory bundle be read without holding it: the JSON splitter and the streaming
 * base64 decoder. Each must agree exactly with the whole-document readers (JSON.parse + parseStrictJson,
 * decodeBase64) at every way of cutting the input into pieces, and refuse what they refuse.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { Base64Decoder, base64DecodedLength, decodeBase64 } from '../src/core/encoding.ts';
import { parseStrictJson } from '../src/core/json.ts';
import { JsonSplitter, parseElement } from '../src/core/json-stream.ts';
import { isVouchError } from '../src/errors.ts';

const TARGETS = [
  ['predicate', 'entries'],
  ['predicate', 'resources'],
];

/** A splitter over the two manifest lists, with the test's defaults. */
function listSplitter(o: Partial<ConstructorParameters<typeof JsonSplitter>[0]>): JsonSplitter {
  return new JsonSplitter({
    targets: TARGETS,
    mode: 'array',
    maxSkeletonBytes: 1 << 20,
    code: 'MANIFEST_INVALID',
    what: 'doc',
    ...o,
  });
}

/** Split `text` in pieces of `piece` bytes (one reused buffer, as the file reader does) and rebuild the value. */
function splitAndRebuild(text: string, piece: number): unknown {
  const lists: unknown[][] = [[], []];
  const s = listSplitter({
    onElement: (t, bytes, shape) => lists[t]!.push(parseElement(bytes, shape, 'MANIFEST_INVALID', 'element')),
  });
  const all = Buffer.from(text);
  const buf = Buffer.alloc(piece);
  for (let i = 0; i < all.length; i += piece) {
    const n = all.copy(buf, 0, i, i + piece);
    s.push(buf.subarray(0, n));
  }
  const r = s.end();
  const skeleton = parseStrictJson(r.skeleton, { code: 'MANIFEST_INVALID' }) as Record<string, unknown>;
  const p = skeleton.predicate as Record<string, unknown> | undefined;
  for (const f of r.found) {
    assert.equal(p?.[TARGETS[f.target]![1]!], r.marker);
    p![TARGETS[f.target]![1]!] = lists[f.target];
  }
  return skeleton;
}

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isVouchError(e) ? e.code : `THROWN ${(e as Error).message}`;
  }
}

describe('JsonSplitter', () => {
  const docs = [
    { _type: 'x', predicate: { entries: [] } },
    {
      predicate: { a: [1, { b: ']},[' }], entries: [{ path: 'a"b\\c', k: [1, 2, { x: '}' }] }, 2, 's', null, [], {}] },
    },
    { 'pre"d': 1, predicate: { resources: [{ name: 'é/ü\u2028', digest: 'ab' }], entries: [true, -1.5e3] }, z: [] },
    { predicate: { nested: { entries: [1] }, entries: [{ entries: [1] }] }, entries: [5] },
  ];
  for (const [i, doc] of docs.entries()) {
    it(`rebuilds document ${i} exactly at every piece size`, () => {
      for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) {
        for (const piece of [1, 2, 3, 5, 7, 13, 64, 4096]) assert.deepEqual(splitAndRebuild(text, piece), doc);
      }
    });
  }

  it('agrees with the strict whole-document parser on random cuts of hostile texts', () => {
    const good = JSON.stringify(docs[1]);
    const hostile = [
      good.replace('"entries":[', '"entries":[,'),
      good.replace(/\]\}\}$/, ',]}}'),
      good.replace('"entries":', '"entries":[],"entr\\u0069es":'),
      good.replace('"path":', '"path":1,"path":'),
      good.replace('"k":[1,2', '"k":[1,,2'),
      good.replace('"entries":[', '"entries":[}'),
      good.slice(0, -2),
      `${good} x`,
      good.replace('"entries":[', '"entries":{"a":['),
      '{"predicate":{"entries":"not an array"}}',
    ];
    for (const text of hostile) {
      const whole = codeOf(() => parseStrictJson(text, { code: 'MANIFEST_INVALID' }));
      for (const piece of [1, 3, randomInt(1, 40), 1000]) {
        // A valid document is rebuilt equal; an invalid one is refused.
        if (whole === 'ok') assert.deepEqual(splitAndRebuild(text, piece), JSON.parse(text), `${text} at ${piece}`);
        else
          assert.notEqual(
            codeOf(() => splitAndRebuild(text, piece)),
            'ok',
            `${text} at ${piece}`,
          );
      }
    }
  });

  it('records the range of a target string and refuses escapes inside it', () => {
    const text = JSON.stringify({ a: { payload: 'x' }, dsseEnvelope: { payload: 'QUJD'.repeat(300), t: 1 } });
    const payloadSplitter = () =>
      new JsonSplitter({
        targets: [['dsseEnvelope', 'payload']],
        mode: 'string',
        maxSkeletonBytes: 1 << 20,
        code: 'BUNDLE_MALFORMED',
        what: 'bundle',
      });
    for (const piece of [1, 3, 100]) {
      const s = payloadSplitter();
      const all = Buffer.from(text);
      for (let i = 0; i < all.length; i += piece) s.push(all.subarray(i, i + piece));
      const r = s.end();
      assert.equal(r.found.length, 1);
      assert.equal(text.slice(r.found[0]!.start, r.found[0]!.end), 'QUJD'.repeat(300));
      assert.equal((JSON.parse(r.skeleton) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, r.marker);
    }
    const escaped = text.replace('QUJDQUJD', 'QUJD\\/UJD');
    const s = payloadSplitter();
    assert.equal(
      codeOf(() => s.push(Buffer.from(escaped))),
      'BUNDLE_UNSUPPORTED',
    );
  });

  it('caps the skeleton, the elements and the nesting', () => {
    const make = (o: Partial<ConstructorParameters<typeof JsonSplitter>[0]>) =>
      listSplitter({ maxSkeletonBytes: 100, tooLargeCode: 'BUNDLE_TOO_LARGE', ...o });
    assert.equal(
      codeOf(() => make({}).push(Buffer.from(`{"a":"${'x'.repeat(200)}"}`))),
      'BUNDLE_TOO_LARGE',
    );
    assert.equal(
      codeOf(() => make({ maxElementBytes: 50 }).push(Buffer.from(`{"predicate":{"entries":["${'x'.repeat(60)}"]}}`))),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => make({ maxDepth: 8 }).push(Buffer.from(`{"predicate":{"entries":[${'['.repeat(10)}`))),
      'MANIFEST_INVALID',
    );
    assert.equal(
      codeOf(() => make({ maxDepth: 8 }).push(Buffer.from(`${'['.repeat(10)}`))),
      'MANIFEST_INVALID',
    );
    // Elements far beyond one piece are carried over correctly, and counted against the cap as they grow.
    const long = `{"predicate":{"entries":["${'y'.repeat(5000)}"]}}`;
    assert.deepEqual(splitAndRebuild(long, 7), JSON.parse(long));
  });

  it('can stop where a list begins, giving the skeleton closed there', () => {
    const text = JSON.stringify({ a: 1, predicate: { rules: { x: [1] }, entries: [{ p: 1 }, { p: 2 }] } });
    for (const stop of [true, false]) {
      const seen: string[] = [];
      const s = listSplitter({
        onElement: (_t, b) => seen.push(b.toString()),
        onListStart: (t, skeleton, closers) => {
          assert.equal(t, 0);
          assert.equal(closers, '}}');
          assert.ok(skeleton.endsWith('"'));
          return stop;
        },
      });
      const all = Buffer.from(text);
      for (let i = 0; i < all.length; i += 5) s.push(all.subarray(i, i + 5));
      const r = s.end();
      const skeleton = JSON.parse(r.skeleton) as { predicate: { entries: string; rules: unknown } };
      assert.equal(skeleton.predicate.entries, r.marker);
      assert.deepEqual(skeleton.predicate.rules, { x: [1] });
      assert.deepEqual(seen, stop ? [] : ['{"p":1}', '{"p":2}']);
      assert.equal(r.found[0]!.end < 0, stop);
    }
  });

  it('checks duplicate keys inside an element, flat or nested', () => {
    const rows: [string, string][] = [
      ['{"a":1,"a":2}', 'MANIFEST_INVALID'],
      ['{"a":{"b":1,"b":2}}', 'MANIFEST_INVALID'],
      ['{"a":"{\\"b\\":1,\\"b\\":2}"}', 'ok'],
      ['{"__proto__":1,"x":2}', 'ok'],
    ];
    for (const [element, code] of rows) {
      assert.equal(
        codeOf(() => splitAndRebuild(`{"predicate":{"entries":[${element}]}}`, 3)),
        code,
        element,
      );
    }
  });
});

describe('Base64Decoder', () => {
  const decodeInPieces = (text: string, piece: number): Buffer | string => {
    const d = new Base64Decoder('x');
    const parts: Buffer[] = [];
    try {
      const all = Buffer.from(text, 'latin1');
      for (let i = 0; i < all.length; i += piece) parts.push(Buffer.from(d.push(all.subarray(i, i + piece))));
      d.end();
      return Buffer.concat(parts);
    } catch (e) {
      return isVouchError(e) ? e.code : 'THROWN';
    }
  };
  const whole = (text: string): Buffer | string => {
    try {
      return decodeBase64(text, 'x');
    } catch (e) {
      return isVouchError(e) ? e.code : 'THROWN';
    }
  };

  it('accepts and refuses exactly what decodeBase64 does, at every piece size', () => {
    for (let k = 0; k < 3000; k++) {
      let t = randomBytes(randomInt(0, k % 10 === 0 ? 400 : 40)).toString('base64');
      if (randomInt(0, 3) === 0 && t.length > 0) {
        const at = randomInt(0, t.length);
        t = t.slice(0, at) + '=+/-_ A\n\u00e9'[randomInt(0, 9)] + t.slice(at + 1);
      }
      if (randomInt(0, 5) === 0) t = t.slice(0, randomInt(0, t.length + 1));
      if (randomInt(0, 6) === 0 && t.endsWith('=')) t = `${t.slice(0, -2)}B=`;
      const want = whole(t);
      for (const piece of [1, 2, 3, 4, 5, 7, 64, 301])
        assert.deepEqual(decodeInPieces(t, piece), want, `${t} / ${piece}`);
    }
  });

  it('gives the decoded length from the text length and its padding', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 100]) {
      const t = randomBytes(n).toString('base64');
      assert.equal(base64DecodedLength(t.length, t.slice(-2)), n);
    }
  });
});
