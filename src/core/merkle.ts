/**
 * RFC 6962 / RFC 9162 Merkle tree maths shared by the log server and the verifier. Leaves and interior nodes are
 * domain-separated (0x00 / 0x01 prefixes, RFC 6962 §2.1) so a leaf can never be passed off as an interior node.
 * Indices and sizes are bigint: production logs are past 2^31 entries and `>>` on numbers is 32-bit.
 */
import { createHash } from 'node:crypto';

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/**
 * The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or undefined when the proof has the wrong shape for
 * (index, size): too short, too long, or index outside the tree. Comparing the result with a trusted root hash is
 * the caller's job.
 */
export function rootFromInclusionProof(
  index: bigint,
  size: bigint,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | undefined {
  if (index < 0n || index >= size) return undefined;
  let fn = index;
  let sn = size - 1n;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (p.length !== 32 || sn === 0n) return undefined;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : undefined;
}

/** Merkle Tree Hash of a list of leaf hashes (RFC 6962 §2.1); the empty tree hashes to SHA-256(""). */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return Buffer.from(leaves[0]!);
  const k = largestPowerOfTwoBelow(leaves.length);
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

/** Audit path for leaf `index` in the tree of `leaves` (RFC 6962 §2.1.1), leaf-side first. */
export function inclusionProof(index: number, leaves: readonly Uint8Array[]): Buffer[] {
  if (index < 0 || index >= leaves.length) throw new RangeError('index outside the tree');
  if (leaves.length === 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return index < k
    ? [...inclusionProof(index, leaves.slice(0, k)), merkleRoot(leaves.slice(k))]
    : [...inclusionProof(index - k, leaves.slice(k)), merkleRoot(leaves.slice(0, k))];
}

/** Largest power of two strictly less than n (n >= 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
