/**
 * ECDSA P-256 verification over a precomputed digest, fast. hashedrekord entries carry only the artifact digest,
 * and Node's crypto cannot verify a signature without hashing the message itself; pure-JS verification
 * (@noble/curves) costs ~5 ms here, which alone would cap the log below 200 appends/s per core.
 *
 * SEC 1 v2 §4.1.4 accepts iff x(u1·G + u2·Q) mod n = r. Factor u2 out: u1·G + u2·Q = u2·(Q + k·G) with
 * k = u1/u2 mod n (G has order n). OpenSSL does both scalar multiplications through ECDH: k·G is the ECDH public
 * key of k (a full point), T = Q + k·G is one affine addition in BigInt, and x(u2·T) is the ECDH shared secret of
 * u2 with T. Degenerate configurations (a zero scalar, T at infinity, Q = k·G) are left to @noble/curves, and a
 * differential test compares both on valid and invalid signatures.
 */
import { createECDH } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

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
  // u2 = r/s and k = u1/u2 = e/r (mod n): one inversion of r·s serves both (Montgomery's trick).
  const invRS = inv(r * s, N);
  const u2 = mod(r * r * invRS, N);
  const k = mod(e * s * invRS, N);
  if (k === 0n || u2 === 0n) return slow(point, digest, sig);
  const xQ = toBig(point.subarray(1, 33));
  const yQ = toBig(point.subarray(33, 65));
  ECDH.setPrivateKey(to32(k));
  const kG = ECDH.getPublicKey();
  const xK = toBig(kG.subarray(1, 33));
  const yK = toBig(kG.subarray(33, 65));
  if (xK === xQ) return slow(point, digest, sig); // Q = ±k·G: doubling or infinity
  const lambda = mod((yK - yQ) * inv(xK - xQ, P), P);
  const xT = mod(lambda * lambda - xQ - xK, P);
  const yT = mod(lambda * (xQ - xT) - yQ, P);
  const xR = mulX(u2, Buffer.concat([Buffer.of(4), to32(xT), to32(yT)]));
  if (xR === undefined) return slow(point, digest, sig);
  return mod(xR, N) === r;
}
