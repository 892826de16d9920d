/**
 * A small OCI distribution-spec client (v1.1: pull, push, referrers), over the deadline-bound, capped HTTP module
 * (src/core/http.ts): its CA is per client, and one logical request (redirects, a token round, retries) shares one
 * overall deadline, so a registry that drips its answer cannot hold a verification.
 *
 * Trust model: the registry is not trusted. Everything fetched by digest is hashed and compared with that digest,
 * sizes and media types must match the descriptor that led to them, manifests are capped at 4 MiB and a blob is
 * never read when its descriptor claims more than the caller's cap. A tag is resolved by hashing the bytes served
 * for it (the Docker-Content-Digest header is only cross-checked). Failures of the service itself (429, 5xx,
 * network) are SERVICE_* errors, never "no signature": an attacker who can make the registry fail must not be able
 * to turn "could not check" into "nothing to check".
 */
import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { deadlineIn, request as httpRequest, timeoutMs } from '../../core/http.ts';
import { readCappedSync } from '../../core/read.ts';
import { VouchError } from '../../errors.ts';
import { type Credentials, dockerCredentials } from './credentials.ts';
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
import { parseDigest, registryHost } from './reference.ts';

export interface RegistryOptions {
  /** Plain HTTP for a non-loopback registry. Loopback registries may always use HTTP. */
  allowInsecure?: boolean;
  /** Extra trusted CA certificates (PEM) for HTTPS; defaults to VOUCH_REGISTRY_CA_FILE's content when set. */
  ca?: string | Buffer;
  /** Credentials; by default read from the docker configuration. `null` forces anonymous access. */
  credentials?: Credentials | null;
  /** Retries for 429/5xx and network errors (default 3) and the first back-off in ms (default 200). */
  retries?: number;
  backoffMs?: number;
  /** Overall deadline of one logical request, retries and redirects included (default: src/core/http.ts's). */
  timeoutMs?: number;
  /** Largest referrers listing read (entries); beyond it the listing is refused (default 1000). */
  maxReferrers?: number;
  env?: NodeJS.ProcessEnv;
}

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: URL;
}

interface RequestInit {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Largest body accepted; beyond it the response is abandoned with `tooLarge`. */
  maxBytes: number;
  tooLarge?: () => VouchError;
  /** Repository and actions, to obtain a bearer token for when challenged. */
  scope?: string;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 3;

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** Statistics of one client, for benchmarks and tests (how many requests, and whether layers were read). */
export interface RegistryStats {
  requests: number;
  blobBytes: number;
}

/** Parse `Bearer realm="...",service="...",scope="..."` (RFC 7235 section 4.1 auth-params). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export class RegistryClient {
  readonly registry: string;
  readonly base: URL;
  readonly stats: RegistryStats = { requests: 0, blobBytes: 0 };
  private readonly options: RegistryOptions;
  private readonly ca: string | Buffer | undefined;
  private credentials: Credentials | null | undefined;
  /** Authorization header per scope, reused until the registry challenges again. */
  private readonly tokens = new Map<string, string>();
  /**
   * Whether the registry has the referrers API, once known. A registry that has it must not answer 404 (distribution
   * spec v1.1, "Listing Referrers"), so one 404 settles it for the client's lifetime and saves a request per image.
   */
  private referrersApi: boolean | undefined;

  constructor(registry: string, options: RegistryOptions = {}) {
    this.registry = registry;
    this.options = options;
    const host = registryHost(registry);
    const plain = isLoopback(host.replace(/:[0-9]+$/, '')) || options.allowInsecure === true;
    const env = options.env ?? process.env;
    this.ca = options.ca ?? (env.VOUCH_REGISTRY_CA_FILE ? readCa(env.VOUCH_REGISTRY_CA_FILE) : undefined);
    // HTTPS unless the registry is on loopback or explicitly insecure; a loopback registry with a CA is HTTPS too.
    this.base = new URL(`${plain && this.ca === undefined ? 'http' : 'https'}://${host}/v2/`);
    this.credentials = options.credentials;
  }

  private async creds(): Promise<Credentials | null> {
    if (this.credentials === undefined) {
      this.credentials = (await dockerCredentials(this.registry, { env: this.options.env ?? process.env })) ?? null;
    }
    return this.credentials;
  }

