/**
 * The built CLI signs images in a real registry; the signature is then found and checked by the library with the
 * official @sigstore/verify (the verify layer's own CLI command is wired by its owner).
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attachSignature } from '../../src/artifact/oci/attach.ts';
import { buildImageStatement } from '../../src/artifact/oci/binding.ts';
import { findSignatures } from '../../src/artifact/oci/discover.ts';
import { MEDIA } from '../../src/artifact/oci/manifest.ts';
import { RegistryClient } from '../../src/artifact/oci/registry.ts';
import { resolveImage } from '../../src/artifact/oci/resolve.ts';
import { verifyImageSignatures } from '../../src/workflow/verify-image.ts';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { buildImage, pushImage, signStatement, type TestKey, testKey, testVerifier } from './helpers.ts';

const REG = process.env.VOUCH_TEST_REGISTRY;
const skip = !REG
  ? 'VOUCH_TEST_REGISTRY not set: run eval "$(.ci/oci-services.sh)"'
  : !existsSync(join(BIN, '..', '..', 'dist'))
    ? 'CLI not built (npm run build)'
    : false;

describe('vouch sign oci:...', { skip }, () => {
  const tmp = tempDir('vouch-oci-cli-');
  const repo = `vouch/cli${Date.now().toString(36)}/app`;
  const client = new RegistryClient(REG ?? '127.0.0.1:1', { credentials: null });
  let key: TestKey;
  let index = '';

  before(async () => {
    const a = await pushImage(client, repo, 'a', buildImage(1, `${repo}-a`));
    const b = await pushImage(client, repo, 'b', buildImage(1, `${repo}-b`));
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [a, b] }));
    index = (await client.putManifest(repo, 'multi', idx, MEDIA.ociIndex)).descriptor.digest;
    const k = vouch(['keygen', '--out', join(tmp.path, 'k')]);
    assert.equal(k.status, 0, k.stderr);
    const pem = readFileSync(join(tmp.path, 'k.pub'), 'utf8');
    key = { publicKey: createPublicKey(pem), pem } as TestKey;
  });
  after(() => tmp.dispose());

  it('signs an index recursively, attaching one referrer per manifest, each verifiable', async () => {
    const r = vouch(['sign', `oci:${REG}/${repo}:multi`, '--key', join(tmp.path, 'k.key'), '--recursive', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { digest: string; bundlePath: string; images: { digest: string; via: string }[] };
    assert.equal(out.digest, index);
    assert.equal(out.bundlePath, '');
    assert.equal(out.images.length, 3);
    for (const signed of out.images) {
      const image = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}@${signed.digest}` }, { client });
      const ok = await verifyImageSignatures(image, await findSignatures(image), testVerifier(key));
      assert.equal(ok.check.digest, signed.digest);
    }
  });

  it('fails with a service status when the registry is unreachable', () => {
    const r = vouch(['sign', 'oci:127.0.0.1:1/none/app:v1', '--key', join(tmp.path, 'k.key')]);
    assert.equal(r.status, 3, r.stderr);
  });
});

describe('vouch verify oci:...: what was verified, and why several signatures were refused', { skip }, () => {
  const tmp = tempDir('vouch-oci-verify-');
  const at = (p: string) => join(tmp.path, p);
  const repo = `vouch/verify${Date.now().toString(36)}/app`;
  const client = new RegistryClient(REG ?? '127.0.0.1:1', { credentials: null });
  const ours = testKey();
  const stranger = testKey();
  let digest = '';

  before(async () => {
    digest = (await pushImage(client, repo, 'v1', buildImage(1, repo))).digest;
    writeFileSync(at('ours.pub'), ours.pem);
    const image = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1` }, { client });
    // Two signatures, each refused for its own reason: another key signed this image, and our key signed it for
    // another repository.
    await attachSignature(image, await signStatement(buildImageStatement(image), stranger));
    const elsewhere = buildImageStatement({ repository: `${REG}/elsewhere/app`, digest: image.digest });
    await attachSignature(image, await signStatement(elsewhere, ours));
  });
  after(() => tmp.dispose());

  it('names the reason of each signature, not of one of them (issue 10, item 12)', () => {
    const r = vouch(['verify', `oci:${REG}/${repo}:v1`, '--key', at('ours.pub')]);
    assert.equal(r.status, 1, r.stderr);
    // Raised: the signature that got furthest (it verified with our key, then named another repository).
    assert.equal(errorCode(r.stderr), 'REPOSITORY_MISMATCH');
    assert.match(r.stderr, /none of the 2 signatures/);
    assert.match(r.stderr, /KEY_MISMATCH/);
    const json = vouch(['verify', `oci:${REG}/${repo}:v1`, '--key', at('ours.pub'), '--json']);
    const out = json.json() as {
      verified: boolean;
      error: { code: string; details: { signatures: { code: string; referrer: string; format: string }[] } };
    };
    assert.equal(out.verified, false);
    assert.deepEqual(out.error.details.signatures.map((s) => s.code).sort(), ['KEY_MISMATCH', 'REPOSITORY_MISMATCH']);
    for (const s of out.error.details.signatures) {
      assert.match(s.referrer, /^sha256:[0-9a-f]{64}$/);
      assert.equal(s.format, 'bundle');
    }
  });

  it('prints the digest it verified first, the one to deploy (issue 10, item 13)', async () => {
    const image = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1` }, { client });
    await attachSignature(image, await signStatement(buildImageStatement(image), ours));
    const r = vouch(['verify', `oci:${REG}/${repo}:v1`, '--key', at('ours.pub')]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `Verified OK: oci:${REG}/${repo}:v1`);
    assert.equal(lines[1], `  image      ${REG}/${repo}@${digest}`);
    const json = vouch(['verify', `oci:${REG}/${repo}:v1`, '--key', at('ours.pub'), '--json']);
    assert.equal((json.json() as { image: { digest: string } }).image.digest, digest);
  });
});
