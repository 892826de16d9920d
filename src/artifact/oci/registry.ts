/**
 * A small OCI distribution-spec client (v1.1: pull, push, referrers) on the registry transport
 * (src/artifact/oci/transport.ts: deadline, cap, redirects, authentication, retries).
 *
 * Trust model: the registry is not trusted. Everything fetched by digest is hashed and compared with that digest,
 * sizes and media types must match the descriptor that led to them, manifests are capped at 4 MiB and a blob is
 * never read when its descriptor claims more than the caller's cap. A tag is resolved by hashing the bytes served
 * for it (the Docker-Content-Digest header is only cross-checked). Failures of the service itself (429, 5xx,
 * network) are SERVICE_* errors, never "no signature": an attacker who can make the registry fail must not be able
 * to turn "could not check" into "nothing to check".
 */
import { Buffer } from 'node:buffer';
import { VouchError } from '../../errors.ts';
import {
  checkContent,
  type Descriptor,
  descriptorJson,
  MANIFEST_MAX,
  MANIFEST_MEDIA_TYPES,
  type Manifest,
  MEDIA,
  parseManifest,
  sha256Digest,
} from './manifest.ts';
import { parseDigest } from './reference.ts';
import { parseUrl, RegistryTransport, type Response } from './transport.ts';

export { parseChallenge, type RegistryOptions, type RegistryStats } from './transport.ts';

export class RegistryClient extends RegistryTransport {
  /**
   * Whether the registry has the referrers API, once known. A registry that has it must not answer 404 (distribution
   * spec v1.1, "Listing Referrers"), so one 404 settles it for the client's lifetime and saves a request per image.
   */
  private referrersApi: boolean | undefined;

  /**
   * Fetch a manifest by tag or digest. By digest (or with `expected`), the bytes must hash to it and match the
   * descriptor's size and media type; by tag, the digest is computed from the bytes. Returns null on 404.
   */
  async getManifest(
    repository: string,
    reference: string,
    expected?: Descriptor,
  ): Promise<{ bytes: Buffer; digest: string; descriptor: Descriptor; manifest: Manifest } | null> {
    const byDigest = reference.includes(':');
    if (byDigest) parseDigest(reference);
    if (expected && expected.size > MANIFEST_MAX) {
      throw new VouchError('IMAGE_INVALID', `manifest descriptor claims ${expected.size} bytes (cap ${MANIFEST_MAX})`);
    }
    const res = await this.request(`${repository}/manifests/${reference}`, {
      method: 'GET',
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      maxBytes: MANIFEST_MAX,
      tooLarge: () => new VouchError('IMAGE_INVALID', `manifest ${reference} is larger than ${MANIFEST_MAX} bytes`),
      scope: `repository:${repository}:pull`,
    });
    if (res.status === 404) return null;
    if (res.status !== 200) this.fail(res, `manifest ${repository}:${reference}`);
    const what = `manifest ${repository}@${reference}`;
    const digest = byDigest ? reference : sha256Digest(res.body);
    checkContent(res.body, expected ?? digest, what);
    const header = res.headers['docker-content-digest'];
    if (
      typeof header === 'string' &&
      header.startsWith('sha256:') &&
      digest.startsWith('sha256:') &&
      header !== digest
    ) {
      throw new VouchError('IMAGE_MISMATCH', `${what}: served bytes hash to ${digest}, header says ${header}`);
    }
    const contentType = String(res.headers['content-type'] ?? '');
    const manifest = parseManifest(res.body, expected?.mediaType ?? contentType, what);
    if (expected && manifest.mediaType !== expected.mediaType) {
      throw new VouchError(
        'IMAGE_MISMATCH',
        `${what}: media type ${manifest.mediaType}, descriptor says ${expected.mediaType}`,
      );
    }
    const descriptor: Descriptor = { mediaType: manifest.mediaType, digest, size: res.body.length };
    return { bytes: res.body, digest, descriptor, manifest };
  }

