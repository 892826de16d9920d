import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  consistencyRanges,
  EMPTY_ROOT,
  Frontier,
  foldRange,
  hashChildren,
  hashLeaf,
  inclusionRanges,
  type LeafRange,
  rangeNodes,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../src/core/merkle.ts';

// RFC 6962 test vectors as published with certificate-transparency (merkle_tree_test): 8 leaves and the root of
// every prefix. An independent source, so a shared bug between our prover and verifier cannot hide.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  (h) => Buffer.from(h, 'hex'),
);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** A tree that answers node lookups the way a store does (from complete subtree hashes written by Frontier). */
function buildTree(n: number) {
  const nodes = new Map<string, Buffer>();
  const leaves: Buffer[] = [];
  const f = new Frontier();
  for (let i = 0; i < n; i++) {
    const lh = hashLeaf(Buffer.from(`leaf ${i}`));
    leaves.push(lh);
    for (const c of f.append(lh)) nodes.set(`${c.level}/${c.index}`, c.hash);
  }
  const rangeHash = (r: LeafRange) =>
    foldRange(rangeNodes(r).map((id) => nodes.get(`${id.level}/${id.index}`) ?? assert.fail('missing node')));
  return { leaves, f, rangeHash };
}

describe('merkle', () => {
  it('matches the RFC 6962 vectors (roots of every prefix)', () => {
    const f = new Frontier();
    LEAVES.forEach((leaf, i) => {
      f.append(hashLeaf(leaf));
      assert.equal(f.root().toString('hex'), ROOTS[i]);
      assert.equal(rootFromLeafHashes(LEAVES.slice(0, i + 1).map(hashLeaf)).toString('hex'), ROOTS[i]);
    });
  });

  it('inclusion proofs from stored subtrees verify for every leaf of trees 1..40', () => {
    const { leaves, rangeHash } = buildTree(40);
    for (let size = 1; size <= 40; size++) {
      const root = rootFromLeafHashes(leaves.slice(0, size));
      for (let i = 0; i < size; i++) {
        const proof = inclusionRanges(i, size).map(rangeHash);
        assert.ok(verifyInclusion(leaves[i]!, i, size, proof, root), `${i}/${size}`);
        // wrong leaf, wrong index, truncated or extended proofs must all fail (the size is bound by the signed
        // checkpoint, and a proof can legitimately fit two sizes that share a path shape)
        assert.ok(!verifyInclusion(hashLeaf(Buffer.from('x')), i, size, proof, root));
        if (size > 1) assert.ok(!verifyInclusion(leaves[i]!, (i + 1) % size, size, proof, root));
        if (proof.length > 0) assert.ok(!verifyInclusion(leaves[i]!, i, size, proof.slice(1), root));
        assert.ok(!verifyInclusion(leaves[i]!, i, size, [...proof, root], root));
      }
    }
  });

  it('consistency proofs verify for every pair of sizes up to 40 and reject tampering', () => {
    const { leaves, rangeHash } = buildTree(40);
    const roots = [Buffer.alloc(0), ...leaves.map((_, i) => rootFromLeafHashes(leaves.slice(0, i + 1)))];
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyRanges(m, n).map(rangeHash);
        assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!), `${m}->${n}`);
        if (m < n) {
          assert.ok(!verifyConsistency(m, n, proof, roots[m]!, roots[n - 1]!));
          assert.ok(!verifyConsistency(m, n, proof, roots[n]!, roots[n]!));
          assert.ok(!verifyConsistency(m, n, proof.slice(0, -1), roots[m]!, roots[n]!));
          const bad = proof.map((p, j) => (j === 0 ? hashLeaf(p) : p));
          assert.ok(!verifyConsistency(m, n, bad, roots[m]!, roots[n]!));
        }
      }
    }
  });

  it('rejects malformed proof inputs without throwing', () => {
    const h = hashLeaf(Buffer.alloc(0));
    const cases: [string, () => boolean][] = [
      ['index >= size', () => verifyInclusion(h, 1, 1, [], h)],
      ['negative index', () => verifyInclusion(h, -1, 1, [], h)],
      ['fractional size', () => verifyInclusion(h, 0, 1.5, [], h)],
      ['short hash', () => verifyInclusion(h, 0, 2, [Buffer.alloc(31)], h)],
      ['first > second', () => verifyConsistency(3, 2, [h], h, h)],
      ['empty proof for m<n', () => verifyConsistency(1, 2, [], h, h)],
      ['proof for equal sizes', () => verifyConsistency(2, 2, [h], h, h)],
    ];
    for (const [name, f] of cases) assert.equal(f(), false, name);
  });

  it('frontier node ids name the complete subtrees of the right edge', () => {
    assert.deepEqual(Frontier.nodeIds(11), [
      { level: 3, index: 0 },
      { level: 1, index: 4 },
      { level: 0, index: 10 },
    ]);
    assert.deepEqual(Frontier.nodeIds(0), []);
    assert.throws(() => rangeNodes({ start: 1, end: 4 }), RangeError);
  });
});

