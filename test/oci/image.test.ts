/** Pure parts of the image layer: statements, simple-signing payloads, legacy conversion, manifests, tar, layouts. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import {
  buildImageStatement,
  COSIGN_SIGN_PREDICATE,
  checkImageStatement,
  checkSimpleSigning,
} from '../../src/artifact/oci/binding.ts';
import { legacyToBundle } from '../../src/artifact/oci/legacy.ts';
import { splitLocalTarget } from '../../src/artifact/oci/local.ts';
import { MEDIA, parseManifest } from '../../src/artifact/oci/manifest.ts';
import { parseChallenge, referrersTag } from '../../src/artifact/oci/registry.ts';
import { type ResolvedImage, resolveImage } from '../../src/artifact/oci/resolve.ts';
import { TarIndex } from '../../src/artifact/oci/tar.ts';
import { buildImage, codeOf, sha256, tarOf } from './helpers.ts';

const built = buildImage(1, 'unit');
const D = sha256(built.manifest);
const image: ResolvedImage = {
  repository: 'ghcr.io/acme/app',
  digest: D,
  descriptor: { mediaType: MEDIA.ociManifest, digest: D, size: built.manifest.length },
  manifest: parseManifest(built.manifest, MEDIA.ociManifest),
  bytes: built.manifest,
  source: { kind: 'oci-layout', path: '/nowhere', readBlob: async () => Buffer.alloc(0) },
};
const OTHER = sha256(Buffer.from('other'));
const indexBytes = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ ...image.descriptor }] }),
);
const index: ResolvedImage = {
  ...image,
  digest: sha256(indexBytes),
  descriptor: { mediaType: MEDIA.ociIndex, digest: sha256(indexBytes), size: indexBytes.length },
  manifest: parseManifest(indexBytes, MEDIA.ociIndex),
  bytes: indexBytes,
};

function statement(over: Record<string, unknown> = {}, subject: Record<string, unknown> = {}) {
  const s = buildImageStatement(image);
  return { ...s, subject: [{ ...s.subject[0], ...subject }], ...over };
}

describe('image statements', () => {
  it('has the cosign v3 shape with the repository as subject name', () => {
    assert.deepEqual(buildImageStatement(image), {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'ghcr.io/acme/app', digest: { sha256: D.slice(7) } }],
      predicateType: COSIGN_SIGN_PREDICATE,
      predicate: {},
    });
  });

  const rows: [string, unknown, Parameters<typeof checkImageStatement>[2], string | undefined][] = [
    ['matching statement', statement(), {}, undefined],
    ['docker.io spelling of the same repository', statement({}, { name: 'ghcr.io/acme/app:v1' }), {}, undefined],
    ['another digest', statement({}, { digest: { sha256: OTHER.slice(7) } }), {}, 'IMAGE_MISMATCH'],
    ['digest under another algorithm only', statement({}, { digest: { sha512: 'ab' } }), {}, 'IMAGE_MISMATCH'],
    ['another repository', statement({}, { name: 'ghcr.io/evil/app' }), {}, 'REPOSITORY_MISMATCH'],
    [
      'another repository, allowed',
      statement({}, { name: 'ghcr.io/evil/app' }),
      { allowRepositories: ['ghcr.io/evil/app'] },
      undefined,
    ],
    [
      'another repository, any allowed',
      statement({}, { name: 'ghcr.io/evil/app' }),
      { allowRepositories: 'any' },
      undefined,
    ],
    ['no repository (cosign bundle)', statement({}, { name: undefined }), {}, 'REPOSITORY_MISMATCH'],
    ['no repository, any allowed', statement({}, { name: undefined }), { allowRepositories: 'any' }, undefined],
    [
      'two subjects',
      { ...statement(), subject: [statement().subject[0], statement().subject[0]] },
      {},
      'IMAGE_MISMATCH',
    ],
    ['no subject', { ...statement(), subject: [] }, {}, 'IMAGE_MISMATCH'],
    ['other predicate type', statement({ predicateType: 'https://slsa.dev/provenance/v1' }), {}, 'IMAGE_MISMATCH'],
    ['not in-toto', statement({ _type: 'https://example.com/x' }), {}, 'DSSE_INVALID'],
    ['not an object', 'hello', {}, 'DSSE_INVALID'],
    ['subject name not a string', statement({}, { name: 7 }), {}, 'DSSE_INVALID'],
  ];
  for (const [name, s, opts, code] of rows) {
    it(name, async () => assert.equal(await codeOf(() => checkImageStatement(s, image, opts)), code));
  }

  it('verifies a platform manifest through the index that lists it, and nothing else', async () => {
    const signedIndex = buildImageStatement(index);
    assert.equal(checkImageStatement(signedIndex, image, { viaIndex: index }).viaIndex, index.digest);
    assert.equal(await codeOf(() => checkImageStatement(signedIndex, image)), 'IMAGE_MISMATCH');
    const stranger = { ...image, digest: OTHER };
    assert.equal(await codeOf(() => checkImageStatement(signedIndex, stranger, { viaIndex: index })), 'IMAGE_MISMATCH');
    assert.equal(await codeOf(() => checkImageStatement(signedIndex, image, { viaIndex: image })), 'IMAGE_INVALID');
  });
});

describe('legacy cosign signatures', () => {
  const payload = (digest: string, ref: string, type = 'cosign container image signature') =>
    Buffer.from(
      JSON.stringify({
        critical: { identity: { 'docker-reference': ref }, image: { 'docker-manifest-digest': digest }, type },
        optional: {},
      }),
    );
  const rows: [string, Buffer, string | undefined][] = [
    ['matching payload', payload(D, 'ghcr.io/acme/app'), undefined],
    ['reference with a tag', payload(D, 'ghcr.io/acme/app:v1'), undefined],
    ['another digest', payload(OTHER, 'ghcr.io/acme/app'), 'IMAGE_MISMATCH'],
    ['another repository', payload(D, 'ghcr.io/evil/app'), 'REPOSITORY_MISMATCH'],
    ['another type', payload(D, 'ghcr.io/acme/app', 'atomic container signature'), 'IMAGE_MISMATCH'],
    ['duplicate keys', Buffer.from('{"critical":{},"critical":{}}'), 'BUNDLE_MALFORMED'],
  ];
  for (const [name, p, code] of rows) {
    it(name, async () => assert.equal(await codeOf(() => checkSimpleSigning(p, image)), code));
  }

  it('converts a keyless .sig layer (certificate, chain, rekor bundle) into a bundle sigstore-js accepts', () => {
    // A self-made certificate is enough: the conversion is structural, the verifier checks the chain.
    const certDer = Buffer.from('3003020100', 'hex');
    const pem = `-----BEGIN CERTIFICATE-----\n${certDer.toString('base64')}\n-----END CERTIFICATE-----\n`;
    const body = Buffer.from(JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: {} })).toString(
      'base64',
    );
    const p = payload(D, 'ghcr.io/acme/app');
    const json = legacyToBundle(
      {
        mediaType: MEDIA.cosignSimpleSigning,
        digest: sha256(p),
        size: p.length,
        annotations: {
          'dev.cosignproject.cosign/signature': Buffer.from('sig').toString('base64'),
          'dev.sigstore.cosign/certificate': pem,
          'dev.sigstore.cosign/chain': pem + pem,
          'dev.sigstore.cosign/bundle': JSON.stringify({
            SignedEntryTimestamp: Buffer.from('set').toString('base64'),
            Payload: { body, integratedTime: 1700000000, logIndex: 42, logID: 'c0'.repeat(32) },
          }),
        },
      },
      p,
    );
    const b = JSON.parse(json);
    assert.equal(b.verificationMaterial.x509CertificateChain.certificates.length, 3);
    assert.equal(b.verificationMaterial.tlogEntries[0].kindVersion.kind, 'hashedrekord');
    assert.equal(b.verificationMaterial.tlogEntries[0].logIndex, '42');
    assert.equal(b.messageSignature.messageDigest.digest, Buffer.from(sha256(p).slice(7), 'hex').toString('base64'));
    const parsed = bundleFromJSON(b);
    assert.equal(parsed.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.1');
  });

  it('rejects a layer without a signature, or with a malformed log id', async () => {
    const p = payload(D, 'ghcr.io/acme/app');
    const base = { mediaType: MEDIA.cosignSimpleSigning, digest: sha256(p), size: p.length };
    assert.equal(await codeOf(() => legacyToBundle(base, p)), 'BUNDLE_MALFORMED');
    const rekor = JSON.stringify({
      SignedEntryTimestamp: 'AA==',
      Payload: { body: 'e30=', integratedTime: 1, logIndex: 1, logID: 'zz' },
    });
    assert.equal(
      await codeOf(() =>
        legacyToBundle(
          {
            ...base,
            annotations: { 'dev.cosignproject.cosign/signature': 'AA==', 'dev.sigstore.cosign/bundle': rekor },
          },
          p,
        ),
      ),
      'BUNDLE_MALFORMED',
    );
  });
});

describe('manifests', () => {
  const m =
    (o: unknown, ct: string = MEDIA.ociManifest) =>
    () =>
      parseManifest(Buffer.from(JSON.stringify(o)), ct);
  const good = JSON.parse(built.manifest.toString());
  const rows: [string, () => unknown, string | undefined][] = [
    ['valid image', m(good), undefined],
    ['schema version 1', m({ ...good, schemaVersion: 1 }), 'IMAGE_INVALID'],
    ['index and image', m({ ...good, manifests: [] }), 'IMAGE_INVALID'],
    [
      'index with layers',
      m({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [], layers: [] }, MEDIA.ociIndex),
      'IMAGE_INVALID',
    ],
    ['negative size', m({ ...good, config: { ...good.config, size: -1 } }), 'IMAGE_INVALID'],
    ['size above 2^53', m({ ...good, config: { ...good.config, size: 2 ** 60 } }), 'IMAGE_INVALID'],
    ['bad digest', m({ ...good, config: { ...good.config, digest: 'sha256:xyz' } }), 'IMAGE_INVALID'],
    ['unknown media type', m({ ...good, mediaType: 'application/x-foo' }, 'application/x-foo'), 'IMAGE_INVALID'],
    ['annotation not a string', m({ ...good, annotations: { a: 1 } }), 'IMAGE_INVALID'],
  ];
  for (const [name, fn, code] of rows) it(name, async () => assert.equal(await codeOf(fn), code));

  it('names the referrers tag and parses auth challenges', () => {
    assert.equal(referrersTag(D), `sha256-${D.slice(7)}`);
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'),
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="x\\"y"'), { scheme: 'basic', params: { realm: 'x"y' } });
  });
});

describe('tar reader and local images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-tar-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, b: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, b);
    return p;
  };

  it('indexes members without reading them, and hashes one streamed', async () => {
    const t = await TarIndex.open(
      write(
        'ok.tar',
        tarOf([
          ['./a.txt', Buffer.from('hello')],
          ['b/c', Buffer.alloc(1000, 1)],
        ]),
      ),
    );
    assert.deepEqual([...t.entries.keys()], ['a.txt', 'b/c']);
    assert.equal((await t.read('a.txt', 10))?.toString(), 'hello');
    assert.equal((await t.sha256('b/c'))?.digest, sha256(Buffer.alloc(1000, 1)));
  });

  const good = tarOf([['a', Buffer.from('x')]]);
  const corrupt = Buffer.from(good);
  corrupt[0] = 0x62; // name changes, checksum no longer matches
  const hugeSize = Buffer.from(good);
  hugeSize.write('77777777777\0', 124); // 8 GiB member in a 2 KiB file
  const rows: [string, Buffer, string][] = [
    ['bad checksum', corrupt, 'IMAGE_INVALID'],
    ['member past the end', fixChecksum(hugeSize), 'IMAGE_INVALID'],
    ['no end marker', good.subarray(0, 1024), 'IMAGE_INVALID'],
    ['empty file', Buffer.alloc(0), 'IMAGE_INVALID'],
  ];
  for (const [name, bytes, code] of rows) {
    it(`rejects a tar with ${name}`, async () =>
      assert.equal(await codeOf(TarIndex.open(write(`${name}.tar`, bytes))), code));
  }

  it('drops duplicate member names instead of picking one', async () => {
    const t = await TarIndex.open(
      write(
        'dup.tar',
        tarOf([
          ['index.json', Buffer.from('1')],
          ['index.json', Buffer.from('2')],
        ]),
      ),
    );
    assert.equal(t.entries.has('index.json'), false);
  });

  it('reads an OCI layout by tag and digest, and refuses tampered blobs', async () => {
    const layout = join(dir, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const desc = {
      mediaType: MEDIA.ociManifest,
      digest: D,
      size: built.manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': 'v1' },
    };
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [desc] }));
    writeFileSync(join(layout, 'blobs', 'sha256', D.slice(7)), built.manifest);
    const opts = { repository: 'ghcr.io/acme/app' };
    assert.equal((await resolveImage({ kind: 'oci-layout', path: `${layout}:v1` }, opts)).digest, D);
    assert.equal((await resolveImage({ kind: 'oci-layout', path: `${layout}@${D}` }, opts)).digest, D);
    assert.equal((await resolveImage({ kind: 'oci-layout', path: layout }, opts)).digest, D);
    assert.equal(await codeOf(resolveImage({ kind: 'oci-layout', path: `${layout}:v2` }, opts)), 'TARGET_INVALID');
    writeFileSync(join(layout, 'blobs', 'sha256', D.slice(7)), Buffer.concat([built.manifest, Buffer.from(' ')]));
    assert.equal(await codeOf(resolveImage({ kind: 'oci-layout', path: layout }, opts)), 'IMAGE_MISMATCH');
    assert.equal(await codeOf(resolveImage({ kind: 'oci-layout', path: join(dir, 'none') }, opts)), 'TARGET_INVALID');
  });

  it('splits local targets', () => {
    assert.deepEqual(splitLocalTarget('/a/b:v1'), { path: '/a/b', tag: 'v1' });
    assert.deepEqual(splitLocalTarget(`/a/b@${D}`), { path: '/a/b', digest: D });
    assert.deepEqual(splitLocalTarget('/a:b/c'), { path: '/a:b/c' });
  });
});

function fixChecksum(h: Buffer): Buffer {
  const b = Buffer.from(h);
  b.write('        ', 148);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return b;
}

describe('a real keyless cosign .sig signature (public-good Sigstore, independent vector)', () => {
  const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'cosign-legacy-keyless.json'), 'utf8'));
  const root = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'public-good-trusted-root.json'), 'utf8'));
  const body = JSON.parse(Buffer.from(fx.rekorBundle.Payload.body, 'base64').toString());
  const leafPem = Buffer.from(body.spec.signature.publicKey.content, 'base64').toString();
  const pem = (der: string) =>
    `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const chain = root.certificateAuthorities[1].certChain.certificates
    .map((c: { rawBytes: string }) => pem(c.rawBytes))
    .join('');
  const payload = Buffer.from(fx.payload);
  const layer = {
    mediaType: MEDIA.cosignSimpleSigning,
    digest: fx.layerDigest,
    size: payload.length,
    annotations: {
      'dev.cosignproject.cosign/signature': fx.signature,
      'dev.sigstore.cosign/certificate': leafPem,
      'dev.sigstore.cosign/chain': chain,
      'dev.sigstore.cosign/bundle': JSON.stringify(fx.rekorBundle),
    },
  };
  const signed: ResolvedImage = { ...image, repository: fx.image, digest: fx.digest };
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
  const policy = { subjectAlternativeName: fx.certificateIdentity, extensions: { issuer: fx.certificateIssuer } };

  it('converts to a bundle that @sigstore/verify accepts (certificate, SCT, Rekor promise) and binds to the image', () => {
    const bundle = bundleFromJSON(JSON.parse(legacyToBundle(layer, payload)));
    verifier.verify(toSignedEntity(bundle, payload), policy);
    const check = checkSimpleSigning(payload, signed);
    assert.equal(check.digest, fx.digest);
    assert.equal(check.repository, 'index.docker.io/salrashid123/server_image');
  });

  it('fails for another payload, another identity, or another image', async () => {
    const bundle = bundleFromJSON(JSON.parse(legacyToBundle(layer, payload)));
    const other = Buffer.from(fx.payload.replace('120ef8', '120ef9'));
    assert.throws(() =>
      verifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(legacyToBundle(layer, other))), other), policy),
    );
    assert.throws(() =>
      verifier.verify(toSignedEntity(bundle, payload), {
        ...policy,
        subjectAlternativeName: 'https://github.com/evil',
      }),
    );
    assert.equal(await codeOf(() => checkSimpleSigning(payload, { ...signed, digest: OTHER })), 'IMAGE_MISMATCH');
    assert.equal(
      await codeOf(() => checkSimpleSigning(payload, { ...signed, repository: 'docker.io/evil/server_image' })),
      'REPOSITORY_MISMATCH',
    );
  });
});
