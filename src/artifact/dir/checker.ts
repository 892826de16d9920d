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

const ASCII_ONLY = /^[\u0000-\u007f]*$/;
const ASCII_UPPER = /[A-Z]/;

/** Why a symlink target cannot be signed (the walk refuses the same), or undefined. */
export function targetProblem(target: string, limits: DirectoryLimits): string | undefined {
  if (target === '' || target.includes('\0') || Buffer.byteLength(target) > limits.maxPathBytes) {
    return 'symlink target is empty or too long';
  }
  // readlink decodes bytes that are not UTF-8 as U+FFFD: no signed target holds one (nor a lone surrogate).
  if (target.includes('\ufffd') || LONE_SURROGATE.test(target)) return 'symlink target is not valid UTF-8';
  return undefined;
}

/**
 * Set of 64-bit string hashes (two 32-bit FNV-style lanes, murmur3-finalised), open addressing in one typed array:
 * a million paths in 16 MB instead of ~100 MB of Set<string>. A false "seen" has probability ~n/2^64 per lookup.
 */
class HashSet64 {
  #slots = new Uint32Array(1 << 16);
  #size = 0;

  static hash(s: string): [number, number] {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    const fmix = (h: number) => {
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      return (h ^ (h >>> 16)) >>> 0;
    };
    a = fmix(a ^ s.length);
    b = fmix(b + a);
    // (0, 0) marks an empty slot.
    return a === 0 && b === 0 ? [1, 0] : [a, b];
  }

  /** Adds the hash; returns whether it was there already. */
  add(s: string): boolean {
    const [a, b] = HashSet64.hash(s);
    if (this.#find(a, b)) return true;
    if ((this.#size + 1) * 4 > this.#slots.length) this.#grow();
    this.#insert(a, b);
    this.#size++;
    return false;
  }

  has(s: string): boolean {
    const [a, b] = HashSet64.hash(s);
    return this.#find(a, b);
  }

  #find(a: number, b: number): boolean {
    const slots = this.#slots;
    const mask = (slots.length >>> 1) - 1;
    for (let k = a & mask; ; k = (k + 1) & mask) {
      const x = slots[2 * k]!;
      const y = slots[2 * k + 1]!;
      if (x === 0 && y === 0) return false;
      if (x === a && y === b) return true;
    }
  }

  #insert(a: number, b: number): void {
    const slots = this.#slots;
    const mask = (slots.length >>> 1) - 1;
    let k = a & mask;
    while (slots[2 * k] !== 0 || slots[2 * k + 1] !== 0) k = (k + 1) & mask;
    slots[2 * k] = a;
    slots[2 * k + 1] = b;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(old.length * 2);
    for (let k = 0; k < old.length; k += 2) {
      if (old[k] !== 0 || old[k + 1] !== 0) this.#insert(old[k]!, old[k + 1]!);
    }
  }
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
  #prevParent: string | undefined;
  /**
   * Earlier entries that later ones could lie beneath: each a proper prefix of the next. In byte order everything
   * beneath `p/` follows `p` (maybe after `p-x`, `p.x`: bytes below '/'), so an entry is popped once the order has
   * passed the place where its subtree would be.
   */
  readonly #ancestors: string[] = [];
  /**
   * One spelling per case-insensitive, normalisation-insensitive name, for entries and implied directories alike:
   * `A/x` beside `a/y` names one directory twice on macOS and Windows. Two spellings with one key differ, so at
   * least one is not its own key ("fancy"): those are remembered with their spelling (a few per cent of a real
   * tree); the plain ones only when not ASCII (see #claim), as 64-bit hashes.
   */
  readonly #fancy = new Map<string, string>();
  readonly #plain = new HashSet64();
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

  #claim(p: string, path: string): void {
    const ascii = ASCII_ONLY.test(p);
    // collisionKey, with the ASCII test it starts with done once here.
    const key = ascii ? (ASCII_UPPER.test(p) ? p.toLowerCase() : p) : collisionKey(p);
    const other = this.#fancy.get(key);
    if (key === p) {
      if (other !== undefined) throw this.#collide(path, other);
      if (!ascii) this.#plain.add(p);
      return;
    }
    if (other !== undefined) {
      if (other !== p) throw this.#collide(path, other);
      return;
    }
    this.#fancy.set(key, p);
    // A plain spelling claimed before this fancy one: only a non-ASCII key can have been. Where a fancy spelling
    // first differs from its key it has an ASCII capital (sorting it, and all it claims, before the key) or a
    // non-ASCII letter whose lower case is non-ASCII too: in NFC no other character lower-cases to ASCII (the
    // Kelvin sign does, and NFC replaces it with K). So only non-ASCII plain spellings are remembered.
    if (!ASCII_ONLY.test(key) && this.#plain.has(key)) throw this.#collide(path, key);
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
    this.#claim(path, path);
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    if (this.#excluded(path, path.slice(slash + 1))) throw bad(`${JSON.stringify(path)} is excluded by the rules`);
    // Every proper prefix must be a plain directory, not excluded, and claim its spelling; checked once per run of
    // entries sharing a parent.
    if (parent !== this.#prevParent && parent !== '') {
      for (let k = parent.indexOf('/'); ; k = parent.indexOf('/', k + 1)) {
        const prefix = k < 0 ? parent : parent.slice(0, k);
        if (this.#excluded(prefix, prefix.slice(prefix.lastIndexOf('/') + 1))) {
          throw bad(`${JSON.stringify(path)} is excluded by the rules`);
        }
        this.#claim(prefix, path);
        if (k < 0) break;
      }
    }
    this.#prevParent = parent;
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
