/**
 * Every real Sigstore bundle of shared/realbundles, verified by our verifier and by the official sigstore-js
 * verifier. Each row records our expected verdict (and error code) and how sigstore-js compares; a disagreement
 * that is not written down here fails the test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import { buildPolicy, loadTrustedRoot, type TrustMaterial, verify } from '../../src/verify/index.ts';
import { caseNames, loadCase, type RealCase } from '../helpers/realbundles.ts';
import { type OracleVerdict, sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

type Oracle =
  /** sigstore-js reaches the same verdict. */
  | 'agree'
  /** sigstore-js cannot verify this input (digest-only message signature). */
  | 'unsupported'
  /** sigstore-js disagrees, for the reason given. */
  | { disagree: string };

interface Row {
  /** Our verdict: 'valid' or the error codes we accept (the first is what we raise today). */
  ours: 'valid' | ErrorCode[];
  oracle: Oracle;
}

const TABLE: Record<string, Row> = {
  // Client-dependent: the checkpoint is signed by the log's key (key hint = log ID prefix, verified signature), but
  // its signer name is a pod name, not the log's URL. The name is a label, the key is the trust: we accept it, as
  // sigstore-go does, provided the signer name matches the checkpoint origin. sigstore-js rejects it on the name;
  // it is digest-only anyway, which sigstore-js cannot verify.
  'custom-othername-san': { ours: 'valid', oracle: 'unsupported' },
  // The chain carries a root (and an intermediate) besides the leaf; the leaf itself is a genuine production one.
  // "Signers MUST NOT include root CA certificates in bundles": we refuse any chain holding a self-signed
  // certificate, before anything else (the bundle also lacks its checkpoint). sigstore-js crashes (TypeError) on
  // the missing checkpoint.
  'invalid-chain-contains-root': { ours: ['CHAIN_INVALID'], oracle: 'agree' },
  'invalid-checkpoint-roothash': { ours: ['TLOG_INVALID'], oracle: 'agree' },
  'invalid-cve-2022-36056': { ours: ['TLOG_INVALID'], oracle: 'agree' },
  'invalid-dsse-envelope-mismatch': { ours: ['TLOG_INVALID'], oracle: 'agree' },
  // Its chain also holds the root (refused first); without the root, the two signatures are refused (below).
  'invalid-dsse-two-signatures': { ours: ['CHAIN_INVALID'], oracle: 'agree' },
  'invalid-inclusion-proof-hash': { ours: ['TLOG_INVALID'], oracle: 'agree' },
  'invalid-integrated-time-after-cert': { ours: ['CERTIFICATE_INVALID'], oracle: 'agree' },
  'invalid-rekor2-no-timestamp': { ours: ['TIMESTAMP_MISSING'], oracle: 'agree' },
  'invalid-rekor2-tsa-payload-mismatch': { ours: ['TIMESTAMP_INVALID'], oracle: 'agree' },
  'invalid-set-signature': { ours: ['TLOG_INVALID'], oracle: 'agree' },
  'invalid-signature-mismatch': { ours: ['SIGNATURE_INVALID'], oracle: 'agree' },
  // A TimeRange without start must not be read as "valid since forever"; we refuse the trusted root itself.
  'invalid-trust-root-missing-start': {
    ours: ['TRUST_ROOT_INVALID'],
    oracle: { disagree: 'sigstore-js reads a validFor without start as unbounded and accepts' },
  },
  'invalid-v0.3-no-signed-time': { ours: ['TIMESTAMP_MISSING'], oracle: 'agree' },
  'invalid-wrong-artifact': { ours: ['DIGEST_MISMATCH'], oracle: 'agree' },
  'invalid-wrong-instance': { ours: ['TRUST_ROOT_MISMATCH', 'CHAIN_INVALID'], oracle: 'agree' },
  'prod-cpython-3.12.5-no-checkpoint': { ours: ['BUNDLE_MALFORMED'], oracle: 'unsupported' },
  'prod-github-release-wheel-v0.2': { ours: 'valid', oracle: 'unsupported' },
  'prod-managed-key-with-tsa': { ours: 'valid', oracle: 'agree' },
  'prod-npm-provenance-sigstore-2.0.0': { ours: 'valid', oracle: 'agree' },
  'prod-npm-publish-attestation-key': { ours: 'valid', oracle: 'agree' },
  // Client-dependent: the chain repeats the trusted intermediate and root. Same rule as
  // invalid-chain-contains-root, applied consistently: a bundle carrying a root certificate is refused, even when
  // that root is the trusted one (signers MUST NOT include it; the conformance suite rejects such bundles).
  // sigstore-js ignores the extra certificates and accepts.
  'prod-v0.1-full-chain-with-root': {
    ours: ['CHAIN_INVALID'],
    oracle: { disagree: 'sigstore-js ignores CA certificates in the bundle chain and accepts' },
  },
  'prod-v0.1-hashedrekord': { ours: 'valid', oracle: 'agree' },
  'prod-v0.1-intoto-promise-only': { ours: 'valid', oracle: 'agree' },
  'prod-v0.2-hashedrekord': { ours: 'valid', oracle: 'agree' },
  'prod-v0.3-dsse-intoto': { ours: 'valid', oracle: 'agree' },
  'prod-v0.3-hashedrekord': { ours: 'valid', oracle: 'agree' },
  'staging-rekor2-dsse': { ours: 'valid', oracle: 'agree' },
  'staging-rekor2-hashedrekord-tsa': { ours: 'valid', oracle: 'agree' },
  'staging-v0.3-email-identity': { ours: 'valid', oracle: 'agree' },
};

