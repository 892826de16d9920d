/**
 * Signing and verifying container images, compatible with cosign v3 ("new bundle format"):
 *
 * - What is signed: an in-toto Statement v1 whose one subject is the image manifest digest, predicate type
 *   `https://sigstore.dev/cosign/sign/v1` and an empty predicate, as cosign writes it. vouch also sets the
 *   subject's `name` to the canonical repository (in-toto ResourceDescriptor.name), so the signature says where the
 *   image was meant to live; cosign ignores the field, so its verifier accepts our bundles.
 * - Where it lives: the bundle is a blob of an OCI artifact manifest (`artifactType` = the bundle media type,
 *   `subject` = the signed manifest's descriptor), found through the referrers API or the `sha256-<hex>` tag index
 *   (cosign specs/BUNDLE_SPEC.md).
 * - Legacy cosign signatures (`sha256-<hex>.sig` tags with simple-signing payloads) are read and converted to a
 *   message-signature bundle over the payload bytes; `checkSimpleSigning` then binds the payload to the image.
 *
 * The digest is the only identity of an image: a tag is resolved once, by hashing what the registry serves, and
 * everything afterwards (signature lookup, statement checks) uses that digest.
 */
import { createHash } from 'node:crypto';
import { decodeBase64, pemCertificates } from '../../core/encoding.ts';
import { IN_TOTO_STATEMENT_V1, type InTotoStatement, isInTotoStatementType } from '../../core/intoto.ts';
import { asArray, asInt, asObject, asString, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import type { ArtifactInput, VerificationResult } from '../../verify/types.ts';
import type { Target } from '../target.ts';
import { addLayoutArtifact, readDockerArchive, readOciArchive, readOciLayout } from './local.ts';
import {
  checkContent,
  type Descriptor,
  descriptorJson,
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  MANIFEST_MAX,
  type Manifest,
  MEDIA,
  type Platform,
  parseManifest,
  sha256Digest,
} from './manifest.ts';
import { type ImageReference, parseReference, sameRepository } from './reference.ts';
import { RegistryClient, type RegistryOptions, referrersTag } from './registry.ts';

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** A bundle stored in the registry is refused above this size (a real one is a few KiB). */
export const BUNDLE_BLOB_MAX = 1 << 20;
/** A referrer (artifact) manifest is refused above this size before it is fetched. */
export const REFERRER_MANIFEST_MAX = 64 << 10;

export type ImageSource =
  | { kind: 'registry'; reference: ImageReference; client: RegistryClient }
  | {
      kind: 'oci-layout' | 'oci-archive' | 'docker-archive';
      path: string;
      /** Reads a blob of the local image by descriptor, digest- and size-checked (platform manifests of an index). */
      readBlob: (d: Descriptor, max: number) => Promise<Buffer>;
      /** The layout's index.json entries (where signatures stored in the layout are listed), if it has one. */
      index?: Descriptor[];
    };

/**
 * An image pinned to one manifest digest. `repository` is the canonical name (registry/path) the signature is
 * bound to; for local images it comes from the caller or, for a docker-archive, from its RepoTags.
 */
export interface ResolvedImage {
  repository: string;
  digest: string;
  descriptor: Descriptor;
  manifest: Manifest;
  /** The exact manifest bytes, already checked against `digest`. */
  bytes: Buffer;
  source: ImageSource;
}

export interface ResolveOptions {
  /** Repository a local image is signed/verified for (e.g. where it will be pushed). */
  repository?: string;
  registry?: RegistryOptions;
  /** Reuse a client (one connection pool and token cache for several images of one registry). */
  client?: RegistryClient;
}

const clients = new WeakMap<RegistryOptions, Map<string, RegistryClient>>();
const DEFAULT_OPTIONS: RegistryOptions = {};

function clientFor(registry: string, options: RegistryOptions = DEFAULT_OPTIONS): RegistryClient {
  let m = clients.get(options);
  if (!m) {
    m = new Map();
    clients.set(options, m);
  }
  let c = m.get(registry);
  if (!c) {
    c = new RegistryClient(registry, options);
    m.set(registry, c);
  }
  return c;
}

/** Pin a target (oci:REF, oci-layout:, oci-archive:, docker-archive:) to a manifest digest. */
export async function resolveImage(target: Target, options: ResolveOptions = {}): Promise<ResolvedImage> {
  switch (target.kind) {
    case 'oci': {
      const reference = parseReference(target.reference);
      const client = options.client ?? clientFor(reference.registry, options.registry);
      // With both a tag and a digest the digest wins, as in docker: the tag is a label, not a constraint.
      const ref = reference.digest ?? reference.tag ?? 'latest';
      const got = await client.getManifest(reference.repository, ref);
      if (!got)
        throw new VouchError('TARGET_INVALID', `image ${target.reference} not found`, {
          hint: 'Check the name and tag.',
        });
      return {
        repository: reference.name,
        digest: got.digest,
        descriptor: got.descriptor,
        manifest: got.manifest,
        bytes: got.bytes,
        source: { kind: 'registry', reference: { ...reference, digest: got.digest }, client },
      };
    }
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive': {
      const local =
        target.kind === 'oci-layout'
          ? await readOciLayout(target.path)
          : target.kind === 'oci-archive'
            ? await readOciArchive(target.path)
            : await readDockerArchive(target.path);
      const repo = options.repository ?? local.recordedRepository;
      if (!repo) {
        throw new VouchError('USAGE', `${target.kind} images need the repository they are signed for`, {
          hint: 'Pass --repository REGISTRY/NAME (where the image is or will be pushed).',
        });
      }
      const r = parseReference(repo);
      return {
        repository: r.name,
        digest: local.digest,
        descriptor: local.descriptor,
        manifest: local.manifest,
        bytes: local.bytes,
        source: {
          kind: target.kind,
          path: target.path,
          readBlob: local.readBlob,
          ...(local.index ? { index: local.index } : {}),
        },
      };
    }
    case 'file':
    case 'stdin':
    case 'digest':
    case 'dir':
      throw new VouchError('TARGET_UNSUPPORTED', `${target.kind} is not an image target`);
  }
}

