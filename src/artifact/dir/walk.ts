/**
 * Walk a directory into its entries. Symlinks are never followed (recorded with their target); FIFOs, sockets and
 * devices are never opened. Two modes:
 * - `sign`: anything vouch will not vouch for is refused with DIRECTORY_UNSUPPORTED: special files, setuid/setgid
 *   files (a signature should not make a privilege-raising binary look blessed; re-signing after `chmod u-s` is
 *   the explicit way), non-canonical names (not NFC, control characters, backslash, not UTF-8), names that collide
 *   on case-insensitive or normalising file systems (`README`/`readme`, NFC/NFD spellings), symlinks that leave the
 *   tree or lead into an excluded path when followed through the tree's own links, rules that exclude everything,
 *   and trees over the limits. A file that cannot be read is FILE_UNREADABLE.
 * - `verify`: nothing on disk is refused; whatever is there is recorded (special files and unreadable names as kind
 *   `other`, setid flagged) so the comparison lists it as a difference. Exceeding the limits is a
 *   DIRECTORY_MISMATCH, since a signed manifest never exceeds them.
 * Both count the entries the rules exclude (each matched name or path once, its subtree unread), since excluded
 * content is content nobody signed.
 */
import {
  closeSync,
  constants,
  type Dirent,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { fileError } from '../../core/digest.ts';
import { type ErrorCode, VouchError } from '../../errors.ts';
import { type IncrementalOptions, loadCache, saveCache } from './cache.ts';
import { targetProblem } from './checker.ts';
import { WalkEntries } from './entries.ts';
import { excludedTest, linkMap, linkProblem } from './links.ts';
import type { DirectoryRules, ManifestEntry, SymlinkEntry } from './manifest.ts';
import {
  assertCanonicalPath,
  collisionKey,
  comparePaths,
  componentProblem,
  DEFAULT_LIMITS,
  type DirectoryLimits,
  sortByPath,
  sortPaths,
} from './paths.ts';
import { type HashedFiles, HashPool, hashedPath } from './pool.ts';
import { FileStatus, META, PeMark } from './status.ts';

export type { IncrementalOptions } from './cache.ts';

/** The longest path the kernel opens (Linux PATH_MAX, its NUL included): the real root and a path within it. */
const PATH_MAX = 4096;
/** Excluded entries named in a result; the count covers them all. */
const EXCLUDED_SHOWN = 20;

export interface WalkOptions {
  mode?: 'sign' | 'verify';
  /** Threads hashing files, main thread included (default: one per core, 2 to 8). */
  concurrency?: number;
  onProgress?: (progress: { filesDone: number; filesTotal: number }) => void;
  limits?: Partial<DirectoryLimits>;
  /**
   * Incremental signing: reuse the digests of files whose size, mtime, ctime and inode are unchanged since the
   * last walk (src/artifact/dir/cache.ts). Never used by verification.
   */
  incremental?: IncrementalOptions;
  /**
   * The files a verification reads (its bundle, its manifest) by device and inode: found at a `signatureFiles`
   * path they are the signature itself, not excluded content.
   */
  ownFiles?: { dev: number; ino: number }[];
  /** Run the structural PE check on every file that starts with "MZ" (sign walks always do). */
  peCheck?: boolean;
}

export interface WalkStats {
  files: number;
  /** Files read and hashed in this walk (the rest came from the incremental cache). */
  hashed: number;
  cached: number;
  bytes: number;
  cachePath?: string;
}

/** Entries the rules left out: how many were found, and the first few paths. */
export interface ExcludedFound {
  count: number;
  paths: string[];
}

export interface WalkResult {
  /** Sorted by `comparePaths` (UTF-8 byte order), no duplicates. */
  entries: WalkEntries;
  rules: DirectoryRules;
  stats: WalkStats;
  excluded: ExcludedFound;
  /** With the PE check: the files that are PE images, and those it flagged (src/artifact/dir/pe.ts). */
  pe?: TreePe;
}

/** The PE images among a walk's files (paths in manifest order), and those whose structural check failed. */
export interface TreePe {
  files: string[];
  flagged: string[];
}

function refuse(path: string, reason: string): VouchError {
  // JSON-escaped: the refused name may be the very control sequence that must not reach a terminal.
  return new VouchError('DIRECTORY_UNSUPPORTED', `${JSON.stringify(path || '.')}: ${reason}`, {
    details: { path, reason },
  });
}

/** The real path of the root: every spelling of it (`./t`, `t/../t`, a link to it) walks the same paths. */
function realRoot(root: string): string {
  let real: string;
  try {
    real = realpathSync(root);
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, root);
  }
  if (!lstatSync(real).isDirectory()) throw new VouchError('TARGET_INVALID', `${root} is not a directory`);
  return real === '/' ? '' : real;
}

