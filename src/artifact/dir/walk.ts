/**
 * Walk a directory into a manifest. Symlinks are never followed (recorded with their target); FIFOs, sockets and
 * devices are never opened. Two modes:
 * - `sign`: anything vouch will not vouch for is refused with DIRECTORY_UNSUPPORTED: special files, setuid/setgid
 *   files (a signature should not make a privilege-raising binary look blessed; re-signing after `chmod u-s` is
 *   the explicit way), non-canonical names (not NFC, control characters, backslash, not UTF-8), names that collide
 *   on case-insensitive or normalising file systems (`README`/`readme`, NFC/NFD spellings), symlinks that leave the
 *   tree (unless the rules allow them), and trees over the limits.
 * - `verify`: nothing on disk is refused; whatever is there is recorded (special files as kind `other`, setid
 *   flagged) so the comparison lists it as a difference. Exceeding the limits is a DIRECTORY_MISMATCH, since a
 *   signed manifest never exceeds them.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../core/atomic.ts';
import { fileError } from '../../core/digest.ts';
import { parseStrictJson } from '../../core/json.ts';
import { type ErrorCode, VouchError } from '../../errors.ts';
import {
  type CacheArrays,
  type HashResult,
  hashFiles,
  M_MODE,
  M_SIZE,
  META,
  type PackedPaths,
  packedPath,
  S_CTIME,
  S_INO,
  S_MTIME,
  ST_CACHED,
  ST_MISSING,
  ST_NOT_FILE,
  ST_OK,
  ST_SYMLINK,
  STAMPS,
  StreamingHash,
} from './hash.ts';
import { CompactEntries, type DirectoryRules, type Manifest, type ManifestEntry, sortEntries } from './manifest.ts';
import {
  assertCanonicalPath,
  collisionKey,
  comparePaths,
  componentProblem,
  DEFAULT_LIMITS,
  type DirectoryLimits,
  LONE_SURROGATE,
  sortPaths,
  symlinkEscapes,
} from './paths.ts';

export interface WalkOptions {
  mode?: 'sign' | 'verify';
  /** Threads hashing files, main thread included (default: one per core, 2 to 8). */
  concurrency?: number;
  onProgress?: (progress: { filesDone: number; filesTotal: number }) => void;
  limits?: Partial<DirectoryLimits>;
  /**
   * Incremental signing: reuse the digests of files whose size, mtime, ctime and inode are unchanged since the
   * last walk. The cache lives outside the tree: `path`, or VOUCH_HOME/cache/dir/<hash of the real root path>.json
   * (VOUCH_HOME defaults to ~/.vouch). Never used by verification.
   */
  incremental?: IncrementalOptions;
}

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

export interface WalkStats {
  files: number;
  /** Files read and hashed in this walk (the rest came from the incremental cache). */
  hashed: number;
  cached: number;
  bytes: number;
  cachePath?: string;
}

export interface WalkResult extends Manifest {
  stats: WalkStats;
  /**
   * Verify walks: the first thing found that a sign walk would have refused (a special file, a setuid file, a
   * non-canonical or colliding name, a symlink target it would not record, an entry that changed while listed).
   * Absent when this walk is one `vouch sign` could have made with the same rules, so its statement, written as the
   * signer writes it, may be compared byte for byte with a signed one.
   */
  unsignable?: string;
}

function refuse(path: string, reason: string): VouchError {
  // JSON-escaped: the refused name may be the very control sequence that must not reach a terminal.
  return new VouchError('DIRECTORY_UNSUPPORTED', `${JSON.stringify(path || '.')}: ${reason}`, {
    details: { path, reason },
  });
}

