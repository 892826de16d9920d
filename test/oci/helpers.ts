/**
 * Test helpers for images: key-pair DSSE bundles made by the official sigstore-js builder and checked by the
 * official @sigstore/verify (an independent implementation of the signature side, so these tests exercise our
 * image binding rather than our own crypto), plus small images written with our registry client.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { type Descriptor, MEDIA } from '../../src/artifact/oci/manifest.ts';
import type { RegistryClient } from '../../src/artifact/oci/registry.ts';
import { trustedRootJson } from '../../src/core/trustroot.ts';
import { VouchError } from '../../src/errors.ts';
import type { ArtifactInput, VerificationResult } from '../../src/verify/types.ts';
import type { BundleVerifier } from '../../src/workflow/verify-image.ts';

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  pem: string;
}

export function testKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, pem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

/** A DSSE bundle over `statement`, signed with `key` by sigstore-js (no log, no timestamp). */
export async function signStatement(statement: unknown, key: TestKey): Promise<string> {
  const builder = new DSSEBundleBuilder({
    signer: {
      sign: async (data: Buffer) => ({
        signature: sign('sha256', data, key.privateKey),
        key: { $case: 'publicKey', publicKey: key.pem, hint: 'test' },
      }),
    },
    witnesses: [],
  });
  const bundle = await builder.create({
    data: Buffer.from(JSON.stringify(statement)),
    type: 'application/vnd.in-toto+json',
  });
  return JSON.stringify(bundleToJSON(bundle));
}

const EMPTY_ROOT = TrustedRoot.fromJSON(trustedRootJson({}));

/** @sigstore/verify with one trusted key, adapted to the verifier contract the image layer consumes. */
export function testVerifier(key: TestKey): BundleVerifier {
  const trust = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: key.publicKey, validFor: () => true }));
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  return (text: string, input: ArtifactInput): VerificationResult => {
    const bundle = bundleFromJSON(JSON.parse(text));
    try {
      verifier.verify(toSignedEntity(bundle, input.kind === 'digest' ? input.bytes : undefined));
    } catch (e) {
      throw new VouchError('SIGNATURE_INVALID', 'signature does not verify', { cause: e });
    }
    const result: VerificationResult = {
      verified: true,
      mediaType: bundle.mediaType,
      signer: { type: 'key', fingerprint: 'test' },
      tlogEntries: [],
      timestamps: [],
    };
    if (bundle.content.$case === 'dsseEnvelope') {
      const env = bundle.content.dsseEnvelope;
      result.statement = { payloadType: env.payloadType, payload: JSON.parse(env.payload.toString('utf8')) };
    }
    return result;
  };
}

/** A minimal tar with one file, as an uncompressed image layer. */
export function tarOf(files: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of files) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** An image: config + `layers` small layers, as OCI manifest bytes plus its blobs. */
export function buildImage(layers: number, seed: string): { blobs: Buffer[]; config: Buffer; manifest: Buffer } {
  const blobs = Array.from({ length: layers }, (_, i) => tarOf([[`f${i}.txt`, Buffer.from(`${seed} layer ${i}\n`)]]));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: blobs.map(sha256) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha256(config), size: config.length },
      layers: blobs.map((b) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: sha256(b),
        size: b.length,
      })),
    }),
  );
  return { blobs, config, manifest };
}

/** Push an image with our client; returns the manifest descriptor. */
export async function pushImage(
  client: RegistryClient,
  repository: string,
  tag: string,
  image: { blobs: Buffer[]; config: Buffer; manifest: Buffer },
): Promise<Descriptor> {
  for (const b of [...image.blobs, image.config]) await client.pushBlob(repository, b);
  const { descriptor } = await client.putManifest(repository, tag, image.manifest, MEDIA.ociManifest);
  assert.equal(descriptor.digest, sha256(image.manifest));
  return descriptor;
}

export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof VouchError, `expected VouchError, got ${(e as Error)?.stack ?? e}`);
    return e.code;
  }
  return undefined;
}

/** Where an OCI layout keeps a blob. */
export function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice(7));
}

/** Write a blob into an OCI layout. */
export function putLayoutBlob(dir: string, bytes: Buffer): { digest: string; size: number } {
  const digest = sha256(bytes);
  writeFileSync(blobPath(dir, digest), bytes);
  return { digest, size: bytes.length };
}

/** A one-image layout tagged v1, with a vendor field at the top of index.json and on the image's entry. */
export function makeLayout(dir: string, seed: string): { digest: string; entry: Record<string, unknown> } {
  const image = buildImage(2, seed);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  for (const b of [...image.blobs, image.config, image.manifest]) putLayoutBlob(dir, b);
  const entry = {
    mediaType: MEDIA.ociManifest,
    digest: sha256(image.manifest),
    size: image.manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': 'v1' },
    'x-vendor-entry': { kept: true },
  };
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [entry], 'x-vendor': [1, 'two'] }),
  );
  return { digest: entry.digest, entry };
}

/** `docker save` output as Docker before 25 wrote it: manifest.json, the config and one uncompressed layer tar. */
export function writeDockerArchive(path: string, seed: string, repoTag: string): void {
  const layer = tarOf([['hello.txt', Buffer.from(`hello ${seed}\n`)]]);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }),
  );
  const [cfg, lay] = [sha256(config).slice(7), sha256(layer).slice(7)];
  const manifest = [{ Config: `${cfg}.json`, RepoTags: [repoTag], Layers: [`${lay}/layer.tar`] }];
  writeFileSync(
    path,
    tarOf([
      [`${cfg}.json`, config],
      [`${lay}/layer.tar`, layer],
      ['manifest.json', Buffer.from(JSON.stringify(manifest))],
    ]),
  );
}