describe('merkle against production Rekor inclusion proofs', () => {
  const CASES = '/work/shared/realbundles/cases';
  const skip = existsSync(CASES) ? false : 'realbundles not present';
  const proof = (name: string) => {
    const b = JSON.parse(readFileSync(join(CASES, name, 'bundle.sigstore.json'), 'utf8'));
    const e = b.verificationMaterial.tlogEntries[0];
    const p = e.inclusionProof;
    return {
      leaf: hashLeaf(Buffer.from(e.canonicalizedBody, 'base64')),
      index: Number(p.logIndex),
      size: Number(p.treeSize),
      hashes: (p.hashes as string[]).map((h) => Buffer.from(h, 'base64')),
      root: Buffer.from(p.rootHash, 'base64'),
    };
  };

  it('verifies real proofs and rejects the tampered one', { skip }, () => {
    for (const name of ['prod-v0.3-hashedrekord', 'prod-v0.3-dsse-intoto', 'prod-v0.2-hashedrekord']) {
      const p = proof(name);
      assert.ok(verifyInclusion(p.leaf, p.index, p.size, p.hashes, p.root), name);
    }
    const bad = proof('invalid-inclusion-proof-hash');
    assert.ok(!verifyInclusion(bad.leaf, bad.index, bad.size, bad.hashes, bad.root));
  });
});