  /**
   * HEAD a manifest: whether it exists and what the registry says it is. The answer is the registry's claim, not
   * checked content, so it is for existence checks and listings only; resolving a tag uses `getManifest`, which
   * hashes the bytes.
   */
  async headManifest(repository: string, reference: string): Promise<Descriptor | null> {
    if (reference.includes(':')) parseDigest(reference);
    const res = await this.request(`${repository}/manifests/${reference}`, {
      method: 'HEAD',
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      maxBytes: 0,
      scope: `repository:${repository}:pull`,
    });
    if (res.status === 404) return null;
    if (res.status !== 200) this.fail(res, `manifest ${repository}:${reference}`);
    const digest = String(res.headers['docker-content-digest'] ?? '');
    const size = Number(res.headers['content-length']);
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    try {
      parseDigest(digest);
    } catch {
      throw new VouchError('IMAGE_INVALID', `HEAD ${reference}: no valid Docker-Content-Digest`);
    }
    if (reference.includes(':') && digest !== reference) {
      throw new VouchError('IMAGE_MISMATCH', `HEAD ${reference}: registry reports ${digest}`);
    }
    if (!Number.isSafeInteger(size) || size < 0 || size > MANIFEST_MAX) {
      throw new VouchError('IMAGE_INVALID', `HEAD ${reference}: size ${size} out of range`);
    }
    return { mediaType, digest, size };
  }

