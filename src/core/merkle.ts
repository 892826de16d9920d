/**
 * RFC 6962 / RFC 9162 Merkle tree maths, pure and shared by the log server (which builds proofs) and the verifier
 * (which checks them). Hashing (RFC 6962 §2.1): leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
 * so a leaf can never be passed off as an interior node (second-preimage protection).
 *
 * A log stores the hashes of its *complete* subtrees, addressed by (level, index): the node at level L, index i
 * covers leaves [i*2^L, (i+1)*2^L). Every hash a proof needs is the hash of a range of leaves, and any range that
 * RFC 6962's recursion produces is a left-to-right run of complete subtrees of decreasing size, so a proof costs
 * O(log n) ranges of O(log n) stored nodes each, whatever the size of the log.
 */
import { createHash } from 'node:crypto';
import { bytesEqual } from './encoding.ts';

export const HASH_SIZE = 32;

export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(data).digest();
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** SHA-256 of the empty string: the root of the empty tree (RFC 6962 §2.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** A complete subtree: level L, index i covers leaves [i*2^L, (i+1)*2^L). */
export interface NodeId {
  level: number;
  index: number;
}

/** A half-open range of leaves [start, end). */
export interface LeafRange {
  start: number;
  end: number;
}

function assertSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
}

/** Largest power of two strictly smaller than n (n >= 2), RFC 6962 §2.1's k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete subtrees whose hashes make up MTH(D[start:end]), left to right, largest first. Valid for the ranges
 * RFC 6962's recursion produces (start aligned to the largest power of two below the range's size); throws
 * otherwise so a caller cannot silently hash the wrong thing.
 */
export function rangeNodes(range: LeafRange): NodeId[] {
  const out: NodeId[] = [];
  let { start } = range;
  const { end } = range;
  if (!(start < end)) throw new RangeError('empty leaf range');
  while (start < end) {
    let size = 1;
    let level = 0;
    while (start % (size * 2) === 0 && start + size * 2 <= end) {
      size *= 2;
      level++;
    }
    // Sizes must strictly decrease, or the right fold of the parts would not be MTH of the range.
    if (out.length > 0 && level >= out[out.length - 1]!.level) {
      throw new RangeError('leaf range is not a Merkle subtree range');
    }
    out.push({ level, index: start / size });
    start += size;
  }
  return out;
}

/** MTH of a range from the hashes of its complete subtrees (in rangeNodes order): fold from the right. */
export function foldRange(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) throw new RangeError('no hashes to fold');
  let acc: Buffer = Buffer.from(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc;
}

/** Leaf ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size` (RFC 6962 §2.1.1), bottom-up. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new RangeError('index beyond tree size');
  const out: LeafRange[] = [];
  // PATH(m, D[lo:hi]) recursion unrolled top-down; prepend so the result is bottom-up.
  let lo = 0;
  let hi = size;
  let m = index;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      out.unshift({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      out.unshift({ start: lo, end: lo + k });
      lo += k;
      m -= k;
    }
  }
  return out;
}

/** Leaf ranges whose hashes form the consistency proof from size m to size n (RFC 6962 §2.1.2), in proof order. */
export function consistencyRanges(m: number, n: number): LeafRange[] {
  assertSize(m, 'first size');
  assertSize(n, 'second size');
  if (m < 1 || m > n) throw new RangeError('consistency sizes must satisfy 0 < first <= second');
  const out: LeafRange[] = [];
  // SUBPROOF(m, D[lo:hi], b) unrolled; hashes are appended after the recursive part, so collect and reverse.
  let lo = 0;
  let hi = n;
  let mm = m;
  let b = true;
  const tail: LeafRange[] = [];
  for (;;) {
    if (mm === hi - lo) {
      if (!b) out.push({ start: lo, end: hi });
      break;
    }
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      tail.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      tail.push({ start: lo, end: lo + k });
      lo += k;
      mm -= k;
      b = false;
    }
  }
  for (let i = tail.length - 1; i >= 0; i--) out.push(tail[i]!);
  return out;
}

