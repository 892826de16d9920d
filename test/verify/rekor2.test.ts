/**
 * Rekor v2 shapes made by an in-memory instance (test/helpers/fixture-rekor2.ts): hashedrekord/0.0.2 and
 * dsse/0.0.2 entries proven by Ed25519 checkpoints, signing time from RFC 3161 tokens only.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import { buildPolicy, loadTrustedRoot, type Policy, type TrustMaterial, verify } from '../../src/verify/index.ts';
import { makeInstance, p256, T0 } from '../helpers/fixture-pki.ts';
import { makeRekorV2Instance, type V2BundleOptions } from '../helpers/fixture-rekor2.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

const APP = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH = 'https://token.actions.githubusercontent.com';
const artifact = Buffer.from('v2 artifact\n');
const input = {
  kind: 'digest' as const,
  algorithm: 'sha256' as const,
  digest: createHash('sha256').update(artifact).digest(),
};
const keyless = buildPolicy({ identities: [{ identity: APP, issuer: GH }] });
const inst = makeRekorV2Instance();
const trust = loadTrustedRoot(inst.trustedRootJson);

function outcome(o: Partial<V2BundleOptions>, policy: Policy = keyless, t = trust): 'valid' | ErrorCode {
  try {
    verify(inst.bundle({ artifact, ...o }), input, policy, t);
    return 'valid';
  } catch (e) {
    assert.ok(e instanceof VouchError, String((e as Error)?.stack));
    return e.code;
  }
}

describe('Rekor v2 entries (in-memory instance)', () => {
  it('hashedrekord/0.0.2, keyless, time from the TSA', () => {
    const r = verify(inst.bundle({ artifact }), input, keyless, trust);
    assert.deepEqual(r.timestamps, [{ source: 'tsa', time: new Date(T0 + 60_000).toISOString() }]);
    assert.equal(r.tlogEntries[0]!.kind, 'hashedrekord/0.0.2');
  });
  it('dsse/0.0.2, keyless', () => assert.equal(outcome({ dsse: true }), 'valid'));
  it('sigstore-js accepts the same fixtures (so fixture and verifier do not share a misreading)', () => {
    for (const dsse of [false, true]) {
      const v = sigstoreJsVerify({
        trustedRootJson: inst.trustedRootJson,
        bundleJson: inst.bundle({ artifact, dsse }),
        artifact,
        identity: APP,
        issuer: GH,
        ctlogThreshold: 0,
      });
      assert.deepEqual(v, { ok: true }, `dsse=${dsse}`);
    }
  });
  it('a token naming its signer by key identifier', () => assert.equal(outcome({ sid: 'keyId' }), 'valid'));
  it('key-pair bundles on Rekor v2 (hashedrekord and dsse)', () => {
    const keyPair = p256();
    const policy = buildPolicy({
      keys: [{ spki: keyPair.publicKey.export({ format: 'pem', type: 'spki' }) as string }],
    });
    assert.equal(outcome({ keyPair }, policy), 'valid');
    assert.equal(outcome({ keyPair, dsse: true }, policy), 'valid');
    assert.equal(outcome({ keyPair, noTimestamp: true }, policy), 'TIMESTAMP_MISSING');
  });

  const rows: [string, Partial<V2BundleOptions>, ErrorCode][] = [
    ['no timestamp', { noTimestamp: true }, 'TIMESTAMP_MISSING'],
    ['timestamp after the certificate expired', { tsaTime: T0 + 3600_000 }, 'CERTIFICATE_INVALID'],
    [
      'timestamp outside the TSA certificate validity',
      { tsaTime: T0 + 60 * 86400_000, leaf: { notAfter: T0 + 90 * 86400_000 } },
      'TIMESTAMP_INVALID',
    ],
    ['dsse/0.0.2 body logging the signature twice', { dsse: true, duplicateLoggedSignature: true }, 'TLOG_INVALID'],
  ];
  for (const [name, o, code] of rows) it(name, () => assert.equal(outcome(o), code));

  it('a TSA certificate without the timeStamping EKU is not trusted for time', () => {
    const other = makeRekorV2Instance({ tsaLeafEku: ['1.3.6.1.5.5.7.3.3'] });
    try {
      verify(other.bundle({ artifact }), input, keyless, loadTrustedRoot(other.trustedRootJson));
      assert.fail('verified');
    } catch (e) {
      assert.ok(e instanceof VouchError && e.code === 'TIMESTAMP_INVALID', String(e));
    }
  });
  it('several roots: without a log entry, the root whose CA issued the certificate reports', async () => {
    // The claimed root's TSA window closed before the token; another root trusts the same TSA but not the CA, so
    // it gets further (to the chain) and would win on distance alone.
    const b = JSON.parse(inst.bundle({ artifact })) as { verificationMaterial: { tlogEntries: unknown[] } };
    b.verificationMaterial.tlogEntries = [];
    const text = JSON.stringify(b);
    const claimed = JSON.parse(inst.trustedRootJson);
    claimed.timestampAuthorities[0].validFor = { start: '2024-01-01T00:00:00Z', end: '2024-06-01T00:00:00Z' };
    const other = JSON.parse(inst.trustedRootJson);
    other.certificateAuthorities = JSON.parse((await makeInstance()).trustedRootJson).certificateAuthorities;
    const p = buildPolicy({ identities: [{ identity: APP, issuer: GH }], tlogThreshold: 0 });
    const [c, o] = [loadTrustedRoot(JSON.stringify(claimed)), loadTrustedRoot(JSON.stringify(other))];
    const code = (roots: TrustMaterial[]) => {
      try {
        verify(text, input, p, roots);
        return 'valid';
      } catch (e) {
        assert.ok(e instanceof VouchError, String(e));
        return e.code;
      }
    };
    assert.equal(code([c]), 'TIMESTAMP_INVALID');
    assert.equal(code([o]), 'CHAIN_INVALID');
    assert.equal(code([o, c]), 'TIMESTAMP_INVALID');
    assert.equal(code([c, o]), 'TIMESTAMP_INVALID');
    assert.equal(code([o, loadTrustedRoot(inst.trustedRootJson)]), 'valid');
  });
  it('entries of another v2 log are refused', () => {
    const other = makeRekorV2Instance();
    assert.throws(
      () => verify(other.bundle({ artifact }), input, keyless, trust),
      (e: unknown) => e instanceof VouchError && e.code === 'TRUST_ROOT_MISMATCH',
    );
  });
});
