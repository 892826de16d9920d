/**
 * The npm registry protocol as vouch deps uses it: full packuments (`Accept: application/json`; the abbreviated
 * "corgi" form drops `time`, `_npmUser` and `repository`, which npm itself fetches the full document for when it
 * verifies signatures), the keys endpoint, the attestations endpoint and tarballs. Every request carries the
 * credentials configured for that registry (and only those), is capped and deadline-bound (src/core/http.ts), and counts.
 * At most `concurrency` requests run at once; the same packument or key set is fetched once per run.
 *
 * Attestations are always fetched from the configured registry (npm/pacote does the same), whatever host the
 * packument's `dist.attestations.url` names: a mirror cannot point us elsewhere.
 */

import { type HttpResponse, request } from '../../core/http.ts';
import { VouchError } from '../../errors.ts';
import { authorizationFor, type NpmConfig } from './config.ts';
import { MAX_ATTESTATIONS_BYTES } from './provenance.ts';
import { parseRegistryKeys, type RegistryKey } from './signatures.ts';
import { MAX_TARBALL_BYTES } from './tarball.ts';

/** Full packuments of very old, very busy packages run to tens of MiB. */
export const MAX_PACKUMENT_BYTES = 128 << 20;
const MAX_KEYS_BYTES = 1 << 20;
const MAX_KEPT_PACKUMENTS = 64;

/** `@scope/name` -> `@scope%2fname`, as npm writes package names in registry paths. */
export function escapedName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export class RegistryClient {
  requests = 0;
  readonly #config: NpmConfig;
  readonly #limit: Semaphore;
  readonly #packuments = new Map<string, Promise<Record<string, unknown> | undefined>>();
  readonly #keys = new Map<string, Promise<RegistryKey[] | undefined>>();

  constructor(config: NpmConfig, concurrency: number) {
    this.#config = config;
    this.#limit = new Semaphore(concurrency);
  }

  async #get(url: string, what: string, maxBytes: number, accept?: string): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (accept) headers.accept = accept;
    const auth = authorizationFor(this.#config, url);
    if (auth) headers.authorization = auth;
    return this.#limit.run(async () => {
      this.requests++;
      return request(url, { headers, maxBytes, what });
    });
  }

  #failed(res: HttpResponse, what: string): never {
    throw new VouchError('SERVICE_ERROR', `${what} answered HTTP ${res.status}`, { details: { status: res.status } });
  }

  /** The full packument, or undefined when the registry does not have the package (404). */
  packument(registry: string, name: string): Promise<Record<string, unknown> | undefined> {
    const key = `${registry} ${name}`;
    let p = this.#packuments.get(key);
    if (!p) {
      p = (async () => {
        const what = `registry ${registry} (${name})`;
        const res = await this.#get(`${registry}${escapedName(name)}`, what, MAX_PACKUMENT_BYTES, 'application/json');
        if (res.status === 404) return undefined;
        if (res.status !== 200) this.#failed(res, what);
        let doc: unknown;
        try {
          doc = JSON.parse(res.body.toString('utf8'));
        } catch (e) {
          throw new VouchError('SERVICE_ERROR', `${what} answered a packument that is not JSON`, { cause: e });
        }
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
          throw new VouchError('SERVICE_ERROR', `${what} answered a packument that is not an object`);
        }
        return doc as Record<string, unknown>;
      })();
      this.#packuments.set(key, p);
      // Full packuments run to megabytes: keep only the most recent few (versions of one name are examined close
      // together, and each version's record is kept apart once extracted).
      if (this.#packuments.size > MAX_KEPT_PACKUMENTS) this.#packuments.delete(this.#packuments.keys().next().value!);
    }
    return p;
  }

  /**
   * The registry's signing keys; undefined when it publishes none (404 or 400, as npm treats them: mirrors and
   * private registries without signatures).
   */
  keys(registry: string): Promise<RegistryKey[] | undefined> {
    let p = this.#keys.get(registry);
    if (!p) {
      p = (async () => {
        const what = `registry ${registry} (keys)`;
        const res = await this.#get(`${registry}-/npm/v1/keys`, what, MAX_KEYS_BYTES);
        if (res.status === 404 || res.status === 400) return undefined;
        if (res.status !== 200) this.#failed(res, what);
        let doc: unknown;
        try {
          doc = JSON.parse(res.body.toString('utf8'));
        } catch (e) {
          throw new VouchError('SERVICE_ERROR', `${what} answered something that is not JSON`, { cause: e });
        }
        const keys = parseRegistryKeys(doc, registry);
        return keys.length === 0 ? undefined : keys;
      })();
      this.#keys.set(registry, p);
    }
    return p;
  }

  /** The attestations document's text, or undefined when the registry serves none for this version (404). */
  async attestations(registry: string, name: string, version: string): Promise<string | undefined> {
    const what = `registry ${registry} (attestations of ${name}@${version})`;
    const url = `${registry}-/npm/v1/attestations/${escapedName(name)}@${encodeURIComponent(version)}`;
    const res = await this.#get(url, what, MAX_ATTESTATIONS_BYTES);
    if (res.status === 404) return undefined;
    if (res.status !== 200) this.#failed(res, what);
    return res.body.toString('utf8');
  }

  /** A tarball's bytes (capped). */
  async tarball(url: string, name: string): Promise<Buffer> {
    const what = `tarball of ${name} (${new URL(url).host})`;
    const res = await this.#get(url, what, MAX_TARBALL_BYTES);
    if (res.status !== 200) this.#failed(res, what);
    return res.body;
  }
}
