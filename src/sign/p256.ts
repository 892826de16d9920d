/**
 * ECDSA P-256 over a precomputed SHA-256 digest (SEC 1 v2 §4.1.3). Node's crypto signs only messages it hashes
 * itself, and the streamed DSSE path (src/sign/stream.ts) and hashedrekord signatures have only the digest. Pure-JS
 * signing (@noble/curves) costs ~35 ms to load and ~60 ms for its first signature (it builds a precomputed table
 * of the base point), a tenth of a directory signing's wall time; here OpenSSL does the one scalar multiplication
 * k·G, as the ECDH public key of k (constant time), and the rest is a few BigInt operations:
 * - the nonce is hedged: HMAC-SHA-512 keyed by the private scalar over the digest and 32 fresh random bytes,
 *   reduced into [1, n-1] (bias below 2^-250), so it stays secret even if the random source fails;
 * - k is inverted blinded, as (k·b)^-1·b with a random b, so the inversion's timing does not depend on k alone;
 * - s is normalized to the lower half (low-S), as @noble/curves did.
 * The result is an ordinary DER ECDSA signature that any verifier checks against the message.
 */
import { createECDH, createHmac, randomBytes } from 'node:crypto';

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

const toBig = (b: Uint8Array) =>
  BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') || '0'}`);
const to32 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');

/** A uniform scalar in [1, n-1] from 64 bytes (512 bits reduced mod n-1: bias ~2^-256). */
const scalarOf = (bytes: Uint8Array) => mod(toBig(bytes), N - 1n) + 1n;

/** DER INTEGER of a positive value: minimal big-endian bytes, a leading zero when the top bit is set. */
function derInteger(x: bigint): Buffer {
  let hex = x.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return Buffer.concat([Buffer.of(0x02, body.length), body]);
}

/** DER ECDSA-Sig-Value { r, s } (each at most 33 bytes, so every length fits one byte). */
export function derSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

/** Sign a 32-byte SHA-256 `digest` with the P-256 private scalar `d` (32 bytes, big-endian). DER, low-S. */
export function signP256Prehashed(d: Uint8Array, digest: Uint8Array): Buffer {
  if (d.length !== 32 || digest.length !== 32) throw new RangeError('P-256 signing needs a 32-byte key and digest');
  const x = toBig(d);
  if (x <= 0n || x >= N) throw new RangeError('the P-256 private scalar is out of range');
  // The digest is as long as n (256 bits), so bits2int is the digest itself (SEC 1 §4.1.3 step 5).
  const e = mod(toBig(digest), N);
  const ecdh = createECDH('prime256v1');
  for (;;) {
    const k = scalarOf(createHmac('sha512', d).update(digest).update(randomBytes(32)).digest());
    ecdh.setPrivateKey(to32(k));
    const r = mod(toBig(ecdh.getPublicKey().subarray(1, 33)), N);
    if (r === 0n) continue;
    const b = scalarOf(randomBytes(64));
    const kInv = mod(inv(mod(k * b, N), N) * b, N);
    let s = mod(kInv * mod(e + r * x, N), N);
    if (s === 0n) continue;
    if (s > N >> 1n) s = N - s;
    return derSignature(r, s);
  }
}