function policyFor(c: RealCase, identity = c.identity) {
  return c.keyPem
    ? buildPolicy({ keys: [{ spki: c.keyPem }] })
    : buildPolicy({ identities: [{ identity: identity!, issuer: c.issuer! }] });
}

/** Our verdict: 'valid' or the error code. Anything but a VouchError is a test failure. */
function ours(c: RealCase, artifact = c.artifact, bundle = c.bundleText, identity = c.identity): 'valid' | ErrorCode {
  try {
    const trust = loadTrustedRoot(c.trustedRootText);
    const r = verify(bundle, artifact, policyFor(c, identity), trust);
    assert.equal(r.verified, true);
    return 'valid';
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    return e.code;
  }
}

function oracle(c: RealCase): OracleVerdict {
  const base = { trustedRootJson: c.trustedRootText, bundleJson: c.bundleText };
  const withArtifact = c.artifactBytes ? { ...base, artifact: c.artifactBytes } : base;
  return c.keyPem
    ? sigstoreJsVerify({ ...withArtifact, keyPem: c.keyPem })
    : sigstoreJsVerify({ ...withArtifact, identity: c.identity!, issuer: c.issuer! });
}

describe('real Sigstore bundles', () => {
  it('the table covers every case directory', () => {
    assert.deepEqual(caseNames(), Object.keys(TABLE).sort());
  });

  for (const name of Object.keys(TABLE)) {
    const row = TABLE[name]!;
    it(name, () => {
      const c = loadCase(name);
      const got = ours(c);
      if (row.ours === 'valid') assert.equal(got, 'valid');
      else assert.ok(row.ours.includes(got as ErrorCode), `got ${got}, expected one of ${row.ours.join(', ')}`);
      if (c.expect !== 'client-dependent') assert.equal(got === 'valid', c.expect === 'valid', 'case.json verdict');

      const o = oracle(c);
      const oracleValid = o.ok === true;
      if (row.oracle === 'unsupported') assert.equal(o.ok, 'unsupported');
      else if (row.oracle === 'agree') {
        assert.notEqual(o.ok, 'unsupported');
        assert.equal(oracleValid, got === 'valid', `sigstore-js says ${JSON.stringify(o)}`);
      } else {
        assert.notEqual(o.ok, 'unsupported');
        assert.notEqual(oracleValid, got === 'valid', `documented disagreement vanished: ${row.oracle.disagree}`);
      }
    });
  }
});

