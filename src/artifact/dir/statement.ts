/**
 * In-toto statements for directories, in two predicate formats:
 * - `https://vouch.dev/directory/v1` (docs/formats/directory-manifest.md): every entry, kinds, modes, rules.
 * - `https://model_signing/signature/v1.0`, method `files` (OpenSSF model-signing, sigstore/model-transparency):
 *   one resource per regular file `{name, algorithm, digest}`; the subject digest is SHA-256 over the
 *   concatenated raw resource digests in listed order; `serialization` records `hash_type`, `allow_symlinks` and
 *   `ignore_paths` (root-relative, a directory ignores its subtree).
 * Parsing is strict: a statement either describes exactly one canonical tree or is rejected with
 * MANIFEST_INVALID (or BUNDLE_UNSUPPORTED for model-signing variants vouch does not implement).
 */
import { createHash } from 'node:crypto';
import { IN_TOTO_STATEMENT_V1, type InTotoStatement as Statement, VOUCH_FILE_PREDICATE } from '../../core/intoto.ts';
import { asArray, asObject, asString } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { COSIGN_SIGN_PREDICATE } from '../oci/binding.ts';
import {
  canonicalEntry,
  compactOf,
  type DirectoryRules,
  type FileEntry,
  type Manifest,
  type ManifestCounts,
  type ManifestEntry,
  MODEL_SIGNING_PREDICATE,
  manifestDigest,
  VOUCH_DIRECTORY_PREDICATE,
} from './manifest.ts';
import {
  assertCanonicalPath,
  collisionKey,
  compareComponentwise,
  comparePaths,
  componentProblem,
  DEFAULT_LIMITS,
  type DirectoryLimits,
  sortByPath,
  symlinkEscapes,
} from './paths.ts';

export type DirectoryFormat = 'vouch' | 'model-signing';

/** A directory's in-toto statement: its predicate is always there. */
export type InTotoStatement = Statement<Record<string, unknown>> & { predicate: Record<string, unknown> };

/** Default rules per format: model-signing only knows root-relative ignore paths, so `.git` is one of those. */
export function defaultRules(format: DirectoryFormat): DirectoryRules {
  return format === 'vouch'
    ? { excludeNames: ['.git'], excludePaths: [], allowExternalSymlinks: false }
    : { excludeNames: [], excludePaths: ['.git'], allowExternalSymlinks: false };
}