function registrySource(image: ResolvedImage): { client: RegistryClient; repository: string } {
  if (image.source.kind !== 'registry') {
    throw new VouchError('TARGET_UNSUPPORTED', `${image.source.kind} images carry no attached signatures`, {
      hint: 'Verify a local image with --bundle FILE, or verify the pushed image.',
    });
  }
  return { client: image.source.client, repository: image.source.reference.repository };
}

/** The platform manifests an index lists, resolved (and digest-checked) through the same registry. */
export async function platformManifests(image: ResolvedImage): Promise<(ResolvedImage & { platform?: Platform })[]> {
  if (image.manifest.kind !== 'index') return [];
  const source = image.source;
  const out: (ResolvedImage & { platform?: Platform })[] = [];
  for (const d of image.manifest.manifests) {
    if (d.mediaType !== MEDIA.ociManifest && d.mediaType !== MEDIA.dockerManifest) continue;
    let child: ResolvedImage & { platform?: Platform };
    if (source.kind === 'registry') {
      const got = await source.client.getManifest(source.reference.repository, d.digest, d);
      if (!got) throw new VouchError('IMAGE_INVALID', `index lists ${d.digest}, which the registry does not have`);
      child = {
        repository: image.repository,
        digest: got.digest,
        descriptor: got.descriptor,
        manifest: got.manifest,
        bytes: got.bytes,
        source: { ...source, reference: { ...source.reference, digest: got.digest } },
      };
    } else {
      const bytes = await source.readBlob(d, MANIFEST_MAX);
      const manifest = parseManifest(bytes, d.mediaType, `manifest ${d.digest}`);
      if (manifest.mediaType !== d.mediaType) {
        throw new VouchError('IMAGE_MISMATCH', `manifest ${d.digest}: media type differs from its descriptor`);
      }
      child = {
        repository: image.repository,
        digest: d.digest,
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
        manifest,
        bytes,
        source,
      };
    }
    if (d.platform) child.platform = d.platform;
    out.push(child);
  }
  return out;
}

/**
 * The platform manifest of an index for `os/arch[/variant]` (e.g. linux/arm64/v8), resolved and digest-checked.
 * To verify it, pass the index as `viaIndex`: a signature on the index covers the manifests it lists.
 */
