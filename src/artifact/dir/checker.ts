/**
 * The checks of a signed entry list, one entry at a time in listed order, with memory independent of the number
 * of entries for the vouch format (a million-entry manifest is checked as it streams past): canonical paths in
 * strictly increasing byte order (so no duplicates), no entry beneath a non-directory entry, none excluded by the
 * rules, one spelling per case- and normalisation-insensitive name, symlinks that stay in the tree when followed
 * through its own links, and the counts the statement claims. Model-signing resources (any order, few) are
 * collected, checked the same way where the format allows, and sorted.
 */
import { VouchError } from '../../errors.ts';
import { type ExcludedTest, excludedTest, linkMap, linkProblem } from './links.ts';
import type { DirectoryRules, FileEntry, ManifestCounts, ManifestEntry } from './manifest.ts';
import {
  assertCanonicalPath,
  collisionKey,
  comparePaths,
  type DirectoryLimits,
  LONE_SURROGATE,
  pathProblem,
  sortByPath,
} from './paths.ts';

function bad(message: string): VouchError {
  return new VouchError('MANIFEST_INVALID', message);
}

/** Why a symlink target cannot be signed (the walk refuses the same), or undefined. */
export function targetProblem(target: string, limits: DirectoryLimits): string | undefined {
  if (target === '' || target.includes('\0') || Buffer.byteLength(target) > limits.maxPathBytes) {
    return 'symlink target is empty or too long';
  }
  // readlink decodes bytes that are not UTF-8 as U+FFFD: no signed target holds one (nor a lone surrogate).
  if (target.includes('\ufffd') || LONE_SURROGATE.test(target)) return 'symlink target is not valid UTF-8';
  return undefined;
}

/** The vouch format's entries (see the module comment). `finish` checks the counts and the links. */
export class EntryChecker {
  readonly #rules: DirectoryRules;
  readonly #limits: DirectoryLimits;
  readonly #excluded: ExcludedTest;
  readonly #counts: ManifestCounts = { files: 0, symlinks: 0, emptyDirectories: 0, bytes: 0 };
  readonly #expected: ManifestCounts | undefined;
  #n = 0;
  #prev: string | undefined;
  /**
   * Earlier entries that later ones could lie beneath: each a proper prefix of the next. In byte order everything
   * beneath `p/` follows `p` (maybe after `p-x`, `p.x`: bytes below '/'), so an entry is popped once the order has
   * passed the place where its subtree would be.
   */
  readonly #ancestors: string[] = [];
  /**
   * The directories the current entry lies in, outermost first (the root, prefix ''), each with the collision keys
   * of the names claimed in it so far (entries and implied directories), mapped to their spelling: `A/x` beside
   * `a/y` names one directory twice on macOS and Windows. Everything beneath `d/` is contiguous in byte order, so a
   * directory's names are dropped once the order has left it, and memory follows the widest directory on the
   * current path, not the tree.
   */
  readonly #open: { prefix: string; names: Map<string, string> }[] = [{ prefix: '', names: new Map() }];
  readonly #links: { path: string; target: string }[] = [];

  /** `expected`: the counts the statement claims (checked by `finish`). */
  constructor(rules: DirectoryRules, limits: DirectoryLimits, expected?: ManifestCounts) {
    this.#rules = rules;
    this.#limits = limits;
    this.#expected = expected;
    this.#excluded = excludedTest(rules.excludeNames, [...rules.excludePaths, ...rules.signatureFiles]);
  }

