/**
 * Signatures stored inside an OCI image layout, through the built CLI: `vouch sign oci-layout:DIR` writes the bundle
 * as a referrer (blobs + an index.json entry) and `vouch verify oci-layout:DIR` finds it there without --bundle.
 * Tampered layouts fail with a code; skopeo (an independent implementation of the layout) still reads and pushes
 * the image after signing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addLayoutArtifact } from '../../src/artifact/oci/local.ts';
import { EMPTY_JSON, MEDIA } from '../../src/artifact/oci/manifest.ts';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { blobPath as blob, makeLayout, putLayoutBlob as putBlob, sha256, tarOf } from './helpers.ts';

const REG = process.env.VOUCH_TEST_REGISTRY;
const built = existsSync(join(BIN, '..', '..', 'dist'));
const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;
const REPO = 'registry.example/acme/app';

interface IndexJson {
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

function readIndex(dir: string): IndexJson {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
}

describe('signatures inside an OCI layout', { skip: built ? false : 'CLI not built (node scripts/build.mjs)' }, () => {
  const tmp = tempDir('vouch-oci-layout-');
  const key = join(tmp.path, 'k.key');
  const pub = join(tmp.path, 'k.pub');
  const other = join(tmp.path, 'other');
  const signed = join(tmp.path, 'signed');
  let digest = '';
  let entry: Record<string, unknown> = {};

  const verify = (target: string, ...extra: string[]) =>
    vouch(['verify', target, '--key', pub, '--repository', REPO, ...extra]);
  const signLayout = (dir: string, ...extra: string[]) =>
    vouch(['sign', `oci-layout:${dir}:v1`, '--key', key, '--repository', REPO, '--json', ...extra]);

  before(() => {
    for (const [prefix, out] of [
      ['k', key],
      ['other', other],
    ] as const) {
      const r = vouch(['keygen', '--out', join(tmp.path, prefix)]);
      assert.equal(r.status, 0, `${out}: ${r.stderr}`);
    }
    ({ digest, entry } = makeLayout(signed, 'layout-signed'));
  });
  after(() => tmp.dispose());

  it('signs into the layout: bundle and artifact manifest in blobs/, one index.json entry, no bundle file', () => {
    const r = signLayout(signed);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as {
      digest: string;
      bundlePath: string;
      images: { via: string; referrer: { digest: string } }[];
    };
    assert.equal(out.digest, digest);
    assert.equal(out.bundlePath, '');
    assert.equal(out.images[0]!.via, 'layout');
    assert.equal(existsSync(`${signed}.sigstore.json`), false);
    const index = readIndex(signed);
    // Every existing entry and unknown field survives, byte for byte as JSON values.
    assert.deepEqual(index['x-vendor'], [1, 'two']);
    assert.deepEqual(index.manifests[0], entry);
    assert.equal(index.manifests.length, 2);
    const ref = index.manifests[1]!;
    assert.equal(ref.digest, out.images[0]!.referrer.digest);
    assert.equal(ref.artifactType, MEDIA.sigstoreBundle);
    assert.equal((ref.annotations as Record<string, string>)['dev.sigstore.bundle.content'], 'dsse-envelope');
    const manifest = JSON.parse(readFileSync(blob(signed, ref.digest), 'utf8'));
    assert.equal(manifest.artifactType, MEDIA.sigstoreBundle);
    assert.deepEqual(manifest.subject, { mediaType: MEDIA.ociManifest, digest, size: entry.size });
    assert.deepEqual(manifest.annotations, ref.annotations);
    assert.equal(manifest.config.digest, sha256(EMPTY_JSON));
    assert.ok(existsSync(blob(signed, manifest.config.digest)));
    assert.equal(manifest.layers[0].mediaType, MEDIA.sigstoreBundle);
    assert.ok(existsSync(blob(signed, manifest.layers[0].digest)));
    // No temporary file left behind.
    assert.deepEqual(
      readdirSync(signed).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it('verifies by discovery, by tag, by digest and without a tag (a referrer is not an image)', () => {
    for (const target of [`oci-layout:${signed}:v1`, `oci-layout:${signed}@${digest}`, `oci-layout:${signed}`]) {
      const r = verify(target, '--json');
      assert.equal(r.status, 0, `${target}: ${r.stderr}`);
      assert.equal((r.json() as { image: { digest: string } }).image.digest, digest);
    }
    const wrongKey = vouch(['verify', `oci-layout:${signed}:v1`, '--key', `${other}.pub`, '--repository', REPO]);
    assert.equal(wrongKey.status, 1);
    assert.equal(errorCode(wrongKey.stderr), 'KEY_MISMATCH', wrongKey.stderr);
    const wrongRepo = vouch(['verify', `oci-layout:${signed}:v1`, '--key', pub, '--repository', 'elsewhere.example/x']);
    assert.equal(errorCode(wrongRepo.stderr), 'REPOSITORY_MISMATCH');
  });

  it('a second signature adds a second referrer; re-adding a listed referrer changes nothing', async () => {
    const r = vouch(['sign', `oci-layout:${signed}:v1`, '--key', `${other}.key`, '--repository', REPO, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const index = readIndex(signed);
    assert.equal(index.manifests.length, 3);
    assert.equal(index.manifests.filter((m) => m.artifactType === MEDIA.sigstoreBundle).length, 2);
    for (const k of [pub, `${other}.pub`]) {
      const v = vouch(['verify', `oci-layout:${signed}:v1`, '--key', k, '--repository', REPO]);
      assert.equal(v.status, 0, v.stderr);
    }
    const before = readFileSync(join(signed, 'index.json'));
    const last = index.manifests[2]!;
    const manifest = readFileSync(blob(signed, last.digest));
    const again = await addLayoutArtifact(signed, [], manifest, {
      mediaType: last.mediaType,
      digest: last.digest,
      size: last.size,
      artifactType: MEDIA.sigstoreBundle,
    });
    assert.equal(again.added, false);
    assert.deepEqual(readFileSync(join(signed, 'index.json')), before);
  });

  /** Copy the signed layout, keep only the first referrer, and let `mutate` damage it. */
  function damaged(name: string, mutate: (dir: string, ref: IndexJson['manifests'][number]) => void): string {
    const dir = join(tmp.path, name);
    cpSync(signed, dir, { recursive: true });
    const index = readIndex(dir);
    index.manifests = index.manifests.slice(0, 2);
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    mutate(dir, index.manifests[1]!);
    return dir;
  }

  function rewriteReferrer(dir: string, change: (m: Record<string, unknown>) => void): void {
    const index = readIndex(dir);
    const ref = index.manifests[1]!;
    const m = JSON.parse(readFileSync(blob(dir, ref.digest), 'utf8'));
    change(m);
    Object.assign(ref, putBlob(dir, Buffer.from(JSON.stringify(m))));
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  }

  const rows: [string, (dir: string, ref: IndexJson['manifests'][number]) => void, string][] = [
    [
      'tampered bundle blob',
      (dir, ref) => {
        const m = JSON.parse(readFileSync(blob(dir, ref.digest), 'utf8'));
        const path = blob(dir, m.layers[0].digest);
        writeFileSync(path, readFileSync(path, 'utf8').replace('"mediaType"', '"mediaType" '));
      },
      'IMAGE_MISMATCH',
    ],
    [
      'tampered referrer manifest',
      (dir, ref) => writeFileSync(blob(dir, ref.digest), `${readFileSync(blob(dir, ref.digest), 'utf8')} `),
      'IMAGE_MISMATCH',
    ],
    [
      'referrer of another digest (the only one)',
      (dir) =>
        rewriteReferrer(dir, (m) => {
          (m.subject as { digest: string }).digest = sha256(Buffer.from('another image'));
        }),
      'SIGNATURE_NOT_FOUND',
    ],
    [
      'referrer whose manifest is not a bundle artifact',
      (dir) =>
        rewriteReferrer(dir, (m) => {
          m.artifactType = 'application/example';
        }),
      'SIGNATURE_NOT_FOUND',
    ],
    [
      'bundle signed for another digest, moved under this subject',
      (dir) => {
        const otherLayout = join(tmp.path, 'other-layout');
        makeLayout(otherLayout, 'layout-other');
        const s = vouch(['sign', `oci-layout:${otherLayout}:v1`, '--key', key, '--repository', REPO, '--json']);
        assert.equal(s.status, 0, s.stderr);
        const foreign = readIndex(otherLayout).manifests[1]!;
        const fm = JSON.parse(readFileSync(blob(otherLayout, foreign.digest), 'utf8'));
        putBlob(dir, readFileSync(blob(otherLayout, fm.layers[0].digest)));
        rewriteReferrer(dir, (m) => {
          m.layers = fm.layers;
        });
      },
      'IMAGE_MISMATCH',
    ],
    [
      'referrer entry claiming an oversize manifest',
      (dir) => {
        const index = readIndex(dir);
        index.manifests[1]!.size = 1 << 20;
        writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
      },
      'IMAGE_INVALID',
    ],
    [
      'referrer entry whose manifest is missing',
      (dir, ref) => {
        execFileSync('rm', [blob(dir, ref.digest)]);
      },
      'IMAGE_INVALID',
    ],
  ];
  for (const [name, mutate, code] of rows) {
    it(`refuses: ${name} -> ${code}`, () => {
      const dir = damaged(name.replace(/\W+/g, '-'), mutate);
      const r = verify(`oci-layout:${dir}:v1`);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(errorCode(r.stderr), code, r.stderr);
    });
  }

  it('an unsigned layout has no signature', () => {
    const dir = join(tmp.path, 'unsigned');
    makeLayout(dir, 'layout-unsigned');
    assert.equal(errorCode(verify(`oci-layout:${dir}:v1`).stderr), 'SIGNATURE_NOT_FOUND');
  });

  it('--bundle also writes the file, which verifies on its own', () => {
    const dir = join(tmp.path, 'with-file');
    makeLayout(dir, 'layout-with-file');
    const file = join(tmp.path, 'with-file.sigstore.json');
    const r = signLayout(dir, '--bundle', file);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readIndex(dir).manifests.length, 2);
    const v = verify(`oci-layout:${dir}:v1`, '--bundle', file);
    assert.equal(v.status, 0, v.stderr);
  });

  it('an oci-archive is not rewritten: its signature is a bundle file beside it', () => {
    const dir = join(tmp.path, 'for-archive');
    makeLayout(dir, 'layout-archive');
    const files: [string, Buffer][] = [
      ['oci-layout', readFileSync(join(dir, 'oci-layout'))],
      ['index.json', readFileSync(join(dir, 'index.json'))],
      ...readdirSync(join(dir, 'blobs', 'sha256')).map(
        (h) => [`blobs/sha256/${h}`, readFileSync(join(dir, 'blobs', 'sha256', h))] as [string, Buffer],
      ),
    ];
    const tar = join(tmp.path, 'image.tar');
    writeFileSync(tar, tarOf(files));
    const before = readFileSync(tar);
    const r = vouch(['sign', `oci-archive:${tar}`, '--key', key, '--repository', REPO, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.json() as { bundlePath: string }).bundlePath, `${tar}.sigstore.json`);
    assert.deepEqual(readFileSync(tar), before);
    assert.equal(verify(`oci-archive:${tar}`, '--bundle', `${tar}.sigstore.json`).status, 0);
    // Without --bundle, the file beside the archive is the one checked (issue 17); without it, nothing is found.
    assert.equal(verify(`oci-archive:${tar}`).status, 0);
    renameSync(`${tar}.sigstore.json`, `${tar}.moved.json`);
    assert.equal(errorCode(verify(`oci-archive:${tar}`).stderr), 'SIGNATURE_NOT_FOUND');
    renameSync(`${tar}.moved.json`, `${tar}.sigstore.json`);
  });

  it(
    'skopeo still reads the signed layout and pushes its image; the --bundle file verifies the pushed copy',
    {
      skip: hasSkopeo ? false : 'skopeo not installed',
    },
    () => {
      const dir = join(tmp.path, 'skopeo');
      const { digest: d } = makeLayout(dir, 'layout-skopeo');
      const file = join(tmp.path, 'skopeo.sigstore.json');
      const pushedRepo = `vouch/layout${Date.now().toString(36)}/app`;
      const repository = REG ? `${REG}/${pushedRepo}` : REPO;
      for (const k of [key, `${other}.key`]) {
        const s = vouch(['sign', `oci-layout:${dir}:v1`, '--key', k, '--repository', repository, '--bundle', file]);
        assert.equal(s.status, 0, s.stderr);
      }
      const env = { ...process.env, HOME: tmp.path };
      const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${dir}:v1`], { env });
      assert.equal(sha256(raw), d);
      const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${dir}:v1`], { env, encoding: 'utf8' }));
      assert.equal(inspected.Digest, d);
      if (!REG) return;
      execFileSync(
        'skopeo',
        [
          'copy',
          '--quiet',
          '--preserve-digests',
          '--dest-tls-verify=false',
          `oci:${dir}:v1`,
          `docker://${REG}/${pushedRepo}:v1`,
        ],
        { env },
      );
      // The last signature (by `other`) was also written to the file; it verifies the pushed image.
      const pushed = vouch(['verify', `oci:${REG}/${pushedRepo}:v1`, '--key', `${other}.pub`, '--bundle', file]);
      assert.equal(pushed.status, 0, pushed.stderr);
    },
  );
});
