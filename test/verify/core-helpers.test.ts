/**
 * The pure helpers the verifier (and the log server) rely on: RFC 6962 Merkle maths, C2SP signed notes and
 * checkpoints, strict DER, and the policy builder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DerReader, decodeOid, decodeTime, derEncode, derOne } from '../../src/core/der.ts';
import { decodeBase64 } from '../../src/core/encoding.ts';
import { hashChildren, hashLeaf, inclusionRanges, rootFromLeafHashes, verifyInclusion } from '../../src/core/merkle.ts';
import { parseCheckpoint, parseSignedNote } from '../../src/core/note.ts';
import { Pattern } from '../../src/core/pattern.ts';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import {
  buildPolicy,
  loadTrustedRoot,
  type Matcher,
  type Policy,
  type PolicyOptions,
  verify,
} from '../../src/verify/index.ts';
import { loadCase } from '../helpers/realbundles.ts';

function code(fn: () => unknown): ErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof VouchError, String(e));
    return e.code;
  }
}

describe('Merkle inclusion as the verifier uses it (core/merkle, RFC 9162 §2.1.3.2)', () => {
  const leaves = Array.from({ length: 21 }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
  const proofOf = (i: number, tree: Buffer[]) =>
    inclusionRanges(i, tree.length).map((r) => rootFromLeafHashes(tree.slice(r.start, r.end)));

  it('RFC 6962 reference: root of the 8-leaf test tree of certificate-transparency-go', () => {
    // Leaves of the CT reference test vector (merkle_test.go): "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, ...
    const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
    const root = rootFromLeafHashes(inputs.map((h) => hashLeaf(Buffer.from(h, 'hex'))));
    assert.equal(root.toString('hex'), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
    assert.notDeepEqual(hashChildren(leaves[0]!, leaves[1]!), hashLeaf(Buffer.concat([leaves[0]!, leaves[1]!])));
  });

  it('every proof of every tree up to 21 leaves verifies, and only at its own index', () => {
    for (let size = 1; size <= leaves.length; size++) {
      const tree = leaves.slice(0, size);
      const root = rootFromLeafHashes(tree);
      for (let i = 0; i < size; i++) {
        const proof = proofOf(i, tree);
        assert.ok(verifyInclusion(tree[i]!, i, size, proof, root), `${i}/${size}`);
        if (size > 1) assert.ok(!verifyInclusion(tree[i]!, (i + 1) % size, size, proof, root), `moved ${i}/${size}`);
      }
    }
  });

  it('malformed proofs never verify', () => {
    const tree = leaves.slice(0, 13);
    const root = rootFromLeafHashes(tree);
    const proof = proofOf(5, tree);
    assert.ok(!verifyInclusion(tree[5]!, 13, 13, proof, root), 'index = size');
    assert.ok(!verifyInclusion(tree[5]!, -1, 13, proof, root), 'negative index');
    assert.ok(!verifyInclusion(tree[5]!, 5, 13, proof.slice(1), root), 'too short');
    assert.ok(!verifyInclusion(tree[5]!, 5, 13, [...proof, proof[0]!], root), 'too long');
    assert.ok(!verifyInclusion(tree[5]!, 5, 13, [Buffer.alloc(31), ...proof.slice(1)], root), 'short hash');
  });

  it('proof shapes RFC 9162 §2.1.3.2 forbids fail even against the root they would compute', () => {
    // Each root below is what the hashes do lead to: only the shape rules can refuse them.
    const tree = leaves.slice(0, 13);
    const proof = proofOf(5, tree);
    const extra = Buffer.alloc(32, 7);
    const longer = hashChildren(extra, rootFromLeafHashes(tree));
    assert.ok(!verifyInclusion(tree[5]!, 5, 13, [...proof, extra], longer), 'a hash past the root');
    // Without its last hash the path ends at the root of the left subtree of 8 leaves that holds leaf 5.
    const partial = rootFromLeafHashes(tree.slice(0, 8));
    assert.ok(verifyInclusion(tree[5]!, 5, 8, proof.slice(0, -1), partial), 'the same path in a tree of 8');
    assert.ok(!verifyInclusion(tree[5]!, 5, 13, proof.slice(0, -1), partial), 'a path that stops short');
    // A sibling that is not a hash: the root computed from it is refused.
    const odd = Buffer.alloc(31, 3);
    assert.ok(!verifyInclusion(tree[0]!, 0, 2, [odd], hashChildren(tree[0]!, odd)), 'a 31-byte sibling');
    assert.ok(!verifyInclusion(tree[1]!, 1, 2, [Buffer.alloc(33)], hashChildren(Buffer.alloc(33), tree[1]!)));
    assert.ok(verifyInclusion(tree[0]!, 0, 2, [tree[1]!], hashChildren(tree[0]!, tree[1]!)), 'the real pair');
    assert.ok(verifyInclusion(tree[0]!, 0, 1, [], tree[0]!), 'a tree of one leaf');
    assert.ok(!verifyInclusion(tree[0]!, 0, 1, [extra], hashChildren(extra, tree[0]!)), 'one leaf, one hash');
  });
});

describe('signed notes and checkpoints (C2SP)', () => {
  const sig = Buffer.concat([Buffer.from([1, 2, 3, 4]), Buffer.alloc(64, 9)]).toString('base64');
  const good = `log.example/1\n42\n${Buffer.alloc(32, 1).toString('base64')}\n\n\u2014 log.example/1 ${sig}\n`;

  it('parses a checkpoint with its signature', () => {
    const n = parseSignedNote(good);
    assert.equal(n.signatures.length, 1);
    assert.deepEqual([...n.signatures[0]!.keyHint], [1, 2, 3, 4]);
    const cp = parseCheckpoint(n.text);
    assert.equal(cp.origin, 'log.example/1');
    assert.equal(cp.size, 42n);
    assert.deepEqual(cp.rootHash, Buffer.alloc(32, 1));
  });

  const bad: [string, string][] = [
    ['no blank line', good.replace('\n\n', '\n')],
    ['no final newline', good.slice(0, -1)],
    ['signature line without em dash', good.replace('\u2014', '-')],
    ['signature too short', good.replace(sig, 'AQID')],
    ['non-canonical base64 signature', good.replace(sig, sig.replace(/=+$/, ''))],
    ['name with a plus', good.replace('\u2014 log.example/1', '\u2014 log+x')],
  ];
  for (const [name, text] of bad)
    it(`refuses: ${name}`, () =>
      assert.equal(
        code(() => parseSignedNote(text)),
        'TLOG_INVALID',
      ));

  const badCp: [string, string][] = [
    ['two lines', 'origin\n42\n'],
    ['size with a leading zero', `o\n042\n${Buffer.alloc(32).toString('base64')}\n`],
    ['size not decimal', `o\n0x2a\n${Buffer.alloc(32).toString('base64')}\n`],
    ['root hash of 31 bytes', `o\n42\n${Buffer.alloc(31).toString('base64')}\n`],
    ['empty origin', `\n42\n${Buffer.alloc(32).toString('base64')}\n`],
  ];
  for (const [name, text] of badCp)
    it(`refuses checkpoint: ${name}`, () =>
      assert.equal(
        code(() => parseCheckpoint(text)),
        'TLOG_INVALID',
      ));
});

describe('strict DER', () => {
  const rows: [string, string][] = [
    ['indefinite length', '3080020100' + '0000'],
    ['non-minimal long length', '30810102' + '01'],
    ['length past the end', '300502010'],
    ['trailing data', '3003020100ff'],
    ['high tag number', '1f0100'],
  ];
  for (const [name, hex] of rows) {
    it(`refuses ${name}`, () =>
      assert.equal(
        code(() => derOne(Buffer.from(hex.padEnd(hex.length + (hex.length % 2), '0'), 'hex'))),
        'BUNDLE_MALFORMED',
      ));
  }
  it('round-trips lengths in every form', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536]) {
      const t = derOne(derEncode(0x04, Buffer.alloc(n, 7)));
      assert.equal(t.value.length, n);
    }
  });
  it('decodes OIDs and times', () => {
    assert.equal(decodeOid(Buffer.from('2b0601040183bf300108', 'hex')), '1.3.6.1.4.1.57264.1.8');
    // Encodings from `openssl asn1parse -genstr OID:...`: a UUID arc (X.667) past 2^53, and a first arc of 2 past 39.
    assert.equal(
      decodeOid(Buffer.from('69f888becc8eb49a8bd7a4cc8b8ca4d4efe7740104', 'hex')),
      '2.25.79797757261787578321149733679709025268.1.4',
    );
    assert.equal(decodeOid(Buffer.from('883703', 'hex')), '2.999.3');
    const r = new DerReader(derEncode(0x18, Buffer.from('20250612120220.5Z')));
    assert.equal(decodeTime(r.next()), Date.parse('2025-06-12T12:02:20.500Z'));
    assert.equal(
      decodeTime(new DerReader(derEncode(0x17, Buffer.from('491231235959Z'))).next()),
      Date.parse('2049-12-31T23:59:59Z'),
    );
    assert.equal(
      decodeTime(new DerReader(derEncode(0x17, Buffer.from('500101000000Z'))).next()),
      Date.parse('1950-01-01T00:00:00Z'),
    );
    for (const bad of ['20250230000000Z', '2025061212022Z', '20250612120220+0100', '20250612120220.50Z']) {
      assert.equal(
        code(() => decodeTime(new DerReader(derEncode(0x18, Buffer.from(bad))).next())),
        'BUNDLE_MALFORMED',
        bad,
      );
    }
  });
});

describe('policy', () => {
  const rows: [string, PolicyOptions][] = [
    ['neither keys nor identities', {}],
    ['both keys and identities', { keys: [{ spki: 'x' }], identities: [{ identity: 'a', issuer: 'b' }] }],
    ['empty identity list', { identities: [] }],
    ['empty key list', { keys: [] }],
    ['identity without issuer', { identities: [{ identity: 'a' }] }],
    ['issuer without identity', { identities: [{ issuer: 'b' }] }],
    ['identity and identity regexp', { identities: [{ identity: 'a', identityRegexp: 'a', issuer: 'b' }] }],
    ['empty identity', { identities: [{ identity: '', issuer: 'b' }] }],
    ['bad regexp', { identities: [{ identityRegexp: '(', issuer: 'b' }] }],
    ['negative threshold', { identities: [{ identity: 'a', issuer: 'b' }], tlogThreshold: -1 }],
    ['fractional threshold', { identities: [{ identity: 'a', issuer: 'b' }], timestampThreshold: 0.5 }],
    ['a log threshold over 32', { identities: [{ identity: 'a', issuer: 'b' }], tlogThreshold: 33 }],
    ['a timestamp threshold over 32', { identities: [{ identity: 'a', issuer: 'b' }], timestampThreshold: 33 }],
    ['a negative timestamp threshold', { identities: [{ identity: 'a', issuer: 'b' }], timestampThreshold: -1 }],
    ['an infinite threshold', { identities: [{ identity: 'a', issuer: 'b' }], tlogThreshold: Infinity }],
    ['empty issuer', { identities: [{ identity: 'a', issuer: '' }] }],
    ['empty identity regexp', { identities: [{ identityRegexp: '', issuer: 'b' }] }],
    ['empty issuer regexp', { identities: [{ identity: 'a', issuerRegexp: '' }] }],
    ['issuer and issuer regexp', { identities: [{ identity: 'a', issuer: 'b', issuerRegexp: 'b' }] }],
    ['a second identity without issuer', { identities: [{ identity: 'a', issuer: 'b' }, { identity: 'c' }] }],
  ];
  for (const [name, opts] of rows)
    it(`refuses ${name}`, () =>
      assert.equal(
        code(() => buildPolicy(opts)),
        'POLICY_INVALID',
      ));

  it('hand-made policies are checked too', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const trust = loadTrustedRoot(c.trustedRootText);
    const bad: Policy[] = [
      {},
      { identities: [] },
      { identities: [{ subject: { exact: '' }, issuer: { exact: 'x' } }] },
      { identities: [{ subject: {} as Matcher, issuer: { exact: 'x' } }] },
      { keys: [], identities: [{ subject: { exact: 'a' }, issuer: { exact: 'b' } }] },
    ];
    for (const p of bad)
      assert.equal(
        code(() => verify(c.bundleText, c.artifact, p, trust)),
        'POLICY_INVALID',
        JSON.stringify(p),
      );
  });

  it('keeps what it was given', () => {
    const p = buildPolicy({
      identities: [{ identity: 'a', issuerRegexp: 'b|c' }],
      tlogThreshold: 32,
      timestampThreshold: 0,
    });
    assert.equal(p.tlogThreshold, 32);
    assert.equal(p.timestampThreshold, 0);
    assert.deepEqual(p.identities![0]!.subject, { exact: 'a' });
    const issuer = p.identities![0]!.issuer;
    assert.ok('regexp' in issuer && issuer.regexp.test('c') && !issuer.regexp.test('bc'));
    const k = buildPolicy({ keys: [{ spki: 'x' }] });
    assert.deepEqual(k, { keys: [{ spki: 'x' }] });
    assert.equal('tlogThreshold' in k, false);
  });

  it('hand-made matchers of the wrong type are refused', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const trust = loadTrustedRoot(c.trustedRootText);
    const bad: Policy[] = [
      { identities: [{ subject: { exact: 1 } as unknown as Matcher, issuer: { exact: 'x' } }] },
      { identities: [{ subject: { regexp: '.*' } as unknown as Matcher, issuer: { exact: 'x' } }] },
      { identities: [{ subject: { exact: 'a' }, issuer: undefined as unknown as Matcher }] },
      { identities: [{ subject: { exact: 'a' }, issuer: { exact: '' } }] },
      { keys: [] },
    ];
    for (const p of bad)
      assert.equal(
        code(() => verify(c.bundleText, c.artifact, p, trust)),
        'POLICY_INVALID',
      );
    const good: Policy = { identities: [{ subject: { regexp: /.*/ }, issuer: { regexp: /.*/ } }] };
    assert.equal(verify(c.bundleText, c.artifact, good, trust).verified, true);
  });

  it('anchors regular expressions', () => {
    const p = buildPolicy({ identities: [{ identityRegexp: 'a|b', issuerRegexp: 'https://.*' }] });
    const m = p.identities![0]!.subject;
    assert.ok('regexp' in m);
    assert.equal(m.regexp.test('a'), true);
    assert.equal(m.regexp.test('ab'), false);
    assert.equal(m.regexp.test('xa'), false);
  });

  it('hand-made RegExps are read as RE2 with the flags that keep their meaning', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const trust = loadTrustedRoot(c.trustedRootText);
    const run = (subject: Matcher) =>
      verify(c.bundleText, c.artifact, { identities: [{ subject, issuer: { exact: c.issuer! } }] }, trust).verified;
    const upper = c.identity!.toUpperCase().replace(/[.?*+()[\]{}|\\^$]/g, '\\$&');
    assert.equal(run({ regexp: new RegExp(upper, 'i') }), true, 'i: either case');
    assert.equal(
      code(() => run({ regexp: new RegExp(upper) })),
      'IDENTITY_MISMATCH',
    );
    assert.equal(
      code(() => run({ regexp: /(?=h).*/ })),
      'POLICY_INVALID',
      'lookahead is not RE2',
    );
    assert.equal(
      code(() => run({ regexp: /(h)\1*/ })),
      'POLICY_INVALID',
      'backreference is not RE2',
    );
    assert.equal(run({ regexp: new Pattern('https://.*') }), true);
    assert.equal(
      code(() => run({ regexp: new Pattern('http://.*') })),
      'IDENTITY_MISMATCH',
    );
    assert.throws(() => new Pattern('(?<=a)b'), SyntaxError);
  });

  it('a hand-made policy is checked whole before the bundle: the same code whatever the bundle', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const trust = loadTrustedRoot(c.trustedRootText);
    const other = { ...c.artifact, digest: Buffer.alloc(32, 7), bytes: undefined };
    const run = (subject: Matcher, issuer: Matcher) =>
      code(() => verify(c.bundleText, other, { identities: [{ subject, issuer }] }, trust));
    assert.equal(
      code(() =>
        verify(c.bundleText, other, { identities: [{ subject: { regexp: /.*/ }, issuer: { regexp: /.*/ } }] }, trust),
      ),
      'DIGEST_MISMATCH',
    );
    assert.equal(run({ regexp: /(?=h).*/ }, { exact: c.issuer! }), 'POLICY_INVALID', 'subject');
    assert.equal(run({ exact: c.identity! }, { regexp: /(?=h).*/ }), 'POLICY_INVALID', 'issuer');
    // A RegExp whose getters throw (anything, even null) is INTERNAL, never the bundle's verdict nor a TypeError.
    for (const thrown of [new TypeError('hostile'), null]) {
      class Hostile extends RegExp {
        override get source(): string {
          throw thrown;
        }
      }
      assert.equal(run({ regexp: new Hostile('x') }, { exact: c.issuer! }), 'INTERNAL');
      assert.equal(run({ exact: c.identity! }, { regexp: new Hostile('x') }), 'INTERNAL');
    }
  });
});

describe('strict base64 by round trip', () => {
  it('accepts exactly the canonical strings (random strings checked against the canonical grammar)', () => {
    const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    const alphabet = 'AQgwBCDEFabcz019+/=-_ \n.\u00e9';
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const len = rnd(12);
      for (let j = 0; j < len; j++) s += alphabet[rnd(alphabet.length)];
      let ok = true;
      try {
        decodeBase64(s, 'x');
      } catch {
        ok = false;
      }
      // The grammar also admits non-zero pad bits, which are not canonical: those must be refused too.
      const canonical = CANONICAL.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
      assert.equal(ok, canonical, JSON.stringify(s));
      if (ok) accepted++;
    }
    assert.ok(accepted > 50, `only ${accepted} canonical strings generated`);
  });
});
