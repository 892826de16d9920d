/**
 * Where a signature lives: the bundle as a blob of an OCI artifact manifest (`artifactType` = the bundle media
 * type, `subject` = the signed manifest's descriptor), found again through the referrers API or the
 * `sha256-<hex>` tag index (cosign specs/BUNDLE_SPEC.md). In an OCI layout, the same blobs and manifest under
 * blobs/, listed in index.json.
 */
import { createHash } from 'node:crypto';
import { decodeBase64 } from '../../core/encoding.ts';
import { asObject, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { BUNDLE_BLOB_MAX } from './discover.ts';
import { addLayoutArtifact } from './local.ts';
import { type Descriptor, descriptorJson, EMPTY_DESCRIPTOR, EMPTY_JSON, MEDIA, sha256Digest } from './manifest.ts';
import { type ResolvedImage, registrySource } from './resolve.ts';

/** What a bundle holds, for the referrer manifest's annotations (cosign BUNDLE_SPEC "Annotations"). */
function bundleAnnotations(bundleJson: string): Record<string, string> {
  const b = asObject(parseStrictJson(bundleJson, { maxBytes: BUNDLE_BLOB_MAX }), 'bundle');
  const a: Record<string, string> = { 'org.opencontainers.image.created': new Date().toISOString() };
  if (b.dsseEnvelope !== undefined) {
    a['dev.sigstore.bundle.content'] = 'dsse-envelope';
    try {
      const env = asObject(b.dsseEnvelope, 'dsseEnvelope');
      const payload = asObject(parseStrictJson(decodeBase64(env.payload, 'payload').toString('utf8')), 'statement');
      if (typeof payload.predicateType === 'string') a['dev.sigstore.bundle.predicateType'] = payload.predicateType;
    } catch {
      // The annotation is a hint for listings only; the verifier reads the bundle itself.
    }
  } else if (b.messageSignature !== undefined) {
    a['dev.sigstore.bundle.content'] = 'message-signature';
  }
  return a;
}

/**
 * The artifact manifest holding a bundle as a referrer of `image` (cosign BUNDLE_SPEC): artifactType = the bundle
 * media type, the empty config, one layer = the bundle, subject = the signed manifest.
 */
function referrerManifest(
  image: ResolvedImage,
  layer: Descriptor,
  annotations: Record<string, string>,
): { bytes: Buffer; digest: string } {
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    artifactType: MEDIA.sigstoreBundle,
    config: descriptorJson(EMPTY_DESCRIPTOR),
    layers: [
      {
        ...descriptorJson(layer),
        annotations: { 'org.opencontainers.image.title': `${layer.digest.replace(':', '-')}.sigstore.json` },
      },
    ],
    subject: descriptorJson(image.descriptor),
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/**
 * Store a bundle as an OCI referrer of `image`: bundle blob, empty config, artifact manifest whose subject is the
 * image. In a registry, then (when it does not index referrers itself) the `sha256-<hex>` tag index. In an OCI
 * layout, the same blobs and manifest go under blobs/ and the manifest's descriptor into index.json (`via:
 * 'layout'`). Archives (tar files) are not rewritten: a crash or a full disk halfway through rewriting a tar in place
 * would destroy the image, so their signature stays a bundle file.
 */
export async function attachSignature(
  image: ResolvedImage,
  bundleJson: string,
): Promise<{ referrer: Descriptor; via: 'api' | 'tag' | 'layout' }> {
  const annotations = bundleAnnotations(bundleJson);
  const bundle = Buffer.from(bundleJson, 'utf8');
  const source = image.source;
  switch (source.kind) {
    case 'registry': {
      const { client, repository } = registrySource(image);
      const layer = await client.pushBlob(repository, bundle, MEDIA.sigstoreBundle);
      await client.pushBlob(repository, EMPTY_JSON, MEDIA.empty);
      const { bytes, digest } = referrerManifest(image, layer, annotations);
      const put = await client.putManifest(repository, digest, bytes, MEDIA.ociManifest);
      const referrer: Descriptor = { ...put.descriptor, artifactType: MEDIA.sigstoreBundle, annotations };
      if (put.subjectAccepted) return { referrer, via: 'api' };
      await client.addToReferrersTag(repository, image.digest, referrer);
      return { referrer, via: 'tag' };
    }
    case 'oci-layout': {
      const layer: Descriptor = { mediaType: MEDIA.sigstoreBundle, digest: sha256Digest(bundle), size: bundle.length };
      const { bytes, digest } = referrerManifest(image, layer, annotations);
      // The descriptor carries what a referrers listing would (image-spec image-index.md allows artifactType and
      // annotations on index entries), so tools that list a layout's artifacts see a signature without reading it.
      const referrer: Descriptor = {
        mediaType: MEDIA.ociManifest,
        digest,
        size: bytes.length,
        artifactType: MEDIA.sigstoreBundle,
        annotations,
      };
      await addLayoutArtifact(source.path, [bundle, EMPTY_JSON], bytes, referrer);
      return { referrer, via: 'layout' };
    }
    case 'oci-archive':
    case 'docker-archive':
      throw new VouchError('TARGET_UNSUPPORTED', `${source.kind} images are not rewritten to hold a signature`, {
        hint: 'Keep the bundle file (--bundle), or sign an oci-layout directory or the pushed image.',
      });
  }
}
