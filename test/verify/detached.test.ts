/**
 * DSSE payloads read in passes (a directory bundle too large to hold): the verifier gets digests of the payload and
 * of its pre-authentication encoding instead of the bytes. `payloadNeeds` says which digests a policy's keys need;
 * a digest that is missing, or of other bytes, must never pass for the real one.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import type { HashAlgorithm } from '../../src/core/digest.ts';
import { preAuthEncoding } from '../../src/core/dsse.ts';
import { VouchError } from '../../src/errors.ts';
import type { Bundle, DetachedPayload } from '../../src/verify/bundle.ts';
import {
  type ArtifactInput,
  buildPolicy,
  loadTrustedRoot,
  type Policy,
  parseBundle,
  type TrustMaterial,
  verify,
} from '../../src/verify/index.ts';
import { payloadNeeds } from '../../src/verify/verifier.ts';
import { makeRekorV2Instance } from '../helpers/fixture-rekor2.ts';
import { EMPTY_ROOT } from '../helpers/sigstore-verify.ts';

const TYPE = 'application/vnd.in-toto+json';
const payload = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'tree', digest: { sha256: '0'.repeat(64) } }],
    predicateType: 'https://example.com/p',
  }),
);
const pae = preAuthEncoding(TYPE, payload);
const statement: ArtifactInput = { kind: 'statement' };
const empty = loadTrustedRoot(EMPTY_ROOT);

type Kind = 'p256' | 'p384' | 'p521' | 'rsa' | 'ed25519' | 'secp256k1' | 'ed448';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
function keys(kind: Kind) {
  switch (kind) {
    case 'p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'secp256k1':
      return generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    case 'rsa':
      return rsa;
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'ed448':
      return generateKeyPairSync('ed448');
  }
}
const HASH: Record<Kind, HashAlgorithm | null> = {
  p256: 'sha256',
  p384: 'sha384',
  p521: 'sha512',
  secp256k1: 'sha256',
  rsa: 'sha256',
  ed25519: null,
  ed448: null,
};
const policyOf = (...k: KeyObject[]) =>
  buildPolicy({ keys: k.map((x) => ({ spki: x.export({ format: 'pem', type: 'spki' }) as string })) });

function keyBundleText(kind: Kind, privateKey: KeyObject): string {
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: {}, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: TYPE,
      signatures: [{ sig: sign(HASH[kind], pae, privateKey).toString('base64'), keyid: '' }],
    },
  });
}

/** The bundle with its payload replaced by the digests the directory workflow would have computed. */
function detach(
  text: string,
  digests: { payload?: HashAlgorithm[]; pae?: HashAlgorithm[] },
  over: { payload?: Buffer; pae?: Buffer } = {},
): Bundle {
  const b = parseBundle(text);
  assert.ok(b.content.kind === 'dsse');
  const d: DetachedPayload = {
    kind: 'detached',
    length: payload.length,
    payload: new Map(
      (digests.payload ?? []).map((a) => [
        a,
        createHash(a)
          .update(over.payload ?? payload)
          .digest(),
      ]),
    ),
    pae: new Map(
      (digests.pae ?? []).map((a) => [
        a,
        createHash(a)
          .update(over.pae ?? pae)
          .digest(),
      ]),
    ),
  };
  return { ...b, content: { ...b.content, payload: d } };
}

function verdict(b: Bundle, policy: Policy, trust: TrustMaterial, artifact: ArtifactInput = statement) {
  try {
    const r = verify(b, artifact, policy, trust);
    assert.deepEqual(r.statement, { payloadType: TYPE, payload: undefined });
    return 'valid';
  } catch (e) {
    assert.ok(e instanceof VouchError, String((e as Error)?.stack));
    return e.code;
  }
}

