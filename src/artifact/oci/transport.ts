/**
 * The transport of the registry client (src/artifact/oci/registry.ts): one logical request to a registry, with its
 * redirects, its authentication round (RFC 7235 challenges: Bearer token service or Basic) and its retries, over the
 * deadline-bound, capped HTTP module (src/core/http.ts). The registry's extra CA is per client, and one logical
 * request shares one overall deadline, so a registry that drips its answer cannot hold a verification. Failures of
 * the service itself (429, 5xx, network) are SERVICE_* errors, never an answer.
 */
import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { deadlineIn, request as httpRequest, timeoutMs } from '../../core/http.ts';
import { readCappedSync } from '../../core/read.ts';
import { VouchError } from '../../errors.ts';
import { type Credentials, dockerCredentials } from './credentials.ts';
import { registryHost } from './reference.ts';

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

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: URL;
}

export interface RequestInit {
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

/** Requests to one registry; RegistryClient adds what is requested (manifests, blobs, referrers). */
export class RegistryTransport {
  readonly registry: string;
  readonly base: URL;
  readonly stats: RegistryStats = { requests: 0, blobBytes: 0 };
  protected readonly options: RegistryOptions;
  private readonly ca: string | Buffer | undefined;
  private credentials: Credentials | null | undefined;
  /** Authorization header per scope, reused until the registry challenges again. */
  private readonly tokens = new Map<string, string>();

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

  protected fail(res: Response, what: string): never {
    if (res.status === 401 || res.status === 403) {
      throw new VouchError('SERVICE_ERROR', `${what}: access denied (${res.status})`, {
        hint: 'Check `docker login` for this registry and the repository permissions.',
      });
    }
    throw new VouchError('SERVICE_ERROR', `${what}: registry answered ${res.status}`);
  }
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
export function parseUrl(value: string, base: URL | undefined, what: string): URL {
  try {
    return new URL(value, base);
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `registry sent a malformed ${what}`, { cause: e });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