export async function selectPlatform(index: ResolvedImage, platform: string): Promise<ResolvedImage> {
  const [os, architecture, variant, extra] = platform.split('/');
  if (!os || !architecture || extra !== undefined) {
    throw new VouchError('USAGE', `platform "${platform.slice(0, 40)}" is not os/arch[/variant]`);
  }
  if (index.manifest.kind !== 'index')
    throw new VouchError('USAGE', 'the image is not an index: --platform does not apply');
  const matches = (await platformManifests(index)).filter(
    (m) =>
      m.platform?.os === os &&
      m.platform.architecture === architecture &&
      (variant === undefined || m.platform.variant === variant),
  );
  if (matches.length !== 1) {
    throw new VouchError('TARGET_INVALID', `the index lists ${matches.length} manifests for ${platform}`);
  }
  return matches[0]!;
}

/** The images `sign` must sign: the image itself, and with `recursive` every platform manifest of an index. */
export async function imagesToSign(
  image: ResolvedImage,
  options: { recursive?: boolean } = {},
): Promise<ResolvedImage[]> {
  return options.recursive && image.manifest.kind === 'index' ? [image, ...(await platformManifests(image))] : [image];
}

/** The in-toto statement signed for an image (cosign v3 shape, plus the repository as the subject's name). */
export function buildImageStatement(image: Pick<ResolvedImage, 'repository' | 'digest'>): InTotoStatement {
  const [algorithm, hex] = image.digest.split(':') as [string, string];
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: image.repository, digest: { [algorithm]: hex } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  };
}

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

/** A signature found for an image, ready for the verifier. */
export type FoundSignature =
  | { format: 'bundle'; bundle: string; referrer: string }
  | {
      /** A cosign `.sig` signature converted to a message-signature bundle over `payload`. */
      format: 'cosign-legacy';
      bundle: string;
      payload: Buffer;
      referrer: string;
      /** Set when the layer could not be converted: the candidate fails with this error when verified. */
      error?: VouchError;
    };

export interface FindOptions {
  /** At most this many signatures are fetched (default 32); more is refused rather than silently truncated. */
  maxSignatures?: number;
  /** Also read legacy `sha256-<hex>.sig` signatures (default true). */
  legacy?: boolean;
}

/**
 * Every signature attached to the image. Each referrer manifest is fetched by its digest, must name this image as
 * its subject (a referrer whose subject is another digest is a hostile listing: IMAGE_MISMATCH), and its bundle
 * blob is size-capped and digest-checked. Service failures propagate as SERVICE_*; an empty result means the
 * registry answered and holds no signature.
 */
export async function findSignatures(image: ResolvedImage, options: FindOptions = {}): Promise<FoundSignature[]> {
  const max = options.maxSignatures ?? 32;
  if (image.source.kind !== 'registry' && image.source.index) {
    return findLayoutSignatures(image, image.source.index, image.source.readBlob, max);
  }
  const { client, repository } = registrySource(image);
  const { descriptors } = await client.listReferrers(repository, image.digest, MEDIA.sigstoreBundle);
  if (descriptors.length > max) {
    throw new VouchError('IMAGE_INVALID', `${descriptors.length} signature referrers (at most ${max} are read)`, {
      hint: 'Someone attached an unusual number of signatures to this image; inspect its referrers.',
    });
  }
  const found: FoundSignature[] = [];
  for (const d of descriptors) {
    if (d.mediaType !== MEDIA.ociManifest) continue;
    // An artifact manifest is a few hundred bytes; 32 listed 4 MiB "manifests" would be 128 MiB read for nothing.
    if (d.size > REFERRER_MANIFEST_MAX) {
      throw new VouchError(
        'IMAGE_INVALID',
        `referrer ${d.digest} claims ${d.size} bytes (cap ${REFERRER_MANIFEST_MAX})`,
      );
    }
    const got = await client.getManifest(repository, d.digest, { ...d, annotations: undefined } as Descriptor);
    if (!got) continue; // listed but deleted since: not a signature
    const m = got.manifest;
    if (m.kind !== 'image') throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} is not an image manifest`);
    if (!m.subject || m.subject.digest !== image.digest) {
      throw new VouchError(
        'IMAGE_MISMATCH',
        `referrer ${d.digest} has subject ${m.subject?.digest ?? 'none'}, not ${image.digest}`,
      );
    }
    if (m.artifactType !== MEDIA.sigstoreBundle) continue;
    const layer = m.layers.find((l) => l.mediaType === MEDIA.sigstoreBundle);
    if (!layer) throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} has no bundle layer`);
    const blob = await client.getBlob(repository, layer, BUNDLE_BLOB_MAX);
    found.push({ format: 'bundle', bundle: blob.toString('utf8'), referrer: d.digest });
  }
  if (options.legacy !== false)
    found.push(...(await findLegacySignatures(image, client, repository, max - found.length)));
  return found;
}