  #collide(path: string, other: string): VouchError {
    return bad(`${JSON.stringify(path)} collides with ${JSON.stringify(other)} on case-insensitive file systems`);
  }

  /** `name` in the directory `names` belongs to: refused when another spelling of it is there already. */
  #claim(names: Map<string, string>, name: string, path: string): void {
    const key = collisionKey(name);
    const other = names.get(key);
    if (other === undefined) names.set(key, name);
    else if (other !== name) throw this.#collide(path, other);
  }

  add(e: ManifestEntry): void {
    if (this.#n >= this.#limits.maxEntries) throw bad(`manifest has more than ${this.#limits.maxEntries} entries`);
    const path = e.path;
    const problem = pathProblem(path, this.#limits);
    if (problem) throw bad(`manifest path ${JSON.stringify(path.slice(0, 200))}: ${problem}`);
    if (this.#prev !== undefined) {
      const c = comparePaths(this.#prev, path);
      if (c === 0) throw bad(`duplicate entry ${JSON.stringify(path)}`);
      if (c > 0) throw bad(`entries are not in canonical order at ${JSON.stringify(path)}`);
    }
    this.#prev = path;
    const anc = this.#ancestors;
    for (;;) {
      const top = anc[anc.length - 1];
      if (top === undefined) break;
      if (path.startsWith(top) && path.charCodeAt(top.length) <= 0x2f) {
        if (path.charCodeAt(top.length) === 0x2f) {
          throw bad(`${JSON.stringify(path)} lies under the non-directory entry ${JSON.stringify(top)}`);
        }
        break;
      }
      anc.pop();
    }
    anc.push(path);
    const open = this.#open;
    while (open.length > 1 && !path.startsWith(open[open.length - 1]!.prefix)) open.pop();
    // Each directory the path enters: not excluded, and one spelling of its name in its parent.
    for (let k = path.indexOf('/', open[open.length - 1]!.prefix.length); k >= 0; k = path.indexOf('/', k + 1)) {
      const prefix = path.slice(0, k);
      const name = prefix.slice(prefix.lastIndexOf('/') + 1);
      if (this.#excluded(prefix, name)) throw bad(`${JSON.stringify(path)} is excluded by the rules`);
      this.#claim(open[open.length - 1]!.names, name, path);
      open.push({ prefix: `${prefix}/`, names: new Map() });
    }
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (this.#excluded(path, name)) throw bad(`${JSON.stringify(path)} is excluded by the rules`);
    this.#claim(open[open.length - 1]!.names, name, path);
    this.#n++;
    switch (e.kind) {
      case 'file':
        this.#counts.files++;
        this.#counts.bytes += e.size;
        break;
      case 'symlink': {
        const why = targetProblem(e.target, this.#limits);
        if (why) throw bad(`${JSON.stringify(path)}: ${why}`);
        this.#counts.symlinks++;
        this.#links.push({ path, target: e.target });
        break;
      }
      case 'dir':
        this.#counts.emptyDirectories++;
        break;
      case 'other':
        throw bad(`${JSON.stringify(path)}: unknown entry kind`);
    }
  }

  /** After the last entry: the counts the statement claims, and every link followed through the others. */
  finish(): ManifestCounts {
    const c = this.#counts;
    const x = this.#expected;
    if (x && (x.files !== c.files || x.symlinks !== c.symlinks || x.emptyDirectories !== c.emptyDirectories)) {
      throw bad('the manifest does not hold the entries the statement counts');
    }
    if (x && x.bytes !== c.bytes) throw bad('the manifest does not hold the bytes the statement counts');
    const links = linkMap(this.#links);
    for (const l of this.#links) {
      const why = linkProblem(links, l.path, l.target, this.#excluded, this.#rules.allowExternalSymlinks);
      if (why) throw bad(`${JSON.stringify(l.path)} -> ${JSON.stringify(l.target)}: the symlink ${why}`);
    }
    return c;
  }
}

/**
 * The model-signing format's resources: any order (the root digest covers it), no duplicates, no two spellings of
 * one name on a case-insensitive file system, none beneath another or beneath an ignored path; sorted at the end.
 */
export function checkResources(
  resources: readonly FileEntry[],
  ignorePaths: readonly string[],
  limits: DirectoryLimits,
): FileEntry[] {
  if (resources.length > limits.maxEntries) throw bad(`manifest has more than ${limits.maxEntries} resources`);
  const seen = new Map<string, string>();
  for (const r of resources) {
    assertCanonicalPath(r.path, 'resource name', 'MANIFEST_INVALID', limits);
    const key = collisionKey(r.path);
    const other = seen.get(key);
    if (other === r.path) throw bad(`duplicate resource ${JSON.stringify(r.path)}`);
    if (other !== undefined) {
      throw bad(`${JSON.stringify(r.path)} collides with ${JSON.stringify(other)} on case-insensitive file systems`);
    }
    seen.set(key, r.path);
  }
  const ignored = excludedTest([], ignorePaths);
  const entries = sortByPath([...resources]);
  for (const e of entries) {
    for (let k = e.path.indexOf('/'); ; k = e.path.indexOf('/', k + 1)) {
      const prefix = k < 0 ? e.path : e.path.slice(0, k);
      if (ignored(prefix, '')) throw bad(`${JSON.stringify(e.path)} is under an ignored path`);
      if (k < 0) break;
      if (seen.has(collisionKey(prefix))) throw bad(`${JSON.stringify(e.path)} lies under the file ${prefix}`);
    }
  }
  return entries;
}