describe('payloadNeeds: the digests a policy may need', () => {
  const rows: [Kind[], { bytes: boolean; pae: HashAlgorithm[] }][] = [
    [['p256'], { bytes: false, pae: ['sha256'] }],
    [['p384'], { bytes: false, pae: ['sha256', 'sha384'] }],
    [['p521'], { bytes: false, pae: ['sha256', 'sha512'] }],
    [['rsa'], { bytes: false, pae: ['sha256'] }],
    [['ed25519'], { bytes: true, pae: ['sha256'] }],
    [['secp256k1'], { bytes: true, pae: ['sha256'] }],
    [['ed448'], { bytes: true, pae: ['sha256'] }],
    [['p384', 'p521'], { bytes: false, pae: ['sha256', 'sha384', 'sha512'] }],
    [['p256', 'ed25519'], { bytes: true, pae: ['sha256'] }],
  ];
  for (const [kinds, want] of rows) {
    it(kinds.join(' + '), () => {
      const k = kinds.map((x) => keys(x));
      const b = parseBundle(keyBundleText(kinds[0]!, k[0]!.privateKey));
      const got = payloadNeeds(b, policyOf(...k.map((x) => x.publicKey)));
      assert.deepEqual({ bytes: got.bytes, pae: [...got.pae].sort() }, want);
    });
  }
  it('a certificate bundle needs what its certificate key needs; an unreadable certificate nothing more', () => {
    const inst = makeRekorV2Instance();
    const text = inst.bundle({ artifact: Buffer.from('x'), dsse: true });
    const keyless = buildPolicy({ identities: [{ identity: 'a', issuer: 'b' }] });
    assert.deepEqual(payloadNeeds(parseBundle(text), keyless), { bytes: false, pae: ['sha256'] });
    const broken = JSON.parse(text);
    broken.verificationMaterial.certificate.rawBytes = 'AAAA';
    assert.deepEqual(payloadNeeds(parseBundle(JSON.stringify(broken)), keyless), { bytes: false, pae: ['sha256'] });
  });
});

describe('a key-pair DSSE bundle verified from digests', () => {
  for (const kind of ['p256', 'p384', 'p521', 'rsa'] as const) {
    const k = keys(kind);
    const text = keyBundleText(kind, k.privateKey);
    const alg = HASH[kind]!;
    it(`${kind}: the PAE digest of the signed bytes verifies`, () => {
      assert.equal(verdict(detach(text, { pae: [alg] }), policyOf(k.publicKey), empty), 'valid');
    });
    it(`${kind}: the PAE digest of other bytes does not`, () => {
      const b = detach(text, { pae: [alg] }, { pae: Buffer.concat([pae, Buffer.from(' ')]) });
      // No key hint: the signature verifies with none of the policy's keys.
      assert.equal(verdict(b, policyOf(k.publicKey), empty), 'KEY_MISMATCH');
    });
    it(`${kind}: without the digest its key needs, nothing is assumed`, () => {
      const others = (['sha256', 'sha384', 'sha512'] as const).filter((a) => a !== alg);
      assert.equal(verdict(detach(text, { pae: others }), policyOf(k.publicKey), empty), 'BUNDLE_UNSUPPORTED');
    });
  }
  it('an Ed25519 key cannot be checked against a digest', () => {
    const k = keys('ed25519');
    const text = keyBundleText('ed25519', k.privateKey);
    assert.equal(verdict(detach(text, { pae: ['sha256'] }), policyOf(k.publicKey), empty), 'BUNDLE_UNSUPPORTED');
  });
  it('a secp256k1 key is not checked against a digest', () => {
    const k = keys('secp256k1');
    const text = keyBundleText('secp256k1', k.privateKey);
    assert.equal(verdict(detach(text, { pae: ['sha256'] }), policyOf(k.publicKey), empty), 'KEY_MISMATCH');
  });
  it('a payload read in passes names no artifact digest: only a statement may be asked for', () => {
    const k = keys('p256');
    const b = detach(keyBundleText('p256', k.privateKey), { pae: ['sha256'] });
    const digest: ArtifactInput = { kind: 'digest', algorithm: 'sha256', digest: Buffer.alloc(32) };
    assert.equal(verdict(b, policyOf(k.publicKey), empty, digest), 'BUNDLE_UNSUPPORTED');
  });
});

describe('a logged DSSE bundle verified from digests', () => {
  const inst = makeRekorV2Instance();
  const trust = loadTrustedRoot(inst.trustedRootJson);
  const keyless = buildPolicy({
    identities: [
      {
        identity: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
        issuer: 'https://token.actions.githubusercontent.com',
      },
    ],
  });
  const text = inst.bundle({ artifact: Buffer.from('x'), dsse: true });
  const real = Buffer.from(JSON.parse(text).dsseEnvelope.payload, 'base64');
  const realPae = preAuthEncoding(TYPE, real);
  const both = { payload: ['sha256'] as HashAlgorithm[], pae: ['sha256'] as HashAlgorithm[] };
  it('with both digests of the real payload', () => {
    assert.equal(verdict(detach(text, both, { payload: real, pae: realPae }), keyless, trust), 'valid');
  });
  it('with the payload digest of other bytes, the log entry does not match', () => {
    const b = detach(text, both, { payload: Buffer.from('other'), pae: realPae });
    assert.equal(verdict(b, keyless, trust), 'TLOG_INVALID');
  });
  it('without the payload digest the log entry needs', () => {
    assert.equal(verdict(detach(text, { pae: ['sha256'] }, { pae: realPae }), keyless, trust), 'BUNDLE_UNSUPPORTED');
  });
});
