/**
 * The built CLI signs images in a real registry; the signature is then found and checked by the library with the
 * official @sigstore/verify (the verify layer's own CLI command is wired by its owner).
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findSignatures, resolveImage, verifyImageSignatures } from '../../src/artifact/oci/image.ts';
import { MEDIA } from '../../src/artifact/oci/manifest.ts';
import { RegistryClient } from '../../src/artifact/oci/registry.ts';
import { BIN, tempDir, vouch } from '../helpers/cli.ts';
import { buildImage, pushImage, type TestKey, testVerifier } from './helpers.ts';

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
