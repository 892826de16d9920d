/**
 * ECDSA P-256 verification over a precomputed digest, fast. hashedrekord entries carry only the artifact digest,
 * and Node's crypto cannot verify a signature without hashing the message itself; pure-JS verification
 * (@noble/curves) costs ~5 ms here, which alone would cap the log below 200 appends/s per core.
 *
 * This check uses OpenSSL (via ECDH) for the three scalar multiplications and a few BigInt field operations for
 * the rest (SEC 1 v2 §4.1.4: accept iff x(u1·G + u2·Q) mod n = r):
 *   A = u1·G            full point: ECDH public key of the scalar u1;
 *   xB = x(u2·Q), xC = x((u2+1)·Q)   ECDH shared secrets with Q (x coordinates only);
 *   x(A+B) = r'  fixes yB through the chord formula (r' = r or r+n), so we solve for yB, then check that
 *   (xB, yB) is on the curve and that x((xB, yB) + Q) = xC, which rules out the other root -yB.
 * All of them holding means B = u2·Q and x(A+B) = r', i.e. the signature is valid. Degenerate configurations
 * (a zero scalar, A = ±B, B = ±Q) are left to @noble/curves, and a differential test compares both on valid and
 * invalid signatures.
 */
import { createECDH } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

const mod = (a: bigint, m: bigint) => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

/** Modular inverse by the extended Euclidean algorithm (m prime, a != 0 mod m). */
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const to32 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
const f = (x: bigint) => mod(x * x * x - 3n * x + B, P);

// One ECDH context reused for every scalar multiplication: all uses are synchronous, so none interleave.
const ECDH = createECDH('prime256v1');

/** x coordinate of k·Q (k in [1, n-1]) via ECDH, or undefined if OpenSSL refuses (never for valid inputs). */
function mulX(k: bigint, q: Buffer): bigint | undefined {
  try {
    ECDH.setPrivateKey(to32(k));
    return toBig(ECDH.computeSecret(q));
  } catch {
    return undefined;
  }
}

function slow(point: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  try {
    return p256.verify(sig, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

/**
 * Verify a DER ECDSA signature over `digest` with the uncompressed P-256 point `point` (65 bytes).
 * Digests longer than 32 bytes are truncated to their leftmost 256 bits (SEC 1 §4.1.4 step 5 / bits2int).
 */
export function verifyP256Prehashed(point: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  let r: bigint;
  let s: bigint;
  try {
    const parsed = p256.Signature.fromBytes(sig, 'der'); // strict DER; throws on anything else
    r = parsed.r;
    s = parsed.s;
    p256.Point.fromBytes(point).assertValidity(); // the key must be a valid curve point
  } catch {
    return false;
  }
  if (r <= 0n || r >= N || s <= 0n || s >= N || point.length !== 65 || digest.length === 0) return false;
  const e = mod(toBig(digest.length > 32 ? digest.subarray(0, 32) : digest), N);
  const w = inv(s, N);
  const u1 = mod(e * w, N);
  const u2 = mod(r * w, N);
  if (u1 === 0n || u2 === 0n || u2 === N - 1n) return slow(point, digest, sig);
  const q = Buffer.from(point);
  const xQ = toBig(q.subarray(1, 33));
  const yQ = toBig(q.subarray(33, 65));
  ECDH.setPrivateKey(to32(u1));
  const a = ECDH.getPublicKey();
  const xA = toBig(a.subarray(1, 33));
  const yA = toBig(a.subarray(33, 65));
  const xB = mulX(u2, q);
  const xC = mulX(u2 + 1n, q);
  if (xB === undefined || xC === undefined || xB === xA || xB === xQ || yA === 0n) return slow(point, digest, sig);
  const fB = f(xB);
  const dx2 = mod((xB - xA) * (xB - xA), P);
  // Montgomery's trick: one inversion for both denominators (2·yA and xQ - xB).
  const d1 = mod(2n * yA, P);
  const d2 = mod(xQ - xB, P);
  const both = inv(d1 * d2, P);
  const inv2yA = mod(both * d2, P);
  const invDx = mod(both * d1, P);
  // x(R) can be r or r + n (when r + n < p): SEC 1 compares x(R) mod n with r.
  for (const rr of r + N < P ? [r, r + N] : [r]) {
    const yB = mod((fB + yA * yA - (rr + xA + xB) * dx2) * inv2yA, P);
    if (mod(yB * yB, P) !== fB) continue;
    const lambda = mod((yQ - yB) * invDx, P);
    const x = mod(lambda * lambda - xB - xQ, P);
    if (x === xC) return true;
  }
  return false;
}