describe('merkle: inputs the maths refuses, and proofs of a shape RFC 9162 forbids', () => {
  const { leaves, rangeHash } = buildTree(8);
  const root = (n: number) => rootFromLeafHashes(leaves.slice(0, n));
  const a = hashLeaf(Buffer.from('a'));
  const b = hashLeaf(Buffer.from('b'));

  it('the ranges a log proves from: sizes and indexes out of bounds are errors, never a wrong range', () => {
    for (const [index, size] of [
      [-1, 4],
      [0, 2.5],
      [0.5, 4],
      [4, 4],
      [5, 4],
      [0, Number.NaN],
      [0, 2 ** 53],
    ] as [number, number][]) {
      assert.throws(() => inclusionRanges(index, size), RangeError, `${index}/${size}`);
    }
    assert.deepEqual(inclusionRanges(3, 4), [
      { start: 2, end: 3 },
      { start: 0, end: 2 },
    ]);
    for (const [m, n] of [
      [0, 4],
      [5, 4],
      [-1, 4],
      [1, 4.5],
      [2.5, 4],
    ] as [number, number][]) {
      assert.throws(() => consistencyRanges(m, n), RangeError, `${m}->${n}`);
    }
    assert.deepEqual(consistencyRanges(4, 4), []);
    assert.deepEqual(consistencyRanges(1, 2), [{ start: 1, end: 2 }]);
  });

  it('a leaf range that is empty or not a run of shrinking complete subtrees is refused', () => {
    for (const r of [
      { start: 3, end: 3 },
      { start: 4, end: 3 },
      // [2,4) and [4,6): two subtrees of the same size, whose fold is not MTH of [2,6).
      { start: 2, end: 6 },
    ]) {
      assert.throws(() => rangeNodes(r), RangeError, JSON.stringify(r));
    }
    assert.deepEqual(rangeNodes({ start: 4, end: 7 }), [
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    assert.throws(() => foldRange([]), RangeError);
  });

  it('the empty tree: its root is SHA-256 of nothing, built or folded', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.equal(rootFromLeafHashes([]).toString('hex'), empty);
    assert.equal(new Frontier().root().toString('hex'), empty);
    assert.deepEqual(Frontier.nodeIds(0), []);
    for (const n of [-1, 1.5, Number.NaN]) assert.throws(() => Frontier.nodeIds(n), RangeError, String(n));
  });

  it('a cloned frontier has the same root and grows apart from the original', () => {
    const f = new Frontier();
    for (const l of leaves.slice(0, 5)) f.append(l);
    const c = f.clone();
    assert.equal(c.size, 5);
    assert.deepEqual(c.root(), root(5));
    c.append(leaves[5]!);
    assert.deepEqual(c.root(), root(6));
    assert.equal(f.size, 5);
    assert.deepEqual(f.root(), root(5));
    f.append(leaves[5]!);
    assert.deepEqual(f.root(), root(6));
  });

  it('inclusion: a fractional index and a proof of more than 64 hashes never verify', () => {
    // With no hashes, a leaf is the root of a tree of one: only the index check refuses 0.5.
    assert.ok(verifyInclusion(a, 0, 1, [], a));
    assert.ok(!verifyInclusion(a, 0.5, 1, [], a));
    const long = Array.from({ length: 65 }, () => b);
    assert.ok(!verifyInclusion(a, 0, 2, long, hashChildren(a, b)));
  });

  it('consistency: sizes out of order or not whole never verify, even when the hashes lead to the roots', () => {
    // Read as 3 -> 2, [a, b] folds to a and hash(a, b): only the order check refuses it.
    assert.ok(!verifyConsistency(3, 2, [a, b], a, hashChildren(a, b)));
    // Read as 1 -> 1.5, the path [root1, b] folds to hash(root1, b), as a real 1 -> 2 proof does.
    assert.ok(verifyConsistency(1, 2, [b], a, hashChildren(a, b)));
    assert.ok(!verifyConsistency(1, 1.5, [b], a, hashChildren(a, b)));
    assert.ok(!verifyConsistency(0.5, 2, [b], a, hashChildren(a, b)));
    assert.ok(!verifyConsistency(-1, 2, [b], a, hashChildren(a, b)));
    assert.ok(!verifyConsistency(1, Number.NaN, [b], a, hashChildren(a, b)));
  });

  it('consistency: a proof hash that is not 32 bytes, or more than 64 hashes, never verifies', () => {
    for (const odd of [Buffer.alloc(31, 1), Buffer.alloc(33, 1)]) {
      assert.ok(!verifyConsistency(1, 2, [odd], a, hashChildren(a, odd)), String(odd.length));
    }
    const long = Array.from({ length: 65 }, () => b);
    assert.ok(!verifyConsistency(1, 2, long, a, hashChildren(a, b)));
  });

  it('consistency from the empty tree holds with an empty proof only', () => {
    assert.ok(verifyConsistency(0, 5, [], EMPTY_ROOT, root(5)));
    assert.ok(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT));
    assert.ok(!verifyConsistency(0, 5, [root(5)], EMPTY_ROOT, root(5)));
  });

  it('consistency: an empty proof between different sizes is false, never an exception', () => {
    for (const [m, n] of [
      [1, 2],
      [3, 5],
      [4, 8],
      [5, 8],
    ] as [number, number][]) {
      assert.equal(verifyConsistency(m, n, [], root(m), root(n)), false, `${m}->${n}`);
    }
  });

  it('consistency: a path past the root or one that stops short is refused against the roots it computes', () => {
    // The real 3 -> 5 proof, then one hash more: both folds go one level up, to hash(extra, root).
    const proof = consistencyRanges(3, 5).map(rangeHash);
    assert.ok(verifyConsistency(3, 5, proof, root(3), root(5)));
    const extra = hashLeaf(Buffer.from('extra'));
    assert.ok(!verifyConsistency(3, 5, [...proof, extra], hashChildren(extra, root(3)), hashChildren(extra, root(5))));
    // 1 -> 3 needs the hashes of leaf 1 and of leaf 2; [b] alone is the 1 -> 2 path, folded to hash(a, b).
    assert.ok(!verifyConsistency(1, 3, [b], a, hashChildren(a, b)));
  });
});
