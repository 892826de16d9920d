/**
 * The incremental signing cache: the digests of an earlier walk, reused for files whose size, mtime, ctime and
 * inode are unchanged. It lives outside the tree (`$VOUCH_HOME/cache/dir/<hash of the real root path>.json`), so
 * it is never signed or shipped, and only the signer's own machine trusts it: verification never uses a cache.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../core/atomic.ts';
import { parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { type CachedFile, type HashedFiles, hashedPath } from './pool.ts';
import { FileStatus, PeMark, STAMPS } from './status.ts';

export interface IncrementalOptions {
  path?: string;
  vouchHome?: string;
  /**
   * Files whose mtime or ctime falls within this many ms before the previous cache write are re-hashed: a change
   * made within the file system's timestamp granularity of the last hash leaves no trace in the timestamps
   * (git's "racily clean" entries). Default 2000 (FAT's granularity); tests lower it.
   */
  racyWindowMs?: number;
}

interface CacheFile {
  /** 2: with the PE check's mark (an older cache is not used: its files are hashed and checked again). */
  version: 2;
  writtenAtMs: number;
  /** path -> [size, mtimeMs, ctimeMs, ino, sha256 hex, PeMark] */
  files: Record<string, [number, number, number, number, string, number]>;
}

/** Where the incremental cache of `root` lives, outside the tree so it is never signed or shipped. */
export function cachePathFor(rootAbs: string, options: { path?: string; vouchHome?: string }): string {
  if (options.path) return options.path;
  const home = options.vouchHome ?? process.env.VOUCH_HOME ?? join(homedir(), '.vouch');
  let real = rootAbs;
  try {
    real = realpathSync(rootAbs);
  } catch {}
  const key = createHash('sha256').update(real).digest('hex').slice(0, 32);
  return join(home, 'cache', 'dir', `${key}.json`);
}

/** An earlier walk's digests, looked up by path as the walk publishes files. */
export interface LoadedCache {
  path: string;
  lookup(path: string): CachedFile | undefined;
  cutoffMs: number;
}

const HEX = /^[0-9a-f]{64}$/;

export function loadCache(rootAbs: string, options: IncrementalOptions): LoadedCache {
  const path = cachePathFor(rootAbs, options);
  const inside = relative(resolve(rootAbs), resolve(path));
  if (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) {
    // A cache inside the tree would be signed, and would change the tree it describes on every run.
    throw new VouchError('USAGE', `the incremental cache ${path} must be outside the signed directory`);
  }
  let parsed: CacheFile | undefined;
  try {
    const v = parseStrictJson(readFileSync(path, 'utf8'), { code: 'CONFIG_INVALID', maxDepth: 8 }) as CacheFile;
    if (v && v.version === 2 && typeof v.writtenAtMs === 'number' && typeof v.files === 'object') parsed = v;
  } catch {
    // No cache or an unreadable one: everything is hashed, and a fresh cache is written.
  }
  const files = parsed?.files ?? {};
  return {
    path,
    // Git's "racily clean" rule: a file changed within the timestamp granularity of the cache write may have
    // changed again without its mtime moving, so only entries older than the write (minus a margin) are trusted.
    cutoffMs: parsed ? parsed.writtenAtMs - (options.racyWindowMs ?? 2000) : 0,
    lookup(p) {
      const rec = Object.hasOwn(files, p) ? files[p] : undefined;
      if (!Array.isArray(rec) || rec.length !== 6 || typeof rec[4] !== 'string' || !HEX.test(rec[4])) return undefined;
      if (!rec.slice(0, 4).every((x) => typeof x === 'number')) return undefined;
      const pe = rec[5];
      if (pe !== PeMark.None && pe !== PeMark.Clean && pe !== PeMark.Flagged) return undefined;
      return {
        size: rec[0],
        mtimeMs: rec[1],
        ctimeMs: rec[2],
        ino: rec[3],
        sha256: Buffer.from(rec[4], 'hex'),
        pe,
      };
    },
  };
}

/** Write the cache for the next walk; failing to only costs time, never the signature. */
export function saveCache(path: string, hashed: HashedFiles): void {
  const { stamps, pe } = hashed;
  // Without the PE check's marks a later walk could not tell which cached files to check.
  if (!stamps || !pe) return;
  const files: CacheFile['files'] = {};
  const digests = Buffer.from(hashed.digests.buffer, hashed.digests.byteOffset, hashed.digests.byteLength);
  for (let i = 0; i < hashed.count; i++) {
    const st = hashed.status[i];
    if (st !== FileStatus.Hashed && st !== FileStatus.Cached) continue;
    const t = i * STAMPS;
    files[hashedPath(hashed, i)] = [
      stamps[t]!,
      stamps[t + 1]!,
      stamps[t + 2]!,
      stamps[t + 3]!,
      digests.toString('hex', i * 32, i * 32 + 32),
      pe[i]!,
    ];
  }
  const body: CacheFile = { version: 2, writtenAtMs: Date.now(), files };
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, JSON.stringify(body), { mode: 0o600 });
  } catch {
    // The cache only saves time; failing to write it must not fail the signature.
  }
}