/** The statement to sign for a walked directory. `name` is informative (renaming the directory keeps it valid). */
export function buildStatement(manifest: Manifest, name: string, format: DirectoryFormat): InTotoStatement {
  if (format === 'vouch') {
    assertSignable(manifest);
    return vouchStatement(manifest, name, manifestDigest(manifest.entries));
  }
  if (manifest.rules.excludeNames.length > 0) {
    throw new VouchError(
      'USAGE',
      'the model-signing format only records root-relative ignore paths; walk with excludePaths, not excludeNames',
    );
  }
  const files: FileEntry[] = [];
  for (const e of manifest.entries) {
    if (e.kind === 'file') files.push(e);
    else if (e.kind === 'symlink' || e.kind === 'other') {
      // allow_symlinks=true means "follow and hash the target" in model-signing; vouch never follows, so it
      // signs only trees without symlinks in this format.
      throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path}: the model-signing format cannot record symlinks`);
    }
  }
  files.sort((a, b) => compareComponentwise(a.path, b.path));
  const root = createHash('sha256');
  for (const f of files) root.update(Buffer.from(f.sha256, 'hex'));
  const serialization: Record<string, unknown> = { method: 'files', hash_type: 'sha256', allow_symlinks: false };
  if (manifest.rules.excludePaths.length > 0) {
    serialization.ignore_paths = [...new Set(manifest.rules.excludePaths)].sort(comparePaths);
  }
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: root.digest('hex') } }],
    predicateType: MODEL_SIGNING_PREDICATE,
    predicate: {
      serialization,
      resources: files.map((f) => ({ name: f.path, algorithm: 'sha256', digest: f.sha256 })),
    },
  };
}

/**
 * Refuse entries the vouch format does not sign (DIRECTORY_UNSUPPORTED): setuid/setgid files and special files,
 * which only a verify walk records.
 */
export function assertSignable(manifest: Manifest): void {
  const unsignable = (e: ManifestEntry) => {
    if (e.kind === 'file' && e.setid !== undefined) {
      throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path} is setuid/setgid`);
    }
    if (e.kind === 'other') throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path} is not a file, symlink or dir`);
  };
  // A walk's columnar entries are checked column-wise and signed as they are: JSON.stringify builds each entry
  // object only while writing it (no million live objects). Walks made for signing never carry `setid`.
  const compact = compactOf(manifest.entries);
  if (compact) {
    for (let i = 0; i < compact.length; i++) {
      const e = compact.unsignable(i);
      if (e) unsignable(e);
    }
  } else {
    for (const e of manifest.entries) unsignable(e);
  }
}

/** The vouch-format statement of a signable manifest whose canonical manifest digest is `digest`. */
export function vouchStatement(manifest: Manifest, name: string, digest: Buffer): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: digest.toString('hex') } }],
    predicateType: VOUCH_DIRECTORY_PREDICATE,
    predicate: {
      hashAlgorithm: manifest.hashAlgorithm,
      rules: {
        excludeNames: [...new Set(manifest.rules.excludeNames)].sort(comparePaths),
        excludePaths: [...new Set(manifest.rules.excludePaths)].sort(comparePaths),
        allowExternalSymlinks: manifest.rules.allowExternalSymlinks,
      },
      entries: manifest.entries,
    },
  };
}

/** A directory statement's parts outside its entry list: what the verifier needs before reading any entry. */
export interface DirectoryHeader {
  format: DirectoryFormat;
  name: string;
  /** The subject digest: manifest digest (vouch) or root digest over resources (model-signing). */
  digest: Buffer;
  rules: DirectoryRules;
  /** model-signing: symlinks were hashed as their targets' content. */
  followSymlinks: boolean;
  /**
   * Number of entries (vouch) or resources (model-signing); -1 when not known yet (a statement read in passes whose
   * header came before its list: the checkers then hold the list to the limits as it streams).
   */
  count: number;
}

/** A parsed, internally consistent signed directory (not yet compared with any disk). */
export interface SignedDirectory extends DirectoryHeader {
  /**
   * Sorted by `comparePaths`. For model-signing, files only, with `size: -1` and `executable: false` (the
   * format records neither).
   */
  entries: ManifestEntry[];
  counts: ManifestCounts;
}

/**
 * Where the entry list is when a statement is read in passes (src/core/json-stream.ts): the parsed skeleton holds
 * `marker` in its place, and `counts[member]` elements were seen there (`entries` or `resources`; absent: not
 * counted).
 */
export interface SplitList {
  marker: string;
  counts: Readonly<Record<string, number>>;
}

/** Lowercase hex digits, by character code. */
const HEX_DIGIT = (() => {
  const t = new Uint8Array(128);
  for (const c of '0123456789abcdef') t[c.charCodeAt(0)] = 1;
  return t;
})();

/** Whether `v` is 64 lowercase hex digits: a table per character (a million entries: ~2.5x the regular expression). */
function isHex64(v: unknown): v is string {
  if (typeof v !== 'string' || v.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = v.charCodeAt(i);
    if (c > 127 || HEX_DIGIT[c] === 0) return false;
  }
  return true;
}
const ASCII_ONLY = /^[\u0000-\u007f]*$/;
const ASCII_UPPER = /[A-Z]/;

function bad(message: string): VouchError {
  return new VouchError('MANIFEST_INVALID', message);
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${what} has an unknown member "${k.slice(0, 64)}"`);
  for (const k of keys) if (!(k in o)) throw bad(`${what} lacks "${k}"`);
}

function parseSubject(statement: Record<string, unknown>): { name: string; digest: Buffer } {
  const subjects = asArray(statement.subject, 'statement subject', 'MANIFEST_INVALID');
  if (subjects.length !== 1) throw bad('a directory statement has exactly one subject');
  const s = asObject(subjects[0], 'subject', 'MANIFEST_INVALID');
  const name = asString(s.name, 'subject name', 'MANIFEST_INVALID');
  if (name.length > 4096) throw bad('subject name is too long');
  const digest = asObject(s.digest, 'subject digest', 'MANIFEST_INVALID');
  const sha = digest.sha256;
  if (!isHex64(sha)) throw bad('subject digest must carry a lowercase hex sha256');
  return { name, digest: Buffer.from(sha, 'hex') };
}