/** Walk `root` and hash every regular file. */
export async function walkDirectory(
  root: string,
  rules: DirectoryRules,
  options: WalkOptions = {},
): Promise<WalkResult> {
  const signing = (options.mode ?? 'sign') === 'sign';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const limitCode: ErrorCode = signing ? 'DIRECTORY_UNSUPPORTED' : 'DIRECTORY_MISMATCH';
  const rootAbs = realRoot(root);
  const rootBytes = Buffer.byteLength(rootAbs);
  if (signing) {
    // A rule the verifier would reject as non-canonical must not get into a signature.
    for (const n of rules.excludeNames) {
      const p = componentProblem(n);
      if (p) throw new VouchError('USAGE', `excluded name ${JSON.stringify(n)}: ${p}`);
    }
    for (const p of [...rules.excludePaths, ...rules.signatureFiles]) {
      assertCanonicalPath(p, 'excluded path', 'USAGE', limits);
    }
  }
  const excludeNames = new Set(rules.excludeNames);
  const excludePaths = new Set(rules.excludePaths);
  const signatureFiles = new Set(rules.signatureFiles);
  const checkPaths = excludePaths.size + signatureFiles.size > 0;
  const excluded: ExcludedFound = { count: 0, paths: [] };
  const unsigned = (path: string, reason: string): void => {
    if (signing) throw refuse(path, reason);
  };
  const cache = options.incremental ? loadCache(rootAbs, options.incremental) : undefined;
  const pool = new HashPool(rootAbs, {
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.onProgress && {
      onProgress: (filesDone: number, filesTotal: number) => options.onProgress!({ filesDone, filesTotal }),
    }),
    maxFiles: limits.maxEntries,
    maxPathBytes: limits.maxEntries * limits.maxPathBytes,
    ...(cache && { cache }),
    ...((signing || options.peCheck) && { peCheck: true }),
  });
  const others: ManifestEntry[] = [];
  const links: SymlinkEntry[] = [];
  let count = 0;

  const own = (path: string): boolean => {
    const st = lstatSync(`${rootAbs}/${path}`, { throwIfNoEntry: false });
    return st !== undefined && (options.ownFiles ?? []).some((f) => f.dev === st.dev && f.ino === st.ino);
  };
  const exclude = (path: string): void => {
    if (signatureFiles.has(path) && own(path)) return;
    if (excluded.paths.length < EXCLUDED_SHOWN) excluded.paths.push(path);
    excluded.count++;
  };

  // Depth first, each directory's children in the order of their keys (a name; a directory's name + '/', the
  // byte that separates it from its entries), so the regular files come out in manifest order and go straight to
  // the pool: no string per file outlives its directory's listing, and no global sort is needed. Symlinks, empty
  // directories and special files are few, kept as objects and merged in afterwards.
  const visit = (rel: string): void => {
    const abs = rel === '' ? rootAbs || '/' : `${rootAbs}/${rel}`;
    let dirents: Dirent[];
    try {
      dirents = readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!signing && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return;
      throw fileError(err, abs);
    }
    const children: string[] = [];
    const depth = rel === '' ? 1 : rel.split('/').length + 1;
    let kept = 0;
    // Verify walks look for collisions too: a tree with one never matches a signature.
    const seen = new Map<string, string>();
    for (const d of dirents) {
      const name = d.name;
      const path = rel === '' ? name : `${rel}/${name}`;
      if (excludeNames.has(name) || (checkPaths && (excludePaths.has(path) || signatureFiles.has(path)))) {
        exclude(path);
        continue;
      }
      kept++;
      if (++count > limits.maxEntries)
        throw new VouchError(limitCode, `${root} has more than ${limits.maxEntries} entries`);
      // A UTF-16 unit is at most 3 UTF-8 bytes: most paths are short enough not to be measured. The whole path
      // must open too, whatever the root's spelling: it is measured from the real root.
      if (
        depth > limits.maxDepth ||
        ((path.length * 3 > limits.maxPathBytes || rootBytes + 1 + path.length * 3 >= PATH_MAX) &&
          (Buffer.byteLength(path) > limits.maxPathBytes || rootBytes + 1 + Buffer.byteLength(path) >= PATH_MAX))
      ) {
        throw new VouchError(limitCode, `${JSON.stringify(path.slice(0, 200))}: deeper or longer than the limits`);
      }
      const problem = componentProblem(name);
      if (problem) {
        unsigned(path, problem);
        // Recorded as-is so it shows up as added; never opened, since its name may not spell the file on disk.
        others.push({ path, kind: 'other' });
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
      if (type === 'dir') children.push(`${name}/`);
      else if (type === 'file') children.push(name);
      else if (type === 'symlink') symlink(path, `${abs}/${name}`);
      else {
        unsigned(path, 'FIFO, socket or device');
        others.push({ path, kind: 'other' });
      }
    }
    if (kept === 0 && rel !== '') others.push({ path: rel, kind: 'dir' });
    dirents = [];
    sortPaths(children);
    let files: string[] = [];
    for (const c of children) {
      if (!c.endsWith('/')) {
        files.push(rel === '' ? c : `${rel}/${c}`);
        continue;
      }
      if (files.length > 0) pool.publish(files);
      files = [];
      visit(rel === '' ? c.slice(0, -1) : `${rel}/${c.slice(0, -1)}`);
    }
    if (files.length > 0) pool.publish(files);
  };

  const symlink = (path: string, abs: string): void => {
    let target: string;
    try {
      target = readlinkSync(abs);
    } catch (e) {
      // Replaced between the listing and readlink: a change, reported by the comparison as missing.
      unsigned(path, 'changed while the directory was read');
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') others.push({ path, kind: 'other' });
      return;
    }
    const problem = targetProblem(target, limits);
    if (problem) unsigned(path, problem);
    // readlink decodes invalid UTF-8 as U+FFFD: the recorded target would not be the link's real one, and would
    // equal a signed "\ufffd" target whatever bytes the link holds. Recorded as `other`: never equal.
    if (problem?.includes('UTF-8')) others.push({ path, kind: 'other' });
    else {
      const link: SymlinkEntry = { path, kind: 'symlink', target };
      others.push(link);
      links.push(link);
    }
  };

  let hashed: HashedFiles;
  try {
    visit('');
    if (signing) {
      if (count === 0 && excluded.count > 0) throw refuse('', 'the exclusion rules leave nothing to sign');
      const map = linkMap(links);
      const excludedAt = excludedTest(rules.excludeNames, [...rules.excludePaths, ...rules.signatureFiles]);
      for (const l of links) {
        const why = linkProblem(map, l.path, l.target, excludedAt, rules.allowExternalSymlinks);
        if (why) throw refuse(l.path, `symlink ${why} (-> ${JSON.stringify(l.target)})`);
      }
    }
    pool.close();
    hashed = await pool.done;
  } catch (e) {
    pool.abort();
    throw e;
  }
  const result = collect(rootAbs, hashed, others, signing);
  if (cache) {
    saveCache(cache.path, hashed);
    result.stats.cachePath = cache.path;
  }
  return {
    entries: result.entries,
    rules: { ...rules },
    stats: result.stats,
    excluded,
    ...(hashed.pe && { pe: peFiles(hashed, hashed.pe) }),
  };
}