  /** Fetch a blob named by a descriptor; refused without a request when the descriptor claims more than `maxBytes`. */
  async getBlob(repository: string, descriptor: Descriptor, maxBytes = 16 << 20): Promise<Buffer> {
    if (descriptor.size > maxBytes) {
      throw new VouchError(
        'IMAGE_INVALID',
        `blob ${descriptor.digest} claims ${descriptor.size} bytes (cap ${maxBytes})`,
      );
    }
    const res = await this.request(`${repository}/blobs/${descriptor.digest}`, {
      method: 'GET',
      maxBytes: descriptor.size,
      tooLarge: () => new VouchError('IMAGE_MISMATCH', `blob ${descriptor.digest} is larger than its descriptor`),
      scope: `repository:${repository}:pull`,
    });
    if (res.status === 404)
      throw new VouchError('IMAGE_INVALID', `blob ${descriptor.digest} is missing from ${repository}`);
    if (res.status !== 200) this.fail(res, `blob ${descriptor.digest}`);
    this.stats.blobBytes += res.body.length;
    checkContent(res.body, descriptor, `blob ${descriptor.digest}`);
    return res.body;
  }

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.request(`${repository}/blobs/${digest}`, {
      method: 'HEAD',
      maxBytes: 0,
      scope: `repository:${repository}:pull,push`,
    });
    return res.status === 200;
  }

  /** Upload a blob monolithically (POST then PUT, distribution spec "Pushing a blob monolithically"). */
  async pushBlob(repository: string, bytes: Buffer, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    if (await this.blobExists(repository, digest)) return descriptor;
    const scope = `repository:${repository}:pull,push`;
    const start = await this.request(`${repository}/blobs/uploads/`, { method: 'POST', maxBytes: 64 << 10, scope });
    if (start.status !== 202) this.fail(start, `start upload to ${repository}`);
    const location = start.headers.location;
    if (!location) throw new VouchError('SERVICE_ERROR', 'registry gave no upload location');
    const url = parseUrl(location, start.url, 'upload location');
    url.searchParams.set('digest', digest);
    const done = await this.request(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      maxBytes: 64 << 10,
      scope,
    });
    if (done.status !== 201) this.fail(done, `upload blob ${digest}`);
    return descriptor;
  }

  /** PUT a manifest under a tag or its digest; returns its descriptor and whether the registry saw its subject. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<{ descriptor: Descriptor; subjectAccepted: boolean }> {
    if (bytes.length > MANIFEST_MAX) throw new VouchError('IMAGE_INVALID', 'manifest to push is larger than 4 MiB');
    const digest = sha256Digest(bytes);
    const res = await this.request(`${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
      maxBytes: 64 << 10,
      scope: `repository:${repository}:pull,push`,
    });
    if (res.status !== 201) this.fail(res, `push manifest ${repository}:${reference}`);
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header !== digest) {
      throw new VouchError('SERVICE_ERROR', `registry stored the manifest as ${header}, expected ${digest}`);
    }
    // OCI-Subject in the answer means the registry maintains the referrers list itself (distribution spec v1.1).
    return {
      descriptor: { mediaType, digest, size: bytes.length },
      subjectAccepted: res.headers['oci-subject'] !== undefined,
    };
  }

  /**
   * The referrers of `digest`: the referrers API when the registry has it, else the `sha256-<hex>` tag index
   * (distribution spec v1.1, "Listing Referrers" and "Referrers Tag Schema"). Entries are filtered here by
   * `artifactType` whatever the server says it applied. A listing longer than `maxReferrers` is refused.
   */
  async listReferrers(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<{ descriptors: Descriptor[]; via: 'api' | 'tag' }> {
    const max = this.options.maxReferrers ?? 1000;
    const scope = `repository:${repository}:pull`;
    let url: URL | undefined = new URL(`${repository}/referrers/${digest}`, this.base);
    if (artifactType) url.searchParams.set('artifactType', artifactType);
    const all: Descriptor[] = [];
    let via: 'api' | 'tag' = this.referrersApi === false ? 'tag' : 'api';
    if (via === 'tag') url = undefined;
    for (let page = 0; url && page < 16; page++) {
      const res: Response = await this.request(url, {
        method: 'GET',
        headers: { accept: MEDIA.ociIndex },
        maxBytes: MANIFEST_MAX,
        tooLarge: () =>
          new VouchError('IMAGE_INVALID', `referrers listing of ${digest} is larger than ${MANIFEST_MAX} bytes`),
        scope,
      });
      if (page === 0 && (res.status === 404 || res.status === 405 || res.status === 400)) {
        via = 'tag';
        this.referrersApi = false;
        break;
      }
      if (res.status !== 200) this.fail(res, `referrers of ${digest}`);
      this.referrersApi = true;
      const index = parseManifest(res.body, MEDIA.ociIndex, `referrers of ${digest}`);
      if (index.kind !== 'index') throw new VouchError('IMAGE_INVALID', 'referrers listing is not an index');
      all.push(...index.manifests);
      if (all.length > max) throw new VouchError('IMAGE_INVALID', `more than ${max} referrers of ${digest}`);
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      url = link ? parseUrl(link[1]!, url, 'Link header') : undefined;
    }
    if (via === 'tag') {
      const tagged = await this.getManifest(repository, referrersTag(digest));
      if (tagged) {
        if (tagged.manifest.kind !== 'index') throw new VouchError('IMAGE_INVALID', 'referrers tag is not an index');
        all.push(...tagged.manifest.manifests);
        if (all.length > max) throw new VouchError('IMAGE_INVALID', `more than ${max} referrers of ${digest}`);
      }
    }
    return { descriptors: artifactType ? all.filter((d) => d.artifactType === artifactType) : all, via };
  }

  /**
   * Record `descriptor` as a referrer of `subject` in the tag index, for registries without the referrers API.
   * Read-modify-write: two concurrent signers may race, as with every client of the tag schema.
   */
  async addToReferrersTag(repository: string, subject: string, descriptor: Descriptor): Promise<void> {
    const tag = referrersTag(subject);
    const current = await this.getManifest(repository, tag);
    const manifests = current?.manifest.kind === 'index' ? current.manifest.manifests : [];
    if (manifests.some((m) => m.digest === descriptor.digest)) return;
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [...manifests, descriptor].map(descriptorJson),
    };
    await this.putManifest(repository, tag, Buffer.from(JSON.stringify(index)), MEDIA.ociIndex);
  }
}

/** The referrers tag of a digest: `<alg>-<hex>` (distribution spec v1.1, "Referrers Tag Schema"). */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`.slice(0, 128);
}
