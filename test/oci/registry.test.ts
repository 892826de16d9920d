/**
 * Against a real registry (distribution's docker-registry, started by .ci/oci-services.sh) with skopeo as the
 * independent client that reads what vouch wrote and writes what vouch reads.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attachSignature } from '../../src/artifact/oci/attach.ts';
import { buildImageStatement } from '../../src/artifact/oci/binding.ts';
import { findSignatures } from '../../src/artifact/oci/discover.ts';
import { MEDIA, parseManifest } from '../../src/artifact/oci/manifest.ts';
import { RegistryClient, referrersTag } from '../../src/artifact/oci/registry.ts';
import { imagesToSign, type ResolvedImage, resolveImage, selectPlatform } from '../../src/artifact/oci/resolve.ts';
import { verifyImage, verifyImageSignatures, verifyImageTarget } from '../../src/workflow/verify-image.ts';
import {
  buildImage,
  codeOf,
  pushImage,
  sha256,
  signStatement,
  tarOf,
  testKey,
  testVerifier,
  writeDockerArchive,
} from './helpers.ts';

const REG = process.env.VOUCH_TEST_REGISTRY;
const TLS = process.env.VOUCH_TEST_REGISTRY_TLS;
const CA = process.env.VOUCH_TEST_REGISTRY_CA;
const skip = REG && TLS && CA ? false : 'VOUCH_TEST_REGISTRY(_TLS/_CA) not set: run eval "$(.ci/oci-services.sh)"';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', env: { ...process.env, HOME: home } });
}
let home = '';

describe('images against a real registry', { skip }, () => {
  const run = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const repo = `vouch/${run}/app`;
  const key = testKey();
  const verifier = testVerifier(key);
  let client: RegistryClient;
  let image: ResolvedImage;
  let built: ReturnType<typeof buildImage>;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'vouch-oci-'));
    client = new RegistryClient(REG!, { credentials: null });
    built = buildImage(3, run);
    await pushImage(client, repo, 'v1', built);
    image = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1` }, { client });
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it('resolves a tag to the digest of the bytes, as skopeo sees them', async () => {
    assert.equal(image.digest, sha256(built.manifest));
    assert.equal(image.repository, `${REG}/${repo}`);
    const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${REG}/${repo}:v1`);
    assert.deepEqual(await client.headManifest(repo, 'v1'), image.descriptor);
    assert.equal(await client.headManifest(repo, 'nope'), null);
    assert.equal(sha256(Buffer.from(raw)), image.digest);
  });

  it('signs, stores the bundle as a referrer skopeo can read, finds and verifies it', async () => {
    const bundle = await signStatement(buildImageStatement(image), key);
    const { referrer, via } = await attachSignature(image, bundle);
    assert.equal(via, 'tag'); // distribution 2.8 has no referrers API: the tag schema is used
    // skopeo reads the tag index and the artifact manifest as valid OCI documents.
    const index = JSON.parse(
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${REG}/${repo}:${referrersTag(image.digest)}`),
    );
    assert.equal(index.mediaType, MEDIA.ociIndex);
    assert.equal(index.manifests[0].digest, referrer.digest);
    assert.equal(index.manifests[0].artifactType, MEDIA.sigstoreBundle);
    const artifact = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${REG}/${repo}@${referrer.digest}`);
    const parsed = parseManifest(Buffer.from(artifact), MEDIA.ociManifest);
    assert.equal(parsed.subject?.digest, image.digest);
    // skopeo copies the artifact (checking every blob digest on the way) into an OCI layout, byte for byte.
    const out = join(home, 'referrer');
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${REG}/${repo}@${referrer.digest}`,
      `oci:${out}:sig`,
    );
    assert.equal(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')).manifests[0].digest, referrer.digest);
    const found = await findSignatures(image);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.bundle, bundle);
    const ok = await verifyImageSignatures(image, found, verifier);
    assert.equal(ok.check.digest, image.digest);
    assert.equal(ok.check.repository, image.repository);
    // A second signature is appended to the same tag index, not replacing the first.
    await attachSignature(image, await signStatement(buildImageStatement(image), key));
    assert.equal((await findSignatures(image)).length, 2);
  });

  it('binds the repository: the same digest and bundle in another repository fails', async () => {
    const other = `vouch/${run}/copy`;
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${REG}/${repo}:v1`,
      `docker://${REG}/${other}:v1`,
    );
    const copy = await resolveImage({ kind: 'oci', reference: `${REG}/${other}:v1` }, { client });
    assert.equal(copy.digest, image.digest);
    await attachSignature(copy, await signStatement(buildImageStatement(image), key));
    const found = await findSignatures(copy);
    assert.equal(await codeOf(verifyImageSignatures(copy, found, verifier)), 'REPOSITORY_MISMATCH');
    const allowed = await verifyImageSignatures(copy, found, verifier, { allowRepositories: [image.repository] });
    assert.equal(allowed.check.repository, image.repository);
  });

  it('a moved tag resolves to the new digest, whose signatures are its own', async () => {
    const moved = buildImage(1, `${run}-moved`);
    await pushImage(client, repo, 'v1-moving', built);
    const first = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1-moving` }, { client });
    await pushImage(client, repo, 'v1-moving', moved);
    const second = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1-moving` }, { client });
    assert.notEqual(first.digest, second.digest);
    assert.equal(
      await codeOf(async () => verifyImageSignatures(second, await findSignatures(second), verifier)),
      'SIGNATURE_NOT_FOUND',
    );
    // The signature of the first digest does not verify the second image.
    const sigOfFirst = await findSignatures(first);
    assert.equal(await codeOf(verifyImageSignatures(second, sigOfFirst, verifier)), 'IMAGE_MISMATCH');
  });

  it('signs an index (recursively) and verifies a platform manifest through the signed index', async () => {
    const a = buildImage(1, `${run}-amd64`);
    const b = buildImage(1, `${run}-arm64`);
    const da = await pushImage(client, repo, 'amd64', a);
    const db = await pushImage(client, repo, 'arm64', b);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociIndex,
        manifests: [
          { ...da, platform: { architecture: 'amd64', os: 'linux' } },
          { ...db, platform: { architecture: 'arm64', os: 'linux' } },
        ],
      }),
    );
    await client.putManifest(repo, 'multi', index, MEDIA.ociIndex);
    const idx = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:multi` }, { client });
    assert.equal(idx.manifest.kind, 'index');
    const all = await imagesToSign(idx, { recursive: true });
    assert.deepEqual(
      all.map((i) => i.digest),
      [idx.digest, da.digest, db.digest],
    );
    await attachSignature(idx, await signStatement(buildImageStatement(idx), key));
    const platform = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}@${db.digest}` }, { client });
    assert.equal(
      await codeOf(async () => verifyImageSignatures(platform, await findSignatures(platform), verifier)),
      'SIGNATURE_NOT_FOUND',
    );
    const via = await verifyImageSignatures(platform, await findSignatures(idx), verifier, { viaIndex: idx });
    assert.equal(via.check.viaIndex, idx.digest);
    assert.equal(via.check.digest, db.digest);
    // A multi-platform OCI layout copied from the registry signs recursively to the same digests, without a registry.
    const dir = join(home, 'multi-layout');
    skopeo(
      'copy',
      '--quiet',
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${REG}/${repo}:multi`,
      `oci:${dir}:multi`,
    );
    const local = await resolveImage({ kind: 'oci-layout', path: `${dir}:multi` }, { repository: idx.repository });
    assert.deepEqual(
      (await imagesToSign(local, { recursive: true })).map((i) => i.digest),
      [idx.digest, da.digest, db.digest],
    );
    assert.equal((await selectPlatform(local, 'linux/amd64')).digest, da.digest);
    // The same through the CLI's flow: pick the platform from the index, verify it with the index's signature.
    const arm = await selectPlatform(idx, 'linux/arm64');
    assert.equal(arm.digest, db.digest);
    assert.equal((await verifyImage(arm, verifier, { viaIndex: idx })).check.viaIndex, idx.digest);
    assert.equal(await codeOf(verifyImage(arm, verifier)), 'SIGNATURE_NOT_FOUND');
    assert.equal(await codeOf(selectPlatform(idx, 'linux/s390x')), 'TARGET_INVALID');
    // The verify workflow: --platform through the registry, and a bundle file for the index against the platform.
    const viaWorkflow = await verifyImageTarget({ kind: 'oci', reference: `${REG}/${repo}:multi` }, verifier, {
      platform: 'linux/arm64',
    });
    assert.deepEqual([viaWorkflow.image.digest, viaWorkflow.check.viaIndex], [db.digest, idx.digest]);
    const indexBundle = (await findSignatures(idx))[0]!.bundle;
    const withFile = await verifyImageTarget({ kind: 'oci-layout', path: `${dir}:multi` }, verifier, {
      platform: 'linux/amd64',
      bundle: indexBundle,
      repository: idx.repository,
    });
    assert.equal(withFile.image.digest, da.digest);
    assert.equal(
      await codeOf(
        verifyImageTarget({ kind: 'oci-layout', path: `${dir}:multi` }, verifier, { repository: idx.repository }),
      ),
      // Nothing stored in the layout (skopeo copies the image, not its referrers), and no bundle file given.
      'SIGNATURE_NOT_FOUND',
    );
    // An index that does not list the image vouches for nothing.
    const stranger = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:v1` }, { client });
    assert.equal(
      await codeOf(verifyImageSignatures(stranger, await findSignatures(idx), verifier, { viaIndex: idx })),
      'IMAGE_MISMATCH',
    );
  });

  it('an OCI layout and archive made by skopeo have the registry digest; a local signature verifies the pushed image', async () => {
    const dir = join(home, 'layout');
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${REG}/${repo}:v1`,
      `oci:${dir}:v1`,
    );
    const local = await resolveImage({ kind: 'oci-layout', path: `${dir}:v1` }, { repository: `${REG}/${repo}` });
    assert.equal(local.digest, image.digest);
    const tar = join(home, 'image.tar');
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${REG}/${repo}:v1`,
      `oci-archive:${tar}:v1`,
    );
    const archived = await resolveImage({ kind: 'oci-archive', path: tar }, { repository: `${REG}/${repo}` });
    assert.equal(archived.digest, image.digest);
    // A Docker 25+ `docker save` archive carries an OCI layout beside manifest.json: its index decides.
    const files: [string, Buffer][] = [
      ['oci-layout', readFileSync(join(dir, 'oci-layout'))],
      ['index.json', readFileSync(join(dir, 'index.json'))],
      ...readdirSync(join(dir, 'blobs', 'sha256')).map(
        (h) => [`blobs/sha256/${h}`, readFileSync(join(dir, 'blobs', 'sha256', h))] as [string, Buffer],
      ),
      [
        'manifest.json',
        Buffer.from(JSON.stringify([{ Config: 'blobs/sha256/x', RepoTags: [`${REG}/${repo}:v1`], Layers: [] }])),
      ],
    ];
    const saved = join(home, 'docker25.tar');
    writeFileSync(saved, tarOf(files));
    const docker25 = await resolveImage({ kind: 'docker-archive', path: saved });
    assert.equal(docker25.digest, image.digest);
    assert.equal(docker25.repository, image.repository);
    // Signed locally (before the push), verified on the registry copy.
    const bundle = await signStatement(buildImageStatement(local), key);
    const ok = await verifyImageSignatures(image, [{ format: 'bundle', bundle, referrer: 'local' }], verifier);
    assert.equal(ok.check.digest, image.digest);
    // A local image without a repository to bind to is a usage error.
    assert.equal(await codeOf(resolveImage({ kind: 'oci-layout', path: `${dir}:v1` })), 'USAGE');
  });

  it('a docker-archive resolves to the digest skopeo --preserve-digests pushes', async () => {
    const path = join(home, 'docker.tar');
    writeDockerArchive(path, run, `${REG}/${repo}:saved`);
    const local = await resolveImage({ kind: 'docker-archive', path });
    assert.equal(local.repository, `${REG}/${repo}`); // from RepoTags
    skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `docker-archive:${path}`,
      `docker://${REG}/${repo}:saved`,
    );
    const pushed = await resolveImage({ kind: 'oci', reference: `${REG}/${repo}:saved` }, { client });
    assert.equal(local.digest, pushed.digest);
  });

  it('reads a legacy cosign .sig signature (simple signing) and checks its payload', async () => {
    const { sign } = await import('node:crypto');
    const payload = Buffer.from(
      JSON.stringify({
        critical: {
          identity: { 'docker-reference': image.repository },
          image: { 'docker-manifest-digest': image.digest },
          type: 'cosign container image signature',
        },
        optional: null,
      }),
    );
    const signature = sign('sha256', payload, key.privateKey).toString('base64');
    const layer = await client.pushBlob(repo, payload, MEDIA.cosignSimpleSigning);
    await client.pushBlob(repo, Buffer.from('{}'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: sha256(Buffer.from('{}')), size: 2 },
        layers: [{ ...layer, annotations: { 'dev.cosignproject.cosign/signature': signature } }],
      }),
    );
    await client.putManifest(repo, `${referrersTag(image.digest)}.sig`, manifest, MEDIA.ociManifest);
    const legacy = (await findSignatures(image)).filter((s) => s.format === 'cosign-legacy');
    assert.equal(legacy.length, 1);
    const ok = await verifyImageSignatures(image, legacy, verifier);
    assert.equal(ok.check.digest, image.digest);
    assert.equal(ok.signature.format, 'cosign-legacy');
  });

  it('speaks HTTPS with a custom CA, and refuses an unknown CA as a service failure', async () => {
    const tls = new RegistryClient(TLS!, { credentials: null, ca: readFileSync(CA!), retries: 0 });
    assert.equal(tls.base.protocol, 'https:');
    const d = await pushImage(tls, repo, 'tls', buildImage(1, `${run}-tls`));
    const got = await resolveImage({ kind: 'oci', reference: `${TLS}/${repo}:tls` }, { client: tls });
    assert.equal(got.digest, d.digest);
    // The CA can also come from the environment (VOUCH_REGISTRY_CA_FILE), as the CLI passes it.
    const viaEnv = new RegistryClient(TLS!, { credentials: null, env: { VOUCH_REGISTRY_CA_FILE: CA! }, retries: 0 });
    assert.equal((await viaEnv.getManifest(repo, 'tls'))?.digest, d.digest);
    const untrusted = new RegistryClient(TLS!, {
      credentials: null,
      ca: readFileSync(CA!)
        .toString()
        .replace(/[A-Z]{8}/, 'AAAAAAAA'),
      retries: 0,
    });
    assert.match(String(await codeOf(untrusted.getManifest(repo, 'tls'))), /SERVICE_UNAVAILABLE|CONFIG_INVALID/);
    const noCa = new RegistryClient(TLS!, {
      credentials: null,
      env: {},
      allowInsecure: false,
      retries: 0,
      ca: Buffer.from(''),
    });
    assert.equal(await codeOf(noCa.getManifest(repo, 'tls')), 'SERVICE_UNAVAILABLE');
  });
});
