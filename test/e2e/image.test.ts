/**
 * Images end to end through the built CLI against a real registry: keyless sign on the embedded default, verify by
 * identity through the registry's referrers, and the repository binding (a signature copied to another repository
 * of the same digest does not verify there). Under a policy, every signature attached to the digest counts: a
 * keyless one and a key-pair one together meet a two-signer policy that neither meets alone.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/artifact/oci/registry.ts';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { buildImage, pushImage } from '../oci/helpers.ts';

const REG = process.env.VOUCH_TEST_REGISTRY;

describe(
  'vouch sign/verify oci: keyless',
  { skip: REG ? false : 'VOUCH_TEST_REGISTRY not set (.ci/oci-services.sh)' },
  () => {
    const tmp = tempDir('vouch-e2e-image-');
    const env = { VOUCH_HOME: join(tmp.path, 'home') };
    const repo = `vouch/e2e${Date.now().toString(36)}/app`;
    const other = `${repo}-copy`;
    const client = new RegistryClient(REG ?? '127.0.0.1:1', { credentials: null });
    let identity = '';
    let issuer = '';
    after(() => tmp.dispose());

    before(async () => {
      const image = buildImage(2, repo);
      await pushImage(client, repo, '1.4.2', image);
      await pushImage(client, other, '1.4.2', image);
    });

    it('signs the digest the tag resolves to and attaches the signature', () => {
      const r = vouch(['sign', `oci:${REG}/${repo}:1.4.2`, '--json'], { env });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { identity: string; issuer: string; digest: string; bundlePath: string };
      assert.match(out.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(out.bundlePath, '');
      identity = out.identity;
      issuer = out.issuer;
    });

    it('verifies by identity, and refuses another identity', () => {
      const ok = vouch(
        [
          'verify',
          `oci:${REG}/${repo}:1.4.2`,
          '--certificate-identity',
          identity,
          '--certificate-oidc-issuer',
          issuer,
          '--json',
        ],
        { env },
      );
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal((ok.json() as { verified: boolean }).verified, true);
      const bad = vouch(
        [
          'verify',
          `oci:${REG}/${repo}:1.4.2`,
          '--certificate-identity',
          `${identity}x`,
          '--certificate-oidc-issuer',
          issuer,
        ],
        { env },
      );
      assert.equal(bad.status, 1);
      assert.equal(errorCode(bad.stderr), 'IDENTITY_MISMATCH');
    });

    it('finds no signature in a repository nobody signed, even for the same digest', () => {
      const r = vouch(
        [
          'verify',
          `oci:${REG}/${other}:1.4.2`,
          '--certificate-identity',
          identity,
          '--certificate-oidc-issuer',
          issuer,
        ],
        { env },
      );
      assert.equal(r.status, 1);
      assert.equal(errorCode(r.stderr), 'SIGNATURE_NOT_FOUND');
    });

    it('under a policy, every signature of the digest counts: the keyless one and a key-pair one', () => {
      const keygen = vouch(['keygen', '--out', join(tmp.path, 'rm'), '--json'], { env });
      assert.equal(keygen.status, 0, keygen.stderr);
      const { fingerprint } = keygen.json() as { fingerprint: string };
      const signed = vouch(['sign', `oci:${REG}/${repo}:1.4.2`, '--key', join(tmp.path, 'rm.key')], { env });
      assert.equal(signed.status, 0, signed.stderr);
      const policy = (rm: string) => {
        const file = join(tmp.path, `two-${rm.slice(0, 8)}.policy.json`);
        writeFileSync(
          file,
          JSON.stringify({
            apiVersion: 'vouch.dev/policy/v1',
            signers: { ci: { identity, issuer }, rm: { fingerprint: rm } },
            require: { allOf: ['ci', 'rm'] },
          }),
        );
        return file;
      };
      const args = (file: string) => [
        'verify',
        `oci:${REG}/${repo}:1.4.2`,
        '--policy',
        file,
        '--key',
        join(tmp.path, 'rm.pub'),
        '--json',
      ];
      const ok = vouch(args(policy(fingerprint)), { env });
      assert.equal(ok.status, 0, ok.stderr);
      const out = ok.json() as { evaluation: { satisfied: boolean; signatures: { verified: boolean }[] } };
      assert.equal(out.evaluation.satisfied, true);
      assert.equal(out.evaluation.signatures.filter((s) => s.verified).length, 2);
      // Another release manager's key: the keyless signature alone does not meet the policy.
      const other = vouch(args(policy('0'.repeat(64))), { env });
      assert.equal(other.status, 1, other.stderr);
      assert.equal(errorCode(other.stderr), 'POLICY_NOT_SATISFIED');
    });
  },
);