/** Parse and check a directory statement (either format). Throws MANIFEST_INVALID on anything non-canonical. */
export function parseDirectoryStatement(
  statement: unknown,
  options: { limits?: Partial<DirectoryLimits> } = {},
): SignedDirectory {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const header = parseDirectoryHeader(statement, { limits });
  const st = statement as { predicate: Record<string, unknown> };
  const raw = (header.format === 'vouch' ? st.predicate.entries : st.predicate.resources) as unknown[];
  const checker = entryChecker(header, { limits, keep: true });
  for (const e of raw) checker.add(e);
  const { entries, counts } = checker.finish();
  return { ...header, entries: entries!, counts };
}

/**
 * The statement outside its entry list, checked: statement and predicate members, subject, rules, hash algorithm,
 * and the number of entries against the limits (before any entry is read). With `list`, the statement is a
 * skeleton read in passes whose list is the marker; otherwise the list is the array in it.
 */
export function parseDirectoryHeader(
  statement: unknown,
  options: { limits?: Partial<DirectoryLimits>; list?: SplitList } = {},
): DirectoryHeader {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const st = asObject(statement, 'statement', 'MANIFEST_INVALID');
  if (st._type !== IN_TOTO_STATEMENT_V1) throw bad('statement is not an in-toto Statement v1');
  const count = (v: unknown, member: string, what: string): number => {
    const list = options.list;
    if (list ? v !== list.marker : !Array.isArray(v)) throw bad(`${what} must be an array`);
    const n = list ? (list.counts[member] ?? -1) : (v as unknown[]).length;
    // Checked before looking at any entry, so an oversized manifest costs nothing.
    if (n > limits.maxEntries) throw bad(`manifest has more than ${limits.maxEntries} entries`);
    return n;
  };
  if (st.predicateType === VOUCH_DIRECTORY_PREDICATE) {
    exactKeys(st, ['_type', 'subject', 'predicateType', 'predicate'], 'statement');
    const { name, digest } = parseSubject(st);
    const p = asObject(st.predicate, 'predicate', 'MANIFEST_INVALID');
    exactKeys(p, ['hashAlgorithm', 'rules', 'entries'], 'predicate');
    if (p.hashAlgorithm !== 'sha256') throw new VouchError('BUNDLE_UNSUPPORTED', 'only sha256 manifests are supported');
    const rules = parseRules(p.rules, limits);
    return {
      format: 'vouch',
      name,
      digest,
      rules,
      followSymlinks: false,
      count: count(p.entries, 'entries', 'predicate.entries'),
    };
  }
  if (st.predicateType === MODEL_SIGNING_PREDICATE) {
    const { name, digest } = parseSubject(st);
    const p = asObject(st.predicate, 'predicate', 'MANIFEST_INVALID');
    const ser = asObject(p.serialization, 'predicate.serialization', 'MANIFEST_INVALID');
    if (ser.method !== 'files') {
      throw new VouchError(
        'BUNDLE_UNSUPPORTED',
        `model-signing method ${String(ser.method).slice(0, 40)} is not supported`,
      );
    }
    if (ser.hash_type !== 'sha256') {
      throw new VouchError(
        'BUNDLE_UNSUPPORTED',
        `model-signing hash ${String(ser.hash_type).slice(0, 40)} is not supported`,
      );
    }
    if (typeof ser.allow_symlinks !== 'boolean') throw bad('serialization.allow_symlinks must be a boolean');
    const ignore = ser.ignore_paths === undefined ? [] : asArray(ser.ignore_paths, 'ignore_paths', 'MANIFEST_INVALID');
    if (ignore.length > 10000) throw bad('too many ignore paths');
    const excludePaths = ignore.map((v) => {
      // Python's PurePosixPath drops a trailing slash; anything else must already be canonical.
      const s = asString(v, 'ignore path', 'MANIFEST_INVALID').replace(/\/+$/, '');
      return assertCanonicalPath(s, 'ignore path', 'MANIFEST_INVALID', limits);
    });
    return {
      format: 'model-signing',
      name,
      digest,
      rules: { excludeNames: [], excludePaths, allowExternalSymlinks: ser.allow_symlinks },
      followSymlinks: ser.allow_symlinks,
      count: count(p.resources, 'resources', 'predicate.resources'),
    };
  }
  // A file's or an image's statement given for a directory: say what it signs rather than "unsupported".
  const other =
    st.predicateType === VOUCH_FILE_PREDICATE ? 'a file' : st.predicateType === COSIGN_SIGN_PREDICATE ? 'an image' : '';
  if (other) {
    throw new VouchError('BUNDLE_KIND_MISMATCH', `the bundle signs ${other}, not a directory`, {
      hint: `The bundle signs ${other} (\`vouch inspect BUNDLE\` shows which): verify that artifact with it.`,
    });
  }
  throw new VouchError(
    'BUNDLE_UNSUPPORTED',
    `predicate type ${String(st.predicateType).slice(0, 100)} is not a directory`,
  );
}