/** Walk `root` and hash every regular file. The result's entries are sorted and ready for `buildStatement`. */
export async function walkDirectory(
  root: string,
  rules: DirectoryRules,
  options: WalkOptions = {},
): Promise<WalkResult> {
  const mode = options.mode ?? 'sign';
  const signing = mode === 'sign';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const limitCode: ErrorCode = signing ? 'DIRECTORY_UNSUPPORTED' : 'DIRECTORY_MISMATCH';
  let rootStat: ReturnType<typeof statSync>;
  try {
    rootStat = statSync(root);
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, root);
  }
  if (!rootStat.isDirectory()) throw new VouchError('TARGET_INVALID', `${root} is not a directory`);
  const rootAbs = root.replace(/\/+$/, '') || '/';
  if (signing) {
    // A rule the verifier would reject as non-canonical must not get into a signature.
    for (const n of rules.excludeNames) {
      const p = componentProblem(n);
      if (p) throw new VouchError('USAGE', `excluded name ${JSON.stringify(n)}: ${p}`);
    }
    for (const p of rules.excludePaths) assertCanonicalPath(p, 'excluded path', 'USAGE', limits);
  }
  const excludeNames = new Set(rules.excludeNames);
  const excludePaths = new Set(rules.excludePaths);
  const checkPaths = excludePaths.size > 0;
  let unsignable: string | undefined;
  /** What a sign walk refuses: thrown when signing, noted when verifying. */
  const unsigned = (path: string, reason: string): void => {
    if (signing) throw refuse(path, reason);
    unsignable ??= `${JSON.stringify(path || '.')}: ${reason}`;
  };

  const entries: ManifestEntry[] = [];
  // Without an incremental cache (which must see the whole list first) the files are hashed while they are listed.
  const hashOptions = {
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.onProgress && {
      onProgress: (filesDone: number, filesTotal: number) => options.onProgress!({ filesDone, filesTotal }),
    }),
  };
  let stream: StreamingHash | undefined;
  if (!options.incremental) {
    try {
      stream = new StreamingHash(rootAbs, limits.maxEntries, limits.maxEntries * limits.maxPathBytes, hashOptions);
    } catch {
      // Address space for the growable buffers refused (huge custom limits, a low ulimit -v): list, then hash.
    }
  }
  const packer = stream ?? new PathPacker();
  let count = 0;
  // Depth first, each directory's children in the order of their keys (a name; a directory's name + '/', the
  // byte that separates it from its entries), so the regular files come out in manifest order and go straight
  // into the packed path blob: no string per file outlives its directory's listing, and no global sort is needed.
  // Empty directories yield no files, so their key does not matter here; they, symlinks and special files are
  // few, kept as objects and sorted afterwards.
  const visit = (rel: string): void => {
    const abs = rel === '' ? rootAbs : `${rootAbs}/${rel}`;
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!signing && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) {
        unsigned(rel, 'changed while the directory was read');
        return;
      }
      throw fileError(err, abs);
    }
    const children: string[] = [];
    const depth = rel === '' ? 1 : rel.split('/').length + 1;
    let kept = 0;
    // Verify walks look for collisions too: a tree with one is never compared byte for byte with a signature.
    const seen = new Map<string, string>();
    for (const d of dirents) {
      const name = d.name;
      const path = rel === '' ? name : `${rel}/${name}`;
      // Skipped checks avoid flattening and hashing a fresh path string per entry when no path is excluded.
      if (excludeNames.has(name) || (checkPaths && excludePaths.has(path))) continue;
      kept++;
      if (++count > limits.maxEntries) {
        throw new VouchError(limitCode, `${root} has more than ${limits.maxEntries} entries`);
      }
      // A UTF-16 unit is at most 3 UTF-8 bytes: most paths are short enough not to be measured.
      if (
        depth > limits.maxDepth ||
        (path.length * 3 > limits.maxPathBytes && Buffer.byteLength(path) > limits.maxPathBytes)
      ) {
        throw new VouchError(limitCode, `${path.slice(0, 200)}: deeper or longer than the limits`);
      }
      const problem = componentProblem(name);
      if (problem) {
        unsigned(path, problem);
        // Recorded as-is so it shows up as added; never opened, since its name may not spell the file on disk.
        entries.push({ path, kind: 'other' });
        continue;
      }
      const key = collisionKey(name);
      const other = seen.get(key);
      if (other !== undefined) unsigned(path, `collides with "${other}" on case-insensitive file systems`);
      else seen.set(key, name);
      let type: 'dir' | 'file' | 'symlink' | 'other';
      if (d.isDirectory()) type = 'dir';
      else if (d.isFile()) type = 'file';
      else if (d.isSymbolicLink()) type = 'symlink';
      else if (d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) type = 'other';
      else {
        // File systems without d_type: ask lstat (never stat, which would follow a symlink).
        const st = lstatSync(`${abs}/${name}`, { throwIfNoEntry: false });
        if (st === undefined) {
          unsigned(path, 'changed while the directory was read');
          continue;
        }
        type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      }
      switch (type) {
        case 'dir':
          children.push(`${name}/`);
          break;
        case 'file':
          children.push(name);
          break;
        case 'symlink': {
          let target: string;
          try {
            target = readlinkSync(`${abs}/${name}`);
          } catch (e) {
            // Replaced between the listing and readlink: a change, reported by the comparison as missing.
            unsigned(path, 'changed while the directory was read');
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
            entries.push({ path, kind: 'other' });
            continue;
          }
          if (target === '' || target.includes('\0') || Buffer.byteLength(target) > limits.maxPathBytes) {
            unsigned(path, 'symlink target is empty or too long');
          } else if (!decodedTarget(target)) {
            // readlink decodes invalid UTF-8 as U+FFFD: the recorded target would not be the link's real one, and
            // would equal a signed "\ufffd" target whatever bytes the link holds. Recorded as `other`: never equal.
            unsigned(path, 'symlink target is not valid UTF-8');
            entries.push({ path, kind: 'other' });
            break;
          } else if (!rules.allowExternalSymlinks && symlinkEscapes(path, target)) {
            unsigned(path, `symlink leads outside the directory (-> ${JSON.stringify(target)})`);
          }
          entries.push({ path, kind: 'symlink', target });
          break;
        }
        case 'other':
          unsigned(path, 'FIFO, socket or device');
          entries.push({ path, kind: 'other' });
          break;
      }
    }
    if (kept === 0 && rel !== '') entries.push({ path: rel, kind: 'dir' });
    dirents = [];
    sortPaths(children);
    for (const c of children) {
      if (c.endsWith('/')) visit(rel === '' ? c.slice(0, -1) : `${rel}/${c.slice(0, -1)}`);
      else packer.add(rel === '' ? c : `${rel}/${c}`);
    }
  };
  try {
    visit('');
  } catch (e) {
    stream?.abort();
    throw e;
  }

  // The packed blob is what the hashing threads read and also the path column of the result.
  let packed: PackedPaths;
  let hashed: HashResult;
  let cache: ReturnType<typeof loadCache> | undefined;
  if (stream) ({ packed, hashed } = await stream.finish());
  else {
    packed = (packer as PathPacker).finish();
    cache = options.incremental ? loadCache(rootAbs, packed, options.incremental) : undefined;
    hashed = await hashFiles(rootAbs, packed, { ...hashOptions, ...(cache && { cache: cache.arrays }) });
  }
  const n = packed.count;

  const stats: WalkStats = { files: 0, hashed: 0, cached: 0, bytes: 0 };
  const sizes = new Float64Array(n);
  const flags = new Uint8Array(n);
  /** Files that are entries of the result (in verify walks some turn out to be symlinks, others or gone). */
  const isFile = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const st = hashed.status[i]!;
    const m = i * META;
    if (st === ST_OK || st === ST_CACHED) {
      const fileMode = hashed.meta[m + M_MODE]!;
      if ((fileMode & 0o6000) !== 0) {
        unsigned(packedPath(packed, i), 'setuid/setgid file');
        flags[i] = 2;
      }
      if ((fileMode & 0o100) !== 0) flags[i]! |= 1;
      sizes[i] = hashed.meta[m + M_SIZE]!;
      isFile[i] = 1;
      stats.files++;
      stats.bytes += sizes[i]!;
      if (st === ST_OK) stats.hashed++;
      else stats.cached++;
      continue;
    }
    const path = packedPath(packed, i);
    unsigned(path, 'changed while the directory was read; sign a tree nothing else is writing to');
    if (st === ST_SYMLINK) {
      try {
        const target = readlinkSync(`${rootAbs}/${path}`);
        entries.push(decodedTarget(target) ? { path, kind: 'symlink', target } : { path, kind: 'other' });
      } catch {
        entries.push({ path, kind: 'other' });
      }
    } else if (st === ST_NOT_FILE) {
      entries.push({ path, kind: 'other' });
    } else if (st !== ST_MISSING) {
      // The hashing threads only keep a status; open again to report the actual errno.
      try {
        closeSync(openSync(`${rootAbs}/${path}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
      } catch (e) {
        throw fileError(e as NodeJS.ErrnoException, `${rootAbs}/${path}`);
      }
      throw new VouchError('FILE_UNREADABLE', `cannot read ${rootAbs}/${path}`);
    }
  }
  sortEntries(entries);
  // Merge the sorted files with the sorted other entries; file paths are decoded only while others remain.
  const order = new Int32Array(stats.files + entries.length);
  let k = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (isFile[i] === 0) continue;
    if (j < entries.length) {
      const path = packedPath(packed, i);
      while (j < entries.length && comparePaths(entries[j]!.path, path) < 0) order[k++] = ~j++;
    }
    order[k++] = i;
  }
  while (j < entries.length) order[k++] = ~j++;
  if (cache) {
    saveCache(cache.path, packed, hashed);
    stats.cachePath = cache.path;
  }
  const table = new CompactEntries({
    names: packed.names,
    offsets: packed.offsets,
    digests: hashed.digests,
    sizes,
    flags,
    others: entries,
    order,
  });
  const result: WalkResult = { hashAlgorithm: 'sha256', rules: { ...rules }, entries: table.entries(), stats };
  if (unsignable !== undefined) result.unsignable = unsignable;
  return result;
}

/** Whether a target read by readlink is the link's own (valid UTF-8: no U+FFFD or lone surrogate decoded). */
function decodedTarget(target: string): boolean {
  return !target.includes('\ufffd') && !LONE_SURROGATE.test(target);
}

/** Paths appended one by one into a growing UTF-8 blob, then copied once into shared memory for the threads. */
class PathPacker {
  #buf = Buffer.allocUnsafe(1 << 16);
  #offsets = new Uint32Array(1 << 10);
  #count = 0;
  #length = 0;

  add(path: string): void {
    if (this.#length + path.length * 3 > this.#buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#length + path.length * 3));
      this.#buf.copy(bigger, 0, 0, this.#length);
      this.#buf = bigger;
    }
    if (this.#count + 2 > this.#offsets.length) {
      const bigger = new Uint32Array(this.#offsets.length * 2);
      bigger.set(this.#offsets);
      this.#offsets = bigger;
    }
    this.#offsets[this.#count++] = this.#length;
    this.#length += this.#buf.write(path, this.#length);
  }

  finish(): PackedPaths {
    const n = this.#count;
    const offsets = new Uint32Array(new SharedArrayBuffer(Math.max((n + 1) * 4, 8)));
    offsets.set(this.#offsets.subarray(0, n));
    offsets[n] = this.#length;
    const names = new Uint8Array(new SharedArrayBuffer(Math.max(this.#length, 8)), 0, this.#length);
    names.set(this.#buf.subarray(0, this.#length));
    this.#buf = Buffer.alloc(0);
    this.#offsets = new Uint32Array(0);
    return { count: n, names, offsets };
  }
}

// ---------------------------------------------------------------- incremental cache

interface CacheFile {
  version: 1;
  writtenAtMs: number;
  /** path -> [size, mtimeMs, ctimeMs, ino, sha256 hex] */
  files: Record<string, [number, number, number, number, string]>;
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

function loadCache(
  rootAbs: string,
  packed: PackedPaths,
  options: IncrementalOptions,
): { path: string; arrays: CacheArrays } {
  const path = cachePathFor(rootAbs, options);
  const inside = relative(resolve(rootAbs), resolve(path));
  if (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) {
    // A cache inside the tree would be signed, and would change the tree it describes on every run.
    throw new VouchError('USAGE', `the incremental cache ${path} must be outside the signed directory`);
  }
  const n = packed.count;
  const arrays: CacheArrays = {
    has: new Uint8Array(new SharedArrayBuffer(Math.max(n, 8))),
    meta: new Float64Array(new SharedArrayBuffer(Math.max(n * 4 * 8, 8))),
    digests: new Uint8Array(new SharedArrayBuffer(Math.max(n * 32, 8))),
    cutoffMs: 0,
  };
  let parsed: CacheFile | undefined;
  try {
    const v = parseStrictJson(readFileSync(path, 'utf8'), { code: 'CONFIG_INVALID', maxDepth: 8 }) as CacheFile;
    if (v && v.version === 1 && typeof v.writtenAtMs === 'number' && typeof v.files === 'object') parsed = v;
  } catch {
    // No cache or an unreadable one: everything is hashed, and a fresh cache is written.
  }
  if (!parsed) return { path, arrays };
  // Git's "racily clean" rule: a file changed within the timestamp granularity of the cache write may have
  // changed again without its mtime moving, so only entries older than the write (minus a margin) are trusted.
  arrays.cutoffMs = parsed.writtenAtMs - (options.racyWindowMs ?? 2000);
  const hex = /^[0-9a-f]{64}$/;
  for (let i = 0; i < n; i++) {
    const path = packedPath(packed, i);
    const rec = Object.hasOwn(parsed.files, path) ? parsed.files[path] : undefined;
    if (!Array.isArray(rec) || rec.length !== 5 || typeof rec[4] !== 'string' || !hex.test(rec[4])) continue;
    if (!rec.slice(0, 4).every((x) => typeof x === 'number')) continue;
    arrays.has[i] = 1;
    arrays.meta.set(rec.slice(0, 4) as number[], i * 4);
    arrays.digests.set(Buffer.from(rec[4], 'hex'), i * 32);
  }
  return { path, arrays };
}

function saveCache(
  path: string,
  packed: PackedPaths,
  hashed: { status: Int32Array; meta: Float64Array; stamps?: Float64Array; digests: Uint8Array },
): void {
  const stamps = hashed.stamps;
  if (!stamps) return;
  const files: CacheFile['files'] = {};
  const digests = Buffer.from(hashed.digests.buffer, hashed.digests.byteOffset, hashed.digests.byteLength);
  for (let i = 0; i < packed.count; i++) {
    const st = hashed.status[i];
    if (st !== ST_OK && st !== ST_CACHED) continue;
    const m = i * META;
    const t = i * STAMPS;
    files[packedPath(packed, i)] = [
      hashed.meta[m + M_SIZE]!,
      stamps[t + S_MTIME]!,
      stamps[t + S_CTIME]!,
      stamps[t + S_INO]!,
      digests.toString('hex', i * 32, i * 32 + 32),
    ];
  }
  const body: CacheFile = { version: 1, writtenAtMs: Date.now(), files };
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, JSON.stringify(body), { mode: 0o600 });
  } catch {
    // The cache only saves time; failing to write it must not fail the signature.
  }
}
