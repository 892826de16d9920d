/**
 * Issue 17, publishers: local images keep their signatures on the way to a registry. Through the built CLI, a
 * publisher signs an OCI layout or an oci-archive before pushing; `vouch copy` pushes it with its signatures and
 * `vouch attach` adds a bundle to a copy pushed by another tool (skopeo). A customer, with another VOUCH_HOME and
 * only the public key, verifies the pushed image. Debian's docker-registry (distribution 2.x) has no referrers API,
 * so every referrer here goes through the tag index fallback, as cosign and oras do.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { referrersTag } from '../../src/artifact/oci/registry.ts';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { makeLayout, writeDockerArchive } from './helpers.ts';

const REG = process.env.VOUCH_TEST_REGISTRY;
const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0;
const skip = !REG
  ? 'VOUCH_TEST_REGISTRY not set: run eval "$(.ci/oci-services.sh)"'
  : !existsSync(join(BIN, '..', '..', 'dist'))
    ? 'CLI not built (npm run build)'
    : !hasSkopeo
      ? 'skopeo not installed'
      : false;

describe('local images keep their signatures in a registry', { skip }, () => {
  const tmp = tempDir('vouch-oci-publish-');
  const at = (p: string) => join(tmp.path, p);
  const ns = `vouch/publish${Date.now().toString(36)}`;
  const publisher = { VOUCH_HOME: '' };
  const customer = { VOUCH_HOME: '' };
  const skopeoEnv = { ...process.env, HOME: '' };
  let digest = '';

  const run = (args: string[]) => vouch(args, { env: publisher });
  const verify = (image: string, ...extra: string[]) =>
    vouch(['verify', image, '--key', at('k.pub'), ...extra], { env: customer });
  const skopeo = (...args: string[]) => execFileSync('skopeo', args, { env: skopeoEnv });

  before(() => {
    publisher.VOUCH_HOME = at('publisher');
    customer.VOUCH_HOME = at('customer');
    skopeoEnv.HOME = tmp.path;
    assert.equal(run(['keygen', '--out', at('k')]).status, 0);
    ({ digest } = makeLayout(at('layout'), `${ns}-layout`));
  });
  after(() => tmp.dispose());

  it('vouch copy oci-layout:DIR:TAG oci:REG/NAME:TAG pushes the image with the signature stored in the layout', () => {
    const s = run(['sign', `oci-layout:${at('layout')}:v1`, '--key', at('k.key'), '--repository', `${REG}/${ns}/app`]);
    assert.equal(s.status, 0, s.stderr);
    const r = run(['copy', `oci-layout:${at('layout')}:v1`, `oci:${REG}/${ns}/app:v1`, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { image: { digest: string }; signatures: { subject: string; via: string }[] };
    assert.equal(out.image.digest, digest);
    assert.deepEqual(
      out.signatures.map((x) => [x.subject, x.via]),
      [[digest, 'tag']],
    );
    const v = verify(`oci:${REG}/${ns}/app:v1`, '--json');
    assert.equal(v.status, 0, v.stderr);
    assert.equal((v.json() as { image: { digest: string } }).image.digest, digest);
    // skopeo (an independent reader) sees the tag index the fallback wrote.
    const tagged = JSON.parse(
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${REG}/${ns}/app:${referrersTag(digest)}`).toString(),
    );
    assert.equal(tagged.manifests.length, 1);
    // A second copy changes nothing: same referrer, same tag index.
    const again = run(['copy', `oci-layout:${at('layout')}:v1`, `oci:${REG}/${ns}/app:v1`, '--json']);
    assert.equal(again.status, 0, again.stderr);
    const tagged2 = JSON.parse(
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${REG}/${ns}/app:${referrersTag(digest)}`).toString(),
    );
    assert.equal(tagged2.manifests.length, 1);
  });

  it('registry to registry: the copy carries the signatures (accepted for the name they were made for)', () => {
    const r = run(['copy', `oci:${REG}/${ns}/app:v1`, `oci:${REG}/${ns}/mirror:v1`, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.json() as { signatures: unknown[] }).signatures.length, 1);
    assert.equal(errorCode(verify(`oci:${REG}/${ns}/mirror:v1`).stderr), 'REPOSITORY_MISMATCH');
    const v = verify(`oci:${REG}/${ns}/mirror:v1`, '--allow-repository', `${REG}/${ns}/app`);
    assert.equal(v.status, 0, v.stderr);
  });

  it('vouch attach: a bundle made for the layout, added to a copy skopeo pushed without it', () => {
    skopeo(
      'copy',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${at('layout')}:v1`,
      `docker://${REG}/${ns}/pushed:v1`,
    );
    const s = run([
      'sign',
      `oci-layout:${at('layout')}:v1`,
      '--key',
      at('k.key'),
      '--repository',
      `${REG}/${ns}/pushed`,
      '--bundle',
      at('pushed.json'),
    ]);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(errorCode(verify(`oci:${REG}/${ns}/pushed:v1`).stderr), 'SIGNATURE_NOT_FOUND');
    const r = run(['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('pushed.json'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { via: string; alreadyAttached: boolean; image: { digest: string } };
    assert.deepEqual([out.via, out.alreadyAttached, out.image.digest], ['tag', false, digest]);
    assert.equal(verify(`oci:${REG}/${ns}/pushed:v1`).status, 0);
    const again = run(['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('pushed.json'), '--json']);
    assert.equal((again.json() as { alreadyAttached: boolean }).alreadyAttached, true);
  });

  it('an oci-archive: FILE.sigstore.json is found by verify and attached by copy', () => {
    const tar = at('image.tar');
    execFileSync('tar', ['-cf', tar, '-C', at('layout'), '.']);
    const s = run(['sign', `oci-archive:${tar}`, '--key', at('k.key'), '--repository', `${REG}/${ns}/archived`]);
    assert.equal(s.status, 0, s.stderr);
    assert.ok(existsSync(`${tar}.sigstore.json`));
    assert.equal(verify(`oci-archive:${tar}`, '--repository', `${REG}/${ns}/archived`).status, 0);
    const r = run(['copy', `oci-archive:${tar}`, `oci:${REG}/${ns}/archived:v1`, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { attached: { bundlePath: string; via: string } };
    assert.equal(out.attached.bundlePath, `${tar}.sigstore.json`);
    assert.equal(verify(`oci:${REG}/${ns}/archived:v1`).status, 0);
    // The archive signed as a plain file: checked as an image, the bundle is named for what it is.
    assert.equal(run(['sign', tar, '--key', at('k.key'), '--bundle', at('as-file.json')]).status, 0);
    const v = verify(`oci-archive:${tar}`, '--repository', `${REG}/${ns}/archived`, '--bundle', at('as-file.json'));
    assert.equal(errorCode(v.stderr), 'IMAGE_MISMATCH', v.stderr);
    assert.match(v.stderr, /signs a file, not an image/);
  });

  it('a docker-archive without a layout: signing warns that only a digest-preserving push keeps the signature', () => {
    const tar = at('docker.tar');
    writeDockerArchive(tar, ns, `${REG}/${ns}/saved:v1`);
    const s = run(['sign', `docker-archive:${tar}`, '--key', at('k.key')]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, /^vouch: warning: .*--preserve-digests/m);
    assert.equal(verify(`docker-archive:${tar}`).status, 0);
    const c = run(['copy', `docker-archive:${tar}`, `oci:${REG}/${ns}/saved:v1`]);
    assert.equal(errorCode(c.stderr), 'TARGET_UNSUPPORTED', c.stderr);
    // An OCI layout signs without the warning: its manifest bytes are the ones pushed.
    assert.doesNotMatch(
      run(['sign', `oci-layout:${at('layout')}:v1`, '--key', at('k.key'), '--repository', `${REG}/${ns}/app`]).stderr,
      /warning/,
    );
  });

  describe('hostile and mistaken inputs, refused before anything is written', () => {
    before(() => {
      makeLayout(at('other'), `${ns}-other`);
      assert.equal(
        run([
          'sign',
          `oci-layout:${at('other')}:v1`,
          '--key',
          at('k.key'),
          '--repository',
          `${REG}/${ns}/pushed`,
          '--bundle',
          at('other.json'),
        ]).status,
        0,
      );
      assert.equal(
        run([
          'sign',
          `oci-layout:${at('layout')}:v1`,
          '--key',
          at('k.key'),
          '--repository',
          `${REG}/${ns}/elsewhere`,
          '--bundle',
          at('elsewhere.json'),
        ]).status,
        0,
      );
      writeFileSync(at('file.txt'), 'not an image');
      assert.equal(run(['sign', at('file.txt'), '--key', at('k.key')]).status, 0);
      writeFileSync(at('garbage.json'), '{"mediaType": 1');
      cpSync(at('layout'), at('badlayout'), { recursive: true });
      const index = JSON.parse(readFileSync(at('badlayout/index.json'), 'utf8'));
      index.manifests[0].size += 1;
      writeFileSync(at('badlayout/index.json'), JSON.stringify(index));
    });
    it('copy: a referrer of another image listed in the layout is not planted in the destination', () => {
      cpSync(at('layout'), at('mixed'), { recursive: true });
      cpSync(at('other/blobs'), at('mixed/blobs'), { recursive: true });
      const foreign = JSON.parse(readFileSync(at('other/index.json'), 'utf8')).manifests.filter(
        (m: { artifactType?: string }) => m.artifactType !== undefined,
      );
      assert.equal(foreign.length, 1);
      const index = JSON.parse(readFileSync(at('mixed/index.json'), 'utf8'));
      index.manifests.push(...foreign);
      writeFileSync(at('mixed/index.json'), JSON.stringify(index));
      const r = run(['copy', `oci-layout:${at('mixed')}:v1`, `oci:${REG}/${ns}/mixed:v1`, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { signatures: { subject: string; referrer: string }[] };
      assert.ok(out.signatures.length > 0);
      for (const sig of out.signatures) {
        assert.equal(sig.subject, digest);
        assert.notEqual(sig.referrer, foreign[0].digest);
      }
      assert.equal(verify(`oci:${REG}/${ns}/mixed:v1`, '--allow-repository', `${REG}/${ns}/app`).status, 0);
    });

    const zero = `sha256:${'0'.repeat(64)}`;
    const rows: [string, () => string[], string, number][] = [
      [
        'attach: a digest the registry does not hold',
        () => ['attach', `oci:${REG}/${ns}/pushed@${zero}`, '--bundle', at('pushed.json')],
        'TARGET_INVALID',
        2,
      ],
      [
        'attach: a bundle for another image',
        () => ['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('other.json')],
        'IMAGE_MISMATCH',
        1,
      ],
      [
        'attach: a bundle for another repository',
        () => ['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('elsewhere.json')],
        'REPOSITORY_MISMATCH',
        1,
      ],
      [
        'attach: a file bundle, not an image signature',
        () => ['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('file.txt.sigstore.json')],
        'IMAGE_MISMATCH',
        1,
      ],
      [
        'attach: not JSON',
        () => ['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('garbage.json')],
        'BUNDLE_MALFORMED',
        1,
      ],
      [
        'attach: no bundle file',
        () => ['attach', `oci:${REG}/${ns}/pushed@${digest}`, '--bundle', at('none.json')],
        'FILE_NOT_FOUND',
        2,
      ],
      [
        'attach: into a layout',
        () => ['attach', `oci-layout:${at('layout')}:v1`, '--bundle', at('pushed.json')],
        'TARGET_UNSUPPORTED',
        2,
      ],
      [
        'copy: destination digest is not the source',
        () => ['copy', `oci-layout:${at('layout')}:v1`, `oci:${REG}/${ns}/x@${zero}`],
        'IMAGE_MISMATCH',
        1,
      ],
      [
        'copy: a layout whose index lies about the size',
        () => ['copy', `oci-layout:${at('badlayout')}:v1`, `oci:${REG}/${ns}/bad:v1`],
        'IMAGE_MISMATCH',
        1,
      ],
      [
        'copy: into a layout',
        () => ['copy', `oci:${REG}/${ns}/app:v1`, `oci-layout:${at('new')}`],
        'TARGET_UNSUPPORTED',
        2,
      ],
      ['copy: a file', () => ['copy', at('file.txt'), `oci:${REG}/${ns}/file:v1`], 'TARGET_UNSUPPORTED', 2],
      [
        'copy: an unreachable registry',
        () => ['copy', `oci-layout:${at('layout')}:v1`, 'oci:127.0.0.1:1/x/y:v1'],
        'SERVICE_UNAVAILABLE',
        3,
      ],
    ];
    for (const [name, args, code, status] of rows) {
      it(name, () => {
        const r = run(args());
        assert.equal(errorCode(r.stderr), code, r.stderr);
        assert.equal(r.status, status);
      });
    }
  });
});