  private once(url: URL, init: RequestInit, auth: string | undefined, deadline: number): Promise<Response> {
    this.stats.requests++;
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      return Promise.reject(new VouchError('SERVICE_ERROR', `registry redirected to ${url.protocol}`));
    }
    if (!secure && !isLoopback(url.hostname) && this.options.allowInsecure !== true) {
      return Promise.reject(new VouchError('SERVICE_ERROR', `refusing plain HTTP to ${url.host}`));
    }
    const headers: Record<string, string> = { ...init.headers };
    if (auth) headers.authorization = auth;
    return httpRequest(url, {
      method: init.method,
      headers,
      ...(init.body ? { body: init.body } : {}),
      maxBytes: init.maxBytes,
      deadline,
      ...(secure && this.ca !== undefined ? { ca: this.ca } : {}),
      what: `registry ${url.host}`,
      tooLarge: () =>
        init.tooLarge?.() ?? new VouchError('IMAGE_INVALID', `response larger than ${init.maxBytes} bytes`),
    });
  }

  /** One logical request: redirects, one authentication round, retries with exponential back-off. */
  async request(path: string | URL, init: RequestInit): Promise<Response> {
    const retries = this.options.retries ?? 3;
    let delay = this.options.backoffMs ?? 200;
    const deadline = deadlineIn(timeoutMs(this.options.timeoutMs));
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.authorised(typeof path === 'string' ? new URL(path, this.base) : path, init, deadline);
      } catch (e) {
        // A retry only while time is left: the deadline covers the whole logical request, back-offs included.
        if (
          e instanceof VouchError &&
          e.code === 'SERVICE_UNAVAILABLE' &&
          attempt < retries &&
          Date.now() + delay < deadline
        ) {
          await sleep(delay);
          delay *= 2;
          continue;
        }
        throw e;
      }
      const after = Number(res.headers['retry-after']);
      const wait = Number.isFinite(after) ? Math.min(after * 1000, 5000) : delay;
      if (RETRY_STATUS.has(res.status) && attempt < retries && Date.now() + wait < deadline) {
        await sleep(wait);
        delay *= 2;
        continue;
      }
      if (res.status === 429 || res.status === 503) {
        throw new VouchError('SERVICE_UNAVAILABLE', `registry ${this.registry} answered ${res.status}`);
      }
      if (res.status >= 500) throw new VouchError('SERVICE_ERROR', `registry ${this.registry} answered ${res.status}`);
      return res;
    }
  }

  private async authorised(url: URL, init: RequestInit, deadline: number): Promise<Response> {
    const key = init.scope ?? '';
    let res = await this.follow(url, init, this.tokens.get(key), deadline);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
    const auth = await this.authenticate(challenge, init.scope, deadline);
    if (!auth) return res;
    this.tokens.set(key, auth);
    res = await this.follow(url, init, auth, deadline);
    return res;
  }

  private async follow(url: URL, init: RequestInit, auth: string | undefined, deadline: number): Promise<Response> {
    let current = url;
    for (let i = 0; ; i++) {
      // Credentials go only to the registry itself, never to the storage host a blob redirects to.
      const res = await this.once(current, init, current.host === this.base.host ? auth : undefined, deadline);
      if (![301, 302, 303, 307, 308].includes(res.status) || i >= MAX_REDIRECTS) return res;
      const location = res.headers.location;
      if (!location) return res;
      const next = parseUrl(location, current, 'redirect location');
      if (current.protocol === 'https:' && next.protocol !== 'https:') {
        throw new VouchError('SERVICE_ERROR', 'registry redirected from HTTPS to plain HTTP');
      }
      current = next;
    }
  }

  private async authenticate(
    challenge: { scheme: string; params: Record<string, string> },
    scope: string | undefined,
    deadline: number,
  ): Promise<string | undefined> {
    const creds = await this.creds();
    if (challenge.scheme === 'basic') {
      if (!creds || !('username' in creds)) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const realm = parseUrl(challenge.params.realm, undefined, 'token realm');
    if (realm.protocol !== 'https:' && !(isLoopback(realm.hostname) || this.options.allowInsecure)) {
      throw new VouchError('SERVICE_ERROR', `token realm ${realm.host} is not HTTPS`);
    }
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    const wanted = challenge.params.scope ?? scope;
    if (wanted) realm.searchParams.set('scope', wanted);
    const headers: Record<string, string> = {};
    let init: RequestInit = { method: 'GET', headers, maxBytes: 1 << 20 };
    if (creds && 'identityToken' in creds) {
      // OAuth2 refresh-token grant, as the docker CLI does for identity tokens.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'vouch',
      });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (wanted) form.set('scope', wanted);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init = { method: 'POST', headers, body: Buffer.from(form.toString()), maxBytes: 1 << 20 };
    } else if (creds) {
      headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    const res = await this.once(realm, init, undefined, deadline);
    if (res.status === 401 || res.status === 403) {
      throw new VouchError('SERVICE_ERROR', `registry token service refused the credentials (${res.status})`, {
        hint: 'Check `docker login` for this registry.',
      });
    }
    if (res.status !== 200) throw new VouchError('SERVICE_ERROR', `registry token service answered ${res.status}`);
    let token: unknown;
    try {
      const o = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      token = o.token ?? o.access_token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '')
      throw new VouchError('SERVICE_ERROR', 'registry token response has no token');
    return `Bearer ${token}`;
  }

  private fail(res: Response, what: string): never {
    if (res.status === 401 || res.status === 403) {
      throw new VouchError('SERVICE_ERROR', `${what}: access denied (${res.status})`, {
        hint: 'Check `docker login` for this registry and the repository permissions.',
      });
    }
    throw new VouchError('SERVICE_ERROR', `${what}: registry answered ${res.status}`);
  }

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

function readCa(path: string): Buffer {
  try {
    return readCappedSync(path, { maxBytes: 1 << 20, code: 'CONFIG_INVALID', what: `registry CA file ${path}` });
  } catch (e) {
    if (e instanceof VouchError && e.code === 'CONFIG_INVALID') throw e;
    throw new VouchError('CONFIG_INVALID', `cannot read registry CA file ${path}`, { cause: e });
  }
}

/** URLs from a registry's headers are hostile input: a malformed one is the registry's error, never a crash. */
function parseUrl(value: string, base: URL | undefined, what: string): URL {
  try {
    return new URL(value, base);
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `registry sent a malformed ${what}`, { cause: e });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