function parseRules(v: unknown, limits: DirectoryLimits): DirectoryRules {
  const r = asObject(v, 'rules', 'MANIFEST_INVALID');
  exactKeys(r, ['excludeNames', 'excludePaths', 'allowExternalSymlinks'], 'rules');
  const names = asArray(r.excludeNames, 'rules.excludeNames', 'MANIFEST_INVALID');
  const paths = asArray(r.excludePaths, 'rules.excludePaths', 'MANIFEST_INVALID');
  if (names.length > 1000 || paths.length > 10000) throw bad('too many exclusion rules');
  const excludeNames = names.map((n) => {
    const s = asString(n, 'excluded name', 'MANIFEST_INVALID');
    const p = componentProblem(s);
    if (p) throw bad(`excluded name ${JSON.stringify(s.slice(0, 100))}: ${p}`);
    return s;
  });
  const excludePaths = paths.map((p) => assertCanonicalPath(p, 'excluded path', 'MANIFEST_INVALID', limits));
  for (const list of [excludeNames, excludePaths]) {
    for (let i = 1; i < list.length; i++) {
      if (comparePaths(list[i - 1]!, list[i]!) >= 0) throw bad('exclusion rules are not sorted and unique');
    }
  }
  if (typeof r.allowExternalSymlinks !== 'boolean') throw bad('rules.allowExternalSymlinks must be a boolean');
  return { excludeNames, excludePaths, allowExternalSymlinks: r.allowExternalSymlinks };
}

/** One manifest entry checked on its own (path canonical, exact members, value types). */
export function parseEntry(v: unknown, limits: DirectoryLimits = DEFAULT_LIMITS): ManifestEntry {
  const o = asObject(v, 'manifest entry', 'MANIFEST_INVALID');
  const path = assertCanonicalPath(o.path, 'manifest path', 'MANIFEST_INVALID', limits);
  switch (o.kind) {
    case 'file': {
      exactKeys(o, ['path', 'kind', 'size', 'sha256', 'executable'], `entry ${path}`);
      if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw bad(`${path}: bad size`);
      if (!isHex64(o.sha256)) throw bad(`${path}: bad sha256`);
      if (typeof o.executable !== 'boolean') throw bad(`${path}: executable must be a boolean`);
      // Exactly these five data members, checked: the parsed object itself is the entry (a million-entry manifest
      // is not copied). Statements come from JSON.parse, so there are no accessors to change a value later.
      return o as unknown as FileEntry;
    }
    case 'symlink': {
      exactKeys(o, ['path', 'kind', 'target'], `entry ${path}`);
      const t = o.target;
      if (typeof t !== 'string' || t === '' || t.includes('\0') || Buffer.byteLength(t) > limits.maxPathBytes) {
        throw bad(`${path}: bad symlink target`);
      }
      return { path, kind: 'symlink', target: t };
    }
    case 'dir':
      exactKeys(o, ['path', 'kind'], `entry ${path}`);
      return { path, kind: 'dir' };
    default:
      throw bad(`${path}: unknown entry kind`);
  }
}

/** A statement's entries, checked, as far as they are kept: see CheckedDirectory. */
export interface CheckedEntries {
  counts: ManifestCounts;
  /** Every entry, sorted: model-signing always, vouch only when asked to keep them. */
  entries?: ManifestEntry[];
  /** The entries found at the paths looked up (the bundle's own path, `--path`). */
  found: Map<string, ManifestEntry>;
}