/** Reference MTH over all leaf hashes (O(n)); for tests and small trees only. */
export function rootFromLeafHashes(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return Buffer.from(EMPTY_ROOT);
  if (leaves.length === 1) return Buffer.from(leaves[0]!);
  const k = splitPoint(leaves.length);
  return hashChildren(rootFromLeafHashes(leaves.slice(0, k)), rootFromLeafHashes(leaves.slice(k)));
}

function isSize(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/**
 * Verify an inclusion proof (RFC 9162 §2.1.3.2). Returns false on any mismatch or malformed input, never throws:
 * proofs come from the network.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: a bound on work; a path longer than 53 levels fails the sn check below anyway
  if (proof.length > 64) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      // RFC 9162: if LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0. An even fn equals
      // sn > 0 here, so halving it reaches an odd value before 0: the second condition is never the one that stops.
      while (fn % 2 === 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}

/** For n >= 1 (an integer), so halving ends at an odd value. */
function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/** Verify a consistency proof between two tree heads; false on any mismatch or malformed input, never throws. */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  // RFC 9162 §2.1.4.2.
  if (!isSize(first) || !isSize(second) || first > second) return false;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: a bound on work; a path longer than 53 levels fails the sn check below anyway
  if (proof.length > 64) return false;
  if (proof.some((p) => p.length !== HASH_SIZE)) return false;
  if (first === second) return proof.length === 0 && bytesEqual(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0; // the empty tree is a prefix of every tree
  if (proof.length === 0) return false;
  const path = [...proof];
  if (isPowerOfTwo(first)) path.unshift(firstRoot);
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      // As in verifyInclusion: an even fn equals sn > 0 here, so the loop ends on an odd fn, never on fn = 0.
      while (fn % 2 === 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(fr, firstRoot) && bytesEqual(sr, secondRoot);
}

/**
 * The right edge of a tree ("compact range" / frontier): the hashes of the complete subtrees of a tree of `size`
 * leaves, from the largest (leftmost) to the smallest. Appending a leaf touches O(1) amortised entries and the root
 * is their right fold, so a log can keep it in memory and know its root without reading the store.
 */
export class Frontier {
  size: number;
  /** (level, hash) of each complete subtree on the right edge, largest first. */
  readonly nodes: { level: number; hash: Buffer }[];

  constructor(size = 0, nodes: { level: number; hash: Buffer }[] = []) {
    this.size = size;
    this.nodes = nodes;
  }

  /** Which complete subtrees make up the right edge of a tree of `size` leaves (to load a frontier from a store). */
  static nodeIds(size: number): NodeId[] {
    assertSize(size, 'size');
    const out: NodeId[] = [];
    let start = 0;
    for (let level = 52; level >= 0; level--) {
      const s = 2 ** level;
      if (size - start >= s) {
        out.push({ level, index: start / s });
        start += s;
      }
    }
    return out;
  }

  /** Append a leaf hash; returns the complete subtree nodes created (the leaf itself first), for the store. */
  append(leafHash: Buffer): { level: number; index: number; hash: Buffer }[] {
    const created = [{ level: 0, index: this.size, hash: leafHash }];
    let hash = leafHash;
    let level = 0;
    let index = this.size;
    while (this.nodes.length > 0 && this.nodes[this.nodes.length - 1]!.level === level) {
      const left = this.nodes.pop()!;
      hash = hashChildren(left.hash, hash);
      level++;
      index = Math.floor(index / 2);
      created.push({ level, index, hash });
    }
    this.nodes.push({ level, hash });
    this.size++;
    return created;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return Buffer.from(EMPTY_ROOT);
    return foldRange(this.nodes.map((n) => n.hash));
  }

  clone(): Frontier {
    return new Frontier(
      this.size,
      this.nodes.map((n) => ({ ...n })),
    );
  }
}