describe('real bundles, variations', () => {
  it('digest-only input reaches the same verdict as the artifact bytes (pre-hashed ECDSA)', () => {
    for (const name of Object.keys(TABLE)) {
      const c = loadCase(name);
      if (!c.artifactBytes) continue;
      const { bytes: _bytes, ...digestOnly } = c.artifact;
      assert.equal(ours(c, digestOnly), ours(c), name);
    }
  });

  it('the valid results describe the signer, log entries and times', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const r = verify(c.bundleText, c.artifact, policyFor(c), loadTrustedRoot(c.trustedRootText));
    assert.equal(r.signer.type, 'certificate');
    if (r.signer.type !== 'certificate') return;
    assert.equal(r.signer.identity, c.identity);
    assert.equal(r.signer.issuer, c.issuer);
    assert.equal(
      r.signer.extensions.githubWorkflowRepository,
      'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
    );
    assert.equal(r.signer.localDevelopmentIdentity, undefined);
    assert.equal(r.tlogEntries.length, 1);
    assert.equal(r.tlogEntries[0]!.kind, 'hashedrekord/0.0.1');
    assert.ok(r.tlogEntries[0]!.integratedTime?.startsWith('2024-03-19'));
    assert.deepEqual(
      r.timestamps.map((t) => t.source),
      ['tlog'],
    );
    assert.equal(r.artifact?.digest, `sha256:${c.json.artifact_sha256}`);
  });

  it('DSSE results carry the verified statement', () => {
    const c = loadCase('prod-npm-provenance-sigstore-2.0.0');
    const r = verify(c.bundleText, c.artifact, policyFor(c), loadTrustedRoot(c.trustedRootText));
    assert.equal(r.statement?.payloadType, 'application/vnd.in-toto+json');
    assert.equal((r.statement?.payload as { predicateType: string }).predicateType, 'https://slsa.dev/provenance/v1');
    // kind 'statement': the caller inspects the statement itself; no artifact digest is required.
    const r2 = verify(c.bundleText, { kind: 'statement' }, policyFor(c), loadTrustedRoot(c.trustedRootText));
    assert.equal(r2.artifact, undefined);
  });

  it('Rekor v2 results take their time from the TSA', () => {
    const c = loadCase('staging-rekor2-hashedrekord-tsa');
    const r = verify(c.bundleText, c.artifact, policyFor(c), loadTrustedRoot(c.trustedRootText));
    assert.deepEqual(
      r.timestamps.map((t) => t.source),
      ['tsa'],
    );
    assert.equal(r.tlogEntries[0]!.integratedTime, undefined);
  });

  it('without its root certificate the same chain verifies: only the root rule rejects it', () => {
    const c = loadCase('prod-v0.1-full-chain-with-root');
    const b = JSON.parse(c.bundleText);
    b.verificationMaterial.x509CertificateChain.certificates.pop();
    assert.equal(ours(c, c.artifact, JSON.stringify(b)), 'valid');
  });

  it('a DSSE envelope with two signatures is refused', () => {
    const c = loadCase('invalid-dsse-two-signatures');
    const b = JSON.parse(c.bundleText);
    b.verificationMaterial.x509CertificateChain.certificates.splice(1);
    assert.equal(ours(c, c.artifact, JSON.stringify(b)), 'DSSE_INVALID');
  });

  it('the otherName (username) SAN matches exactly', () => {
    const c = loadCase('custom-othername-san');
    assert.equal(ours(c, c.artifact, c.bundleText, 'foo!oidc.local'), 'valid');
    assert.equal(ours(c, c.artifact, c.bundleText, 'foo@oidc.local'), 'IDENTITY_MISMATCH');
  });

  it('a set of trusted roots: verifies against the one that fits, never a mix', () => {
    const prod = loadCase('prod-v0.3-hashedrekord');
    const staging = loadCase('staging-v0.3-email-identity');
    const roots: TrustMaterial[] = [loadTrustedRoot(prod.trustedRootText), loadTrustedRoot(staging.trustedRootText)];
    assert.equal(verify(prod.bundleText, prod.artifact, policyFor(prod), roots).verified, true);
    assert.equal(verify(staging.bundleText, staging.artifact, policyFor(staging), roots).verified, true);
    // A wrong identity fails with the identity error (furthest stage), not with the other root's chain error.
    assert.throws(
      () => verify(staging.bundleText, staging.artifact, policyFor(staging, 'someone@else.example'), roots),
      (e: unknown) => e instanceof VouchError && e.code === 'IDENTITY_MISMATCH',
    );
  });

  it('localIssuers (or a local development root) mark a local development identity', () => {
    const c = loadCase('staging-v0.3-email-identity');
    const local = (trust: TrustMaterial) => {
      const r = verify(c.bundleText, c.artifact, policyFor(c), trust);
      return r.signer.type === 'certificate' && r.signer.localDevelopmentIdentity === true;
    };
    assert.equal(local(loadTrustedRoot(c.trustedRootText, { localIssuers: [c.issuer!] })), true);
    assert.equal(local(loadTrustedRoot(c.trustedRootText, { localIssuers: ['https://other.example'] })), false);
    // A parsed object is accepted as well as text.
    assert.equal(
      local(loadTrustedRoot(JSON.parse(c.trustedRootText), { localDevelopment: true, localIssuers: [c.issuer!] })),
      true,
    );
    // A local development root certifies only its own development issuers' identities.
    assert.throws(
      () =>
        local(
          loadTrustedRoot(c.trustedRootText, { localDevelopment: true, localIssuers: ['http://127.0.0.1:1/oidc'] }),
        ),
      (e: unknown) => e instanceof VouchError && e.code === 'TRUST_ROOT_MISMATCH',
    );
  });
});