/** The files the PE check marked, by path (decoded only for them). */
function peFiles(hashed: HashedFiles, marks: Uint8Array): TreePe {
  const out: TreePe = { files: [], flagged: [] };
  for (let i = 0; i < hashed.count; i++) {
    if (marks[i] === PeMark.None) continue;
    const st = hashed.status[i];
    if (st !== FileStatus.Hashed && st !== FileStatus.Cached) continue;
    const path = hashedPath(hashed, i);
    out.files.push(path);
    if (marks[i] === PeMark.Flagged) out.flagged.push(path);
  }
  return out;
}

/** The hashed files and the other entries, merged into one sorted table. */
function collect(
  rootAbs: string,
  hashed: HashedFiles,
  others: ManifestEntry[],
  signing: boolean,
): { entries: WalkEntries; stats: WalkStats } {
  const n = hashed.count;
  const stats: WalkStats = { files: 0, hashed: 0, cached: 0, bytes: 0 };
  const sizes = new Float64Array(n);
  const flags = new Uint8Array(n);
  /** Files that are entries of the result (in verify walks some turn out to be symlinks, others or gone). */
  const isFile = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const st = hashed.status[i]!;
    if (st === FileStatus.Hashed || st === FileStatus.Cached) {
      const mode = hashed.meta[i * META]!;
      if ((mode & 0o6000) !== 0) {
        if (signing) throw refuse(hashedPath(hashed, i), 'setuid/setgid file');
        flags[i] = 2;
      }
      if ((mode & 0o100) !== 0) flags[i]! |= 1;
      sizes[i] = hashed.meta[i * META + 1]!;
      isFile[i] = 1;
      stats.files++;
      stats.bytes += sizes[i]!;
      if (st === FileStatus.Hashed) stats.hashed++;
      else stats.cached++;
      continue;
    }
    const path = hashedPath(hashed, i);
    if (st === FileStatus.Unreadable) {
      // The hashing threads only keep a status; open again to report the actual errno.
      try {
        closeSync(openSync(`${rootAbs}/${path}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
      } catch (e) {
        throw fileError(e as NodeJS.ErrnoException, `${rootAbs}/${path}`);
      }
      throw new VouchError('FILE_UNREADABLE', `cannot read ${rootAbs}/${path}`);
    }
    if (signing) throw refuse(path, 'changed while the directory was read; sign a tree nothing else is writing to');
    if (st === FileStatus.Symlink) {
      try {
        const target = readlinkSync(`${rootAbs}/${path}`);
        others.push(
          targetProblem(target, DEFAULT_LIMITS)?.includes('UTF-8')
            ? { path, kind: 'other' }
            : { path, kind: 'symlink', target },
        );
      } catch {
        others.push({ path, kind: 'other' });
      }
    } else if (st === FileStatus.NotFile) others.push({ path, kind: 'other' });
  }
  sortByPath(others);
  // Merge the sorted files with the sorted other entries; file paths are decoded only while others remain.
  const order = new Int32Array(stats.files + others.length);
  let k = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (isFile[i] === 0) continue;
    if (j < others.length) {
      const path = hashedPath(hashed, i);
      while (j < others.length && comparePaths(others[j]!.path, path) < 0) order[k++] = ~j++;
    }
    order[k++] = i;
  }
  while (j < others.length) order[k++] = ~j++;
  const digests = hashed.digests;
  return {
    entries: new WalkEntries({ names: hashed.names, offsets: hashed.offsets, digests, sizes, flags, others, order }),
    stats,
  };
}
