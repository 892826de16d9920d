/**
 * Certificate rules, on certificates made by an in-memory CA (test/helpers/fixture-pki.ts): validity at the
 * trusted time, code-signing profile, SAN handling (no string joining), unknown critical extensions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import { buildPolicy, loadTrustedRoot, type TrustMaterial, verify } from '../../src/verify/index.ts';
import { type Instance, type LeafOptions, makeInstance, sanEmail, sanUri, T0 } from '../helpers/fixture-pki.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

const APP = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH = 'https://token.actions.githubusercontent.com';
const artifact = Buffer.from('release tarball\n');
const input = {
  kind: 'digest' as const,
  algorithm: 'sha256' as const,
  digest: createHash('sha256').update(artifact).digest(),
  bytes: artifact,
};

let inst: Instance;
let trust: TrustMaterial;
before(async () => {
  inst = await makeInstance();
  trust = loadTrustedRoot(inst.trustedRootJson);
});

const policy = (identity = APP, issuer = GH) => buildPolicy({ identities: [{ identity, issuer }] });

async function run(leaf: LeafOptions, identity = APP, opts: { integratedTime?: number } = {}) {
  const text = await inst.bundle(artifact, leaf, opts);
  try {
    return verify(text, input, policy(identity), trust);
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    return e.code;
  }
}

describe('certificates from a test CA', () => {
  it('a well-formed leaf verifies (so the rows below fail for their own reason), with sigstore-js too', async () => {
    const r = await run({});
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === APP);
    const bundleJson = await inst.bundle(artifact, {});
    const o = { trustedRootJson: inst.trustedRootJson, bundleJson, artifact, identity: APP, issuer: GH };
    assert.deepEqual(sigstoreJsVerify({ ...o, ctlogThreshold: 0 }), { ok: true });
  });

  const rows: [string, LeafOptions, ErrorCode, string?, { integratedTime?: number }?][] = [
    ['expired before the signing time', { notBefore: T0 - 3600_000, notAfter: T0 - 1800_000 }, 'CERTIFICATE_INVALID'],
    ['not yet valid at the signing time', { notBefore: T0 + 3600_000, notAfter: T0 + 7200_000 }, 'CERTIFICATE_INVALID'],
    ['signed (logged) after expiry', {}, 'CERTIFICATE_INVALID', APP, { integratedTime: T0 + 3600_000 }],
    ['a CA certificate as leaf', { ca: true }, 'CERTIFICATE_INVALID'],
    ['may sign certificates', { keyUsage: 1 | 32 }, 'CERTIFICATE_INVALID'],
    ['no digitalSignature key usage', { keyUsage: 4 }, 'CERTIFICATE_INVALID'],
    ['no codeSigning EKU', { eku: ['1.3.6.1.5.5.7.3.1'] }, 'CERTIFICATE_INVALID'],
    ['an unknown critical extension', { extraCritical: true }, 'CERTIFICATE_INVALID'],
    [
      'SAN with an embedded comma is one name',
      { san: sanUri(`${APP}, URI:https://evil.example`) },
      'IDENTITY_MISMATCH',
    ],
    [
      'SAN of a look-alike repository (acme/app-x)',
      { san: sanUri(APP.replace('acme/app/', 'acme/app-x/')) },
      'IDENTITY_MISMATCH',
    ],
    ['SAN of another ref (main-x)', { san: sanUri(`${APP}-x`) }, 'IDENTITY_MISMATCH'],
    ['e-mail SAN equal to the URI text', { san: sanEmail('x@example.com') }, 'IDENTITY_MISMATCH'],
    ['another issuer', { issuer: 'https://issuer.evil.example' }, 'ISSUER_MISMATCH'],
    ['two contradicting issuer extensions', { issuerV1: 'https://issuer.evil.example' }, 'CERTIFICATE_INVALID'],
    [
      'no SAN identity at all',
      { san: Buffer.concat([Buffer.from([0x82, 0x04]), Buffer.from('a.io')]) },
      'IDENTITY_MISMATCH',
    ],
  ];
  for (const [name, leaf, code, identity, opts] of rows) {
    it(name, async () => assert.equal(await run(leaf, identity ?? APP, opts ?? {}), code));
  }

  it('the deprecated issuer extension alone, or agreeing with the new one, is read', async () => {
    const r = await run({ issuerV1: GH });
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.issuer === GH);
  });

  it('the whole comma SAN, exactly, is that identity', async () => {
    const odd = `${APP}, URI:https://evil.example`;
    const r = await run({ san: sanUri(odd) }, odd);
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === odd);
  });

  it('a leaf from another CA with the same names does not chain', async () => {
    const other = await makeInstance();
    const text = await other.bundle(artifact, {});
    // The log differs too; give the other root's log but this root's CA to isolate the chain check.
    const mixed = JSON.parse(inst.trustedRootJson);
    mixed.tlogs = JSON.parse(other.trustedRootJson).tlogs;
    assert.throws(
      () => verify(text, input, policy(), loadTrustedRoot(JSON.stringify(mixed))),
      (e: unknown) => e instanceof VouchError && e.code === 'CHAIN_INVALID',
    );
  });
});