/** Most signature entries a layout's index.json may list (as for a registry's referrers listing). */
const LAYOUT_REFERRERS_MAX = 1000;

/**
 * Signatures stored in an OCI layout (or an archive of one): the index.json entries that say they are bundle
 * artifacts, each manifest read by its digest (size-capped before reading, hashed, size and media type checked),
 * kept when the manifest itself is a bundle artifact whose subject is this image. Unlike a registry's referrers
 * listing, index.json lists the referrers of every image in the layout (an index and its platform manifests signed
 * with --recursive), so a referrer of another digest is skipped, not refused.
 */
async function findLayoutSignatures(
  image: ResolvedImage,
  index: Descriptor[],
  readBlob: (d: Descriptor, max: number) => Promise<Buffer>,
  max: number,
): Promise<FoundSignature[]> {
  const candidates = index.filter((d) => d.artifactType === MEDIA.sigstoreBundle);
  if (candidates.length > LAYOUT_REFERRERS_MAX) {
    throw new VouchError(
      'IMAGE_INVALID',
      `index.json lists ${candidates.length} signatures (cap ${LAYOUT_REFERRERS_MAX})`,
    );
  }
  const found: FoundSignature[] = [];
  for (const d of candidates) {
    if (d.mediaType !== MEDIA.ociManifest) continue;
    if (d.size > REFERRER_MANIFEST_MAX) {
      throw new VouchError(
        'IMAGE_INVALID',
        `referrer ${d.digest} claims ${d.size} bytes (cap ${REFERRER_MANIFEST_MAX})`,
      );
    }
    const bytes = await readBlob(d, REFERRER_MANIFEST_MAX);
    const m = parseManifest(bytes, d.mediaType, `referrer ${d.digest}`);
    if (m.kind !== 'image' || m.mediaType !== d.mediaType) {
      throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} is not an image manifest`);
    }
    if (m.artifactType !== MEDIA.sigstoreBundle || m.subject?.digest !== image.digest) continue;
    if (found.length >= max) {
      throw new VouchError('IMAGE_INVALID', `more than ${max} signatures for ${image.digest} in the layout`);
    }
    const layer = m.layers.find((l) => l.mediaType === MEDIA.sigstoreBundle);
    if (!layer) throw new VouchError('IMAGE_INVALID', `referrer ${d.digest} has no bundle layer`);
    const blob = await readBlob(layer, BUNDLE_BLOB_MAX);
    found.push({ format: 'bundle', bundle: blob.toString('utf8'), referrer: d.digest });
  }
  return found;
}

const LEGACY = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

async function findLegacySignatures(
  image: ResolvedImage,
  client: RegistryClient,
  repository: string,
  max: number,
): Promise<FoundSignature[]> {
  const got = await client.getManifest(repository, `${referrersTag(image.digest)}.sig`);
  if (!got) return [];
  if (got.manifest.kind !== 'image') throw new VouchError('IMAGE_INVALID', 'cosign .sig tag is not an image manifest');
  const layers = got.manifest.layers.filter((l) => l.mediaType === MEDIA.cosignSimpleSigning);
  if (layers.length > max) throw new VouchError('IMAGE_INVALID', `${layers.length} legacy signatures (at most ${max})`);
  const out: FoundSignature[] = [];
  for (const layer of layers) {
    const payload = await client.getBlob(repository, layer, 64 << 10);
    try {
      out.push({ format: 'cosign-legacy', bundle: legacyToBundle(layer, payload), payload, referrer: got.digest });
    } catch (e) {
      // One malformed legacy layer must not hide the other signatures: it is a candidate that fails.
      if (!(e instanceof VouchError)) throw e;
      out.push({ format: 'cosign-legacy', bundle: '', payload, referrer: got.digest, error: e });
    }
  }
  return out;
}

/**
 * Convert one legacy cosign signature layer into a Sigstore bundle (protobuf-specs JSON):
 * signature -> messageSignature over SHA-256(payload); certificate (+chain) -> x509CertificateChain, or
 * publicKey hint when key-signed; the Rekor "bundle" annotation (SET + body) -> a tlog entry with an
 * inclusion promise (media type v0.1, the only bundle version without an inclusion proof); an RFC 3161 annotation
 * -> timestampVerificationData. The payload itself is checked by `checkSimpleSigning`.
 */
export function legacyToBundle(layer: Descriptor, payload: Buffer): string {
  const a = layer.annotations ?? {};
  const sig = a[LEGACY.signature];
  const cert = a[LEGACY.certificate];
  const chain = a[LEGACY.chain];
  const rekorBundle = a[LEGACY.bundle];
  const rfc3161 = a[LEGACY.rfc3161];
  if (!sig) throw new VouchError('BUNDLE_MALFORMED', 'legacy signature layer has no signature annotation');
  decodeBase64(sig, 'legacy signature');
  const material: Record<string, unknown> = {};
  if (cert) {
    const certs = [...pemCertificates(cert, 'certificate'), ...(chain ? pemCertificates(chain, 'chain') : [])];
    material.x509CertificateChain = { certificates: certs.map((c) => ({ rawBytes: c.toString('base64') })) };
  } else {
    material.publicKey = { hint: '' };
  }
  const mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
  material.tlogEntries = [];
  if (rekorBundle) {
    const rb = asObject(parseStrictJson(rekorBundle, { maxBytes: 1 << 20, what: 'rekor bundle' }), 'rekor bundle');
    const p = asObject(rb.Payload, 'rekor bundle Payload');
    const body = asString(p.body, 'Payload.body');
    const bodyJson = asObject(parseStrictJson(decodeBase64(body, 'Payload.body').toString('utf8')), 'entry body');
    const logId = asString(p.logID, 'Payload.logID');
    if (!/^[0-9a-f]{64}$/.test(logId)) throw new VouchError('BUNDLE_MALFORMED', 'Payload.logID is not a hex key id');
    material.tlogEntries = [
      {
        logIndex: asInt(p.logIndex, 'Payload.logIndex').toString(),
        logId: { keyId: Buffer.from(logId, 'hex').toString('base64') },
        kindVersion: { kind: asString(bodyJson.kind, 'kind'), version: asString(bodyJson.apiVersion, 'apiVersion') },
        integratedTime: asInt(p.integratedTime, 'Payload.integratedTime').toString(),
        inclusionPromise: { signedEntryTimestamp: asString(rb.SignedEntryTimestamp, 'SignedEntryTimestamp') },
        canonicalizedBody: body,
      },
    ];
  }
  if (rfc3161) {
    const ts = asObject(parseStrictJson(rfc3161, { maxBytes: 1 << 20 }), 'rfc3161 annotation');
    material.timestampVerificationData = {
      rfc3161Timestamps: [{ signedTimestamp: asString(ts.SignedRFC3161Timestamp, 'SignedRFC3161Timestamp') }],
    };
  }
  const digest = createHash('sha256').update(payload).digest('base64');
  return JSON.stringify({
    mediaType,
    verificationMaterial: material,
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest }, signature: sig },
  });
}

export interface ImageCheckOptions {
  /**
   * Repositories besides the image's own whose signatures are accepted for the same digest (canonical names), or
   * 'any'. Default: only the image's repository. A signature whose statement names no repository (cosign's own
   * bundles) binds only the digest, and is accepted only with 'any'.
   */
  allowRepositories?: string[] | 'any';
  /** The predicate type required (default cosign's image-signature type). */
  predicateType?: string;
  /**
   * Verify a platform manifest through a signed index: the statement may name the index digest when this
   * (already resolved) index lists the image's digest.
   */
  viaIndex?: ResolvedImage;
}

export interface ImageCheckResult {
  repository: string | null;
  digest: string;
  /** Set when the signature covered the index that lists this image. */
  viaIndex?: string;
}

function checkRepository(named: string | null, image: ResolvedImage, options: ImageCheckOptions): void {
  const allow = options.allowRepositories;
  if (allow === 'any') return;
  if (named === null) {
    throw new VouchError('REPOSITORY_MISMATCH', 'the signature names no repository; it binds only the digest', {
      hint: 'Digest-only signatures (cosign) are accepted only with allowRepositories: "any" (CLI: --unsafe-allow-any-repository).',
    });
  }
  if (sameRepository(named, image.repository)) return;
  if (allow?.some((r) => sameRepository(r, named))) return;
  throw new VouchError('REPOSITORY_MISMATCH', `signed for ${named}, not ${image.repository}`);
}

/** The digest the signature must cover: the image's, or the listing index's with `viaIndex`. */
function expectedDigests(image: ResolvedImage, options: ImageCheckOptions): { digest: string; via?: string } {
  const via = options.viaIndex;
  if (!via) return { digest: image.digest };
  if (via.manifest.kind !== 'index') throw new VouchError('IMAGE_INVALID', 'viaIndex is not an index');
  if (!via.manifest.manifests.some((d) => d.digest === image.digest)) {
    throw new VouchError('IMAGE_MISMATCH', `index ${via.digest} does not list ${image.digest}`);
  }
  if (!sameRepository(via.repository, image.repository)) {
    throw new VouchError('REPOSITORY_MISMATCH', 'the index and the image are in different repositories');
  }
  return { digest: via.digest, via: via.digest };
}

/**
 * Check a verified in-toto statement against the image: type, predicate type, exactly one subject, its digest equal
 * to the image's (or the listing index's), and the repository binding. The statement must come from
 * `verify(...).statement.payload`; this function does not check signatures.
 */
export function checkImageStatement(
  statement: unknown,
  image: ResolvedImage,
  options: ImageCheckOptions = {},
): ImageCheckResult {
  const s = asObject(statement, 'statement', 'DSSE_INVALID');
  const type = asString(s._type, 'statement._type', 'DSSE_INVALID');
  if (!isInTotoStatementType(type)) {
    throw new VouchError('DSSE_INVALID', `statement type ${type.slice(0, 80)} is not in-toto`);
  }
  const predicateType = asString(s.predicateType, 'statement.predicateType', 'DSSE_INVALID');
  if (predicateType !== (options.predicateType ?? COSIGN_SIGN_PREDICATE)) {
    throw new VouchError('IMAGE_MISMATCH', `predicate type ${predicateType.slice(0, 80)} is not an image signature`);
  }
  const subjects = asArray(s.subject, 'statement.subject', 'DSSE_INVALID');
  // One subject: a statement listing several images would let a signature for one vouch for another.
  if (subjects.length !== 1)
    throw new VouchError('IMAGE_MISMATCH', `statement has ${subjects.length} subjects, expected 1`);
  const subject = asObject(subjects[0], 'statement.subject[0]', 'DSSE_INVALID');
  const digests = asObject(subject.digest, 'subject.digest', 'DSSE_INVALID');
  const { digest, via } = expectedDigests(image, options);
  const [algorithm, hex] = digest.split(':') as [string, string];
  if (digests[algorithm] !== hex) {
    throw new VouchError('IMAGE_MISMATCH', `the signature covers another image, not ${digest}`);
  }
  const name = subject.name === undefined ? null : asString(subject.name, 'subject.name', 'DSSE_INVALID');
  checkRepository(name, image, options);
  const result: ImageCheckResult = { repository: name, digest: image.digest };
  if (via) result.viaIndex = via;
  return result;
}

/**
 * Check a verified legacy simple-signing payload against the image (cosign's "critical" section): type, the
 * manifest digest and the docker-reference repository.
 */
export function checkSimpleSigning(
  payload: Buffer,
  image: ResolvedImage,
  options: ImageCheckOptions = {},
): ImageCheckResult {
  const p = asObject(
    parseStrictJson(payload.toString('utf8'), { maxBytes: 64 << 10, what: 'simple-signing payload' }),
    'payload',
  );
  const critical = asObject(p.critical, 'critical');
  if (critical.type !== SIMPLE_SIGNING_TYPE)
    throw new VouchError('IMAGE_MISMATCH', 'payload is not a cosign image signature');
  const signed = asString(
    asObject(critical.image, 'critical.image')['docker-manifest-digest'],
    'docker-manifest-digest',
  );
  const { digest, via } = expectedDigests(image, options);
  if (signed !== digest)
    throw new VouchError('IMAGE_MISMATCH', `the signature covers ${signed.slice(0, 80)}, not ${digest}`);
  const ref = asString(asObject(critical.identity, 'critical.identity')['docker-reference'], 'docker-reference');
  checkRepository(stripTagDigest(ref), image, options);
  const result: ImageCheckResult = { repository: ref, digest: image.digest };
  if (via) result.viaIndex = via;
  return result;
}

/** The repository of a docker-reference (cosign may write a tag or digest after it); unparsable stays as is. */
function stripTagDigest(ref: string): string {
  try {
    return parseReference(ref).name;
  } catch {
    return ref;
  }
}

/**
 * The verify layer with policy and trust bound: bundle text + artifact input -> result, or a thrown VouchError.
 * For `src/verify`: `(text, input) => verify(text, input, policy, trust)`. The text is passed as fetched, so the
 * verifier's own strict parser and size cap apply to it.
 */
export type BundleVerifier = (bundle: string, input: ArtifactInput) => Promise<VerificationResult> | VerificationResult;

export interface ImageVerification {
  result: VerificationResult;
  check: ImageCheckResult;
  signature: FoundSignature;
}

/**
 * Verify the image's signatures with `verifier` (the verify layer, with policy and trust bound) and bind each to
 * the image. Returns the first that passes both; when none does, the last failure is raised (never
 * SIGNATURE_NOT_FOUND when signatures were there: a bad signature must not read as a missing one).
 */
export async function verifyImageSignatures(
  image: ResolvedImage,
  signatures: FoundSignature[],
  verifier: BundleVerifier,
  options: ImageCheckOptions = {},
): Promise<ImageVerification> {
  if (signatures.length === 0) {
    throw new VouchError('SIGNATURE_NOT_FOUND', `no signature for ${image.repository}@${image.digest}`);
  }
  let lastError: unknown;
  for (const sig of signatures) {
    try {
      if (sig.format === 'bundle') {
        const result = await verifier(sig.bundle, { kind: 'statement' });
        if (!result.statement) throw new VouchError('IMAGE_MISMATCH', 'an image signature must be a DSSE statement');
        return { result, check: checkImageStatement(result.statement.payload, image, options), signature: sig };
      }
      if (sig.error) throw sig.error;
      const digest = createHash('sha256').update(sig.payload).digest();
      const result = await verifier(sig.bundle, { kind: 'digest', algorithm: 'sha256', digest, bytes: sig.payload });
      return { result, check: checkSimpleSigning(sig.payload, image, options), signature: sig };
    } catch (e) {
      if (!(e instanceof VouchError)) throw e;
      lastError = e;
    }
  }
  throw lastError;
}

/**
 * Find and verify the signatures of a registry image. With `viaIndex`, the image's own signatures are tried first,
 * then the index's (checked to list this image); the first that verifies and binds wins.
 */
export async function verifyImage(
  image: ResolvedImage,
  verifier: BundleVerifier,
  options: ImageCheckOptions & FindOptions = {},
): Promise<ImageVerification> {
  const { viaIndex, ...rest } = options;
  const own = await findSignatures(image, rest);
  if (!viaIndex) return verifyImageSignatures(image, own, verifier, rest);
  let ownError: unknown;
  if (own.length > 0) {
    try {
      return await verifyImageSignatures(image, own, verifier, rest);
    } catch (e) {
      ownError = e;
    }
  }
  try {
    return await verifyImageSignatures(image, await findSignatures(viaIndex, rest), verifier, options);
  } catch (e) {
    // A failing signature of the image itself says more than "the index has none".
    throw ownError ?? e;
  }
}

/** Verify that `bytes` are the manifest `image` was pinned to (used by callers that re-read an image). */
export function checkManifestBytes(bytes: Buffer, image: ResolvedImage): void {
  if (bytes.length > MANIFEST_MAX) throw new VouchError('IMAGE_INVALID', 'manifest too large');
  checkContent(bytes, image.descriptor, 'manifest');
}
