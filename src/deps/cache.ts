/**
 * The on-disk cache of vouch deps: JSON records of **immutable** registry data only, keyed by what makes them
 * immutable (a registry and `name@version`, or a tarball's sha512). A published npm version's tarball, integrity,
 * signatures, attestations and publish time never change, so a warm run asks the registry nothing about a package
 * it has seen; anything that can change (registry keys, the list of versions) is never cached. Verification
 * always runs again on the cached data: the cache saves requests, it never remembers a verdict.
 *
 * Records are written whole or not at all (writeFileAtomic) and re-checked when read: a record whose key differs,
 * or that does not parse, is a miss.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';

const MAX_RECORD_BYTES = 32 << 20;

export class DepsCache {
  readonly dir: string | undefined;
  hits = 0;

  /** `dir` undefined: no cache (every run is cold). */
  constructor(dir: string | undefined) {
    this.dir = dir;
  }

  #path(ns: string, key: string): string {
    return join(this.dir!, ns, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  async get<T>(ns: string, key: string): Promise<T | undefined> {
    if (this.dir === undefined) return undefined;
    let text: string;
    try {
      const buf = await readFile(this.#path(ns, key));
      if (buf.length > MAX_RECORD_BYTES) return undefined;
      text = buf.toString('utf8');
    } catch {
      return undefined;
    }
    try {
      const rec = JSON.parse(text) as { key?: unknown; value?: T };
      if (rec.key !== key || rec.value === undefined) return undefined;
      this.hits++;
      return rec.value;
    } catch {
      return undefined;
    }
  }

  put(ns: string, key: string, value: unknown): void {
    if (this.dir === undefined) return;
    const path = this.#path(ns, key);
    try {
      mkdirSync(join(this.dir, ns), { recursive: true, mode: 0o700 });
      writeFileAtomic(path, JSON.stringify({ key, value }));
    } catch {
      // A cache that cannot be written only makes the next run cold.
    }
  }
}