/** A signed directory whose statement and entries were checked, with or without its entries in memory. */
export type CheckedDirectory = DirectoryHeader & CheckedEntries;

/** Checks the entries of a statement one at a time, in listed order; `finish` checks the subject digest. */
export interface EntryChecker {
  /** Check one raw entry (a parsed JSON value); returns it as an entry. */
  add(raw: unknown): ManifestEntry;
  /** After the last entry: fails when the count or the digest does not match. */
  finish(): CheckedEntries;
}

/**
 * The checker for a statement's entries. `keep`: collect the vouch format's entries (model-signing always keeps
 * them: its resources may be listed in any order and are compared sorted). `lookup`: paths whose entries to return.
 */
export function entryChecker(
  header: DirectoryHeader,
  options: { limits?: Partial<DirectoryLimits>; keep?: boolean; lookup?: Iterable<string> } = {},
): EntryChecker {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const lookup = new Set(options.lookup ?? []);
  return header.format === 'vouch'
    ? new VouchEntries(header, limits, options.keep ?? false, lookup)
    : new ModelResources(header, limits, lookup);
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

/**
 * The vouch format's entries, checked in one pass with memory independent of their number (a million-entry
 * manifest is read as it streams): canonical paths in strictly increasing byte order (so no duplicates), no entry
 * beneath a non-directory entry, none excluded by the rules, no external symlink unless allowed, one spelling per
 * case- and normalisation-insensitive name, and the subject digest over the canonical entries.
 */
class VouchEntries implements EntryChecker {
  readonly #header: DirectoryHeader;
  readonly #limits: DirectoryLimits;
  readonly #entries: ManifestEntry[] | undefined;
  readonly #excludeNames: Set<string>;
  readonly #excludePaths: Set<string>;
  readonly #digest = createHash('sha256');
  #chunk = '[';
  readonly #counts: ManifestCounts = { files: 0, symlinks: 0, emptyDirectories: 0, bytes: 0 };
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

  readonly #lookup: ReadonlySet<string>;
  readonly #found = new Map<string, ManifestEntry>();

  constructor(header: DirectoryHeader, limits: DirectoryLimits, keep: boolean, lookup: ReadonlySet<string>) {
    this.#header = header;
    this.#limits = limits;
    this.#lookup = lookup;
    this.#entries = keep ? [] : undefined;
    this.#excludeNames = new Set(header.rules.excludeNames);
    this.#excludePaths = new Set(header.rules.excludePaths);
  }

  #collide(path: string, other: string): VouchError {
    return bad(`${path} collides with ${other} on case-insensitive file systems`);
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

  add(raw: unknown): ManifestEntry {
    if (this.#n >= this.#limits.maxEntries) throw bad(`manifest has more than ${this.#limits.maxEntries} entries`);
    if (this.#header.count >= 0 && this.#n >= this.#header.count) throw bad('more entries than the statement lists');
    const e = parseEntry(raw, this.#limits);
    const path = e.path;
    if (this.#prev !== undefined) {
      const c = comparePaths(this.#prev, path);
      if (c === 0) throw bad(`duplicate entry ${path}`);
      if (c > 0) throw bad(`entries are not in canonical order at ${path}`);
    }
    this.#prev = path;
    const anc = this.#ancestors;
    for (;;) {
      const top = anc[anc.length - 1];
      if (top === undefined) break;
      if (path.startsWith(top) && path.charCodeAt(top.length) <= 0x2f) {
        if (path.charCodeAt(top.length) === 0x2f) throw bad(`${path} lies under the non-directory entry ${top}`);
        break;
      }
      anc.pop();
    }
    anc.push(path);
    this.#claim(path, path);
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const last = slash < 0 ? path : path.slice(slash + 1);
    if (this.#excludeNames.has(last) || this.#excludePaths.has(path)) throw bad(`${path} is excluded by the rules`);
    // Every proper prefix must be a plain directory, not excluded, and claim its spelling; checked once per run of
    // entries sharing a parent.
    if (parent !== this.#prevParent && parent !== '') {
      for (let k = parent.indexOf('/'); ; k = parent.indexOf('/', k + 1)) {
        const prefix = k < 0 ? parent : parent.slice(0, k);
        const name = prefix.slice(prefix.lastIndexOf('/') + 1);
        if (this.#excludeNames.has(name) || this.#excludePaths.has(prefix)) {
          throw bad(`${path} is excluded by the rules`);
        }
        this.#claim(prefix, path);
        if (k < 0) break;
      }
    }
    this.#prevParent = parent;
    if (e.kind === 'symlink' && !this.#header.rules.allowExternalSymlinks && symlinkEscapes(e.path, e.target)) {
      throw bad(`${e.path}: symlink leads outside the directory, which the rules forbid`);
    }
    switch (e.kind) {
      case 'file':
        this.#counts.files++;
        this.#counts.bytes += e.size;
        break;
      case 'symlink':
        this.#counts.symlinks++;
        break;
      default:
        this.#counts.emptyDirectories++;
    }
    if (this.#n > 0) this.#chunk += ',';
    this.#chunk += canonicalEntry(e, true);
    if (this.#chunk.length > 65536) {
      this.#digest.update(this.#chunk);
      this.#chunk = '';
    }
    this.#n++;
    this.#entries?.push(e);
    if (this.#lookup.has(path)) this.#found.set(path, e);
    return e;
  }

  finish(): CheckedEntries {
    if (this.#header.count >= 0 && this.#n !== this.#header.count) throw bad('fewer entries than the statement lists');
    this.#digest.update(`${this.#chunk}]`);
    // The digest binds the subject to the entries; a statement whose subject names another tree is not ours to trust.
    if (!this.#digest.digest().equals(this.#header.digest)) {
      throw bad('subject digest does not match the manifest entries');
    }
    const r: CheckedEntries = { counts: this.#counts, found: this.#found };
    if (this.#entries) r.entries = this.#entries;
    return r;
  }
}

/** The model-signing format's resources: any order (the root digest covers it), no duplicates, sorted at the end. */
class ModelResources implements EntryChecker {
  readonly #header: DirectoryHeader;
  readonly #limits: DirectoryLimits;
  readonly #root = createHash('sha256');
  readonly #entries: ManifestEntry[] = [];
  readonly #seen = new Set<string>();
  readonly #lookup: ReadonlySet<string>;

  constructor(header: DirectoryHeader, limits: DirectoryLimits, lookup: ReadonlySet<string>) {
    this.#header = header;
    this.#limits = limits;
    this.#lookup = lookup;
  }

  add(raw: unknown): ManifestEntry {
    const n = this.#entries.length;
    if (n >= this.#limits.maxEntries) throw bad(`manifest has more than ${this.#limits.maxEntries} resources`);
    if (this.#header.count >= 0 && n >= this.#header.count) throw bad('more resources than the statement lists');
    const r = asObject(raw, 'resource', 'MANIFEST_INVALID');
    const path = assertCanonicalPath(r.name, 'resource name', 'MANIFEST_INVALID', this.#limits);
    if (r.algorithm !== 'sha256') {
      throw new VouchError('BUNDLE_UNSUPPORTED', `${path}: resource algorithm is not sha256`);
    }
    if (!isHex64(r.digest)) throw bad(`${path}: bad digest`);
    if (this.#seen.has(path)) throw bad(`duplicate resource ${path}`);
    this.#seen.add(path);
    this.#root.update(Buffer.from(r.digest, 'hex'));
    const e: ManifestEntry = { path, kind: 'file', size: -1, sha256: r.digest, executable: false };
    this.#entries.push(e);
    return e;
  }

  finish(): CheckedEntries & { entries: ManifestEntry[] } {
    const entries = this.#entries;
    if (this.#header.count >= 0 && entries.length !== this.#header.count) {
      throw bad('fewer resources than the statement lists');
    }
    // Resource order is whatever the signer listed (the root digest covers it); comparison needs path order.
    sortByPath(entries);
    for (const e of entries) {
      for (let k = e.path.indexOf('/'); k > 0; k = e.path.indexOf('/', k + 1)) {
        if (this.#seen.has(e.path.slice(0, k))) throw bad(`${e.path} lies under the file ${e.path.slice(0, k)}`);
      }
    }
    if (!this.#root.digest().equals(this.#header.digest)) throw bad('subject digest does not match the resources');
    const found = new Map(entries.filter((e) => this.#lookup.has(e.path)).map((e) => [e.path, e] as const));
    return { entries, counts: { files: entries.length, symlinks: 0, emptyDirectories: 0, bytes: 0 }, found };
  }
}
