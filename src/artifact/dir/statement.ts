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
import { asArray, asObject, asString } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import {
  compactOf,
  type DirectoryRules,
  type FileEntry,
  IN_TOTO_STATEMENT_V1,
  type Manifest,
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

export interface InTotoSubject {
  name: string;
  digest: Record<string, string>;
}

/** An in-toto Statement v1, as signed inside the DSSE envelope (payloadType application/vnd.in-toto+json). */
export interface InTotoStatement {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: InTotoSubject[];
  predicateType: string;
  predicate: Record<string, unknown>;
}

/** Default rules per format: model-signing only knows root-relative ignore paths, so `.git` is one of those. */
export function defaultRules(format: DirectoryFormat): DirectoryRules {
  return format === 'vouch'
    ? { excludeNames: ['.git'], excludePaths: [], allowExternalSymlinks: false }
    : { excludeNames: [], excludePaths: ['.git'], allowExternalSymlinks: false };
}

/** The statement to sign for a walked directory. `name` is informative (renaming the directory keeps it valid). */
export function buildStatement(manifest: Manifest, name: string, format: DirectoryFormat): InTotoStatement {
  if (format === 'vouch') {
    const unsignable = (e: ManifestEntry) => {
      if (e.kind === 'file' && e.setid !== undefined) {
        throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path} is setuid/setgid`);
      }
      if (e.kind === 'other') throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path} is not a file, symlink or dir`);
    };
    // A walk's columnar entries are checked column-wise and signed as they are: JSON.stringify builds each entry
    // object only while writing it (no million live objects). Walks made for signing never carry `setid`.
    const compact = compactOf(manifest.entries);
    let entries: ManifestEntry[];
    if (compact) {
      for (let i = 0; i < compact.length; i++) {
        const e = compact.unsignable(i);
        if (e) unsignable(e);
      }
      entries = manifest.entries;
    } else {
      entries = manifest.entries.map((e) => {
        unsignable(e);
        return e;
      });
    }
    return {
      _type: IN_TOTO_STATEMENT_V1,
      subject: [{ name, digest: { sha256: manifestDigest(manifest.entries).toString('hex') } }],
      predicateType: VOUCH_DIRECTORY_PREDICATE,
      predicate: {
        hashAlgorithm: manifest.hashAlgorithm,
        rules: {
          excludeNames: [...new Set(manifest.rules.excludeNames)].sort(comparePaths),
          excludePaths: [...new Set(manifest.rules.excludePaths)].sort(comparePaths),
          allowExternalSymlinks: manifest.rules.allowExternalSymlinks,
        },
        entries,
      },
    };
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

/** A parsed, internally consistent signed directory (not yet compared with any disk). */
export interface SignedDirectory {
  format: DirectoryFormat;
  name: string;
  /** The subject digest: manifest digest (vouch) or root digest over resources (model-signing). */
  digest: Buffer;
  rules: DirectoryRules;
  /**
   * Sorted by `comparePaths`. For model-signing, files only, with `size: -1` and `executable: false` (the
   * format records neither).
   */
  entries: ManifestEntry[];
  /** model-signing: symlinks were hashed as their targets' content. */
  followSymlinks: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;

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
  if (typeof sha !== 'string' || !HEX64.test(sha)) throw bad('subject digest must carry a lowercase hex sha256');
  return { name, digest: Buffer.from(sha, 'hex') };
}

/** Parse and check a directory statement (either format). Throws MANIFEST_INVALID on anything non-canonical. */
export function parseDirectoryStatement(
  statement: unknown,
  options: { limits?: Partial<DirectoryLimits> } = {},
): SignedDirectory {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const st = asObject(statement, 'statement', 'MANIFEST_INVALID');
  if (st._type !== IN_TOTO_STATEMENT_V1) throw bad('statement is not an in-toto Statement v1');
  if (st.predicateType === VOUCH_DIRECTORY_PREDICATE) return parseVouch(st, limits);
  if (st.predicateType === MODEL_SIGNING_PREDICATE) return parseModelSigning(st, limits);
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

function parseEntry(v: unknown, limits: DirectoryLimits): ManifestEntry {
  const o = asObject(v, 'manifest entry', 'MANIFEST_INVALID');
  const path = assertCanonicalPath(o.path, 'manifest path', 'MANIFEST_INVALID', limits);
  switch (o.kind) {
    case 'file': {
      exactKeys(o, ['path', 'kind', 'size', 'sha256', 'executable'], `entry ${path}`);
      if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw bad(`${path}: bad size`);
      if (typeof o.sha256 !== 'string' || !HEX64.test(o.sha256)) throw bad(`${path}: bad sha256`);
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

function parseVouch(st: Record<string, unknown>, limits: DirectoryLimits): SignedDirectory {
  exactKeys(st, ['_type', 'subject', 'predicateType', 'predicate'], 'statement');
  const { name, digest } = parseSubject(st);
  const p = asObject(st.predicate, 'predicate', 'MANIFEST_INVALID');
  exactKeys(p, ['hashAlgorithm', 'rules', 'entries'], 'predicate');
  if (p.hashAlgorithm !== 'sha256') throw new VouchError('BUNDLE_UNSUPPORTED', 'only sha256 manifests are supported');
  const rules = parseRules(p.rules, limits);
  const raw = asArray(p.entries, 'predicate.entries', 'MANIFEST_INVALID');
  // Checked before looking at any entry, so an oversized manifest costs nothing.
  if (raw.length > limits.maxEntries) throw bad(`manifest has more than ${limits.maxEntries} entries`);
  const excludeNames = new Set(rules.excludeNames);
  const excludePaths = new Set(rules.excludePaths);
  const entries: ManifestEntry[] = new Array(raw.length);
  let i = 0;
  /** Whether entries[0..i) hold `p` itself (exact) or, with `under`, anything beneath `p/` (sorted: binary search). */
  const seen = (p: string, under: boolean): boolean => {
    const key = under ? `${p}/` : p;
    let lo = 0;
    let hi = i;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePaths(entries[mid]!.path, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < i && (under ? entries[lo]!.path.startsWith(key) : entries[lo]!.path === p);
  };
  // One spelling per case-insensitive, normalisation-insensitive name, for entries and implied directories alike:
  // `A/x` beside `a/y` names one directory twice on macOS and Windows. Two spellings with one key differ, so at
  // least one is not its own key ("fancy"): only those are remembered (a handful in a real tree, instead of a map
  // entry per path); a plain spelling seen before a fancy one is found among the sorted entries so far.
  const fancy = new Map<string, string>();
  const collide = (path: string, other: string) =>
    bad(`${path} collides with ${other} on case-insensitive file systems`);
  const claim = (p: string, path: string) => {
    const key = collisionKey(p);
    const other = fancy.get(key);
    if (key === p) {
      if (other !== undefined) throw collide(path, other);
      return;
    }
    if (other !== undefined) {
      if (other !== p) throw collide(path, other);
      return;
    }
    fancy.set(key, p);
    if (seen(key, false) || seen(key, true)) throw collide(path, key);
  };
  let prev: string | undefined;
  let prevParent: string | undefined;
  for (; i < raw.length; i++) {
    const e = parseEntry(raw[i], limits);
    const path = e.path;
    if (prev !== undefined) {
      const c = comparePaths(prev, path);
      if (c === 0) throw bad(`duplicate entry ${path}`);
      if (c > 0) throw bad(`entries are not in canonical order at ${path}`);
    }
    prev = path;
    claim(path, path);
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const last = slash < 0 ? path : path.slice(slash + 1);
    if (excludeNames.has(last) || excludePaths.has(path)) throw bad(`${path} is excluded by the rules`);
    // Every proper prefix must be a plain directory: nothing lives under a file, symlink or empty directory, and
    // nothing under an excluded path. In byte order an entry precedes everything beneath it, so the ancestors are
    // checked once per run of entries sharing a parent.
    if (parent !== prevParent && parent !== '') {
      for (let k = parent.indexOf('/'); ; k = parent.indexOf('/', k + 1)) {
        const prefix = k < 0 ? parent : parent.slice(0, k);
        const name = prefix.slice(prefix.lastIndexOf('/') + 1);
        if (excludeNames.has(name) || excludePaths.has(prefix)) throw bad(`${path} is excluded by the rules`);
        if (seen(prefix, false)) throw bad(`${path} lies under the non-directory entry ${prefix}`);
        claim(prefix, path);
        if (k < 0) break;
      }
    }
    prevParent = parent;
    if (e.kind === 'symlink' && !rules.allowExternalSymlinks && symlinkEscapes(e.path, e.target)) {
      throw bad(`${e.path}: symlink leads outside the directory, which the rules forbid`);
    }
    entries[i] = e;
  }
  // The digest binds the subject to the entries; a statement whose subject names another tree is not ours to trust.
  if (!manifestDigest(entries).equals(digest)) throw bad('subject digest does not match the manifest entries');
  return { format: 'vouch', name, digest, rules, entries, followSymlinks: false };
}

function parseModelSigning(st: Record<string, unknown>, limits: DirectoryLimits): SignedDirectory {
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
  const raw = asArray(p.resources, 'predicate.resources', 'MANIFEST_INVALID');
  if (raw.length > limits.maxEntries) throw bad(`manifest has more than ${limits.maxEntries} resources`);
  const root = createHash('sha256');
  const entries: ManifestEntry[] = new Array(raw.length);
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const r = asObject(raw[i], 'resource', 'MANIFEST_INVALID');
    const path = assertCanonicalPath(r.name, 'resource name', 'MANIFEST_INVALID', limits);
    if (r.algorithm !== 'sha256')
      throw new VouchError('BUNDLE_UNSUPPORTED', `${path}: resource algorithm is not sha256`);
    if (typeof r.digest !== 'string' || !HEX64.test(r.digest)) throw bad(`${path}: bad digest`);
    if (seen.has(path)) throw bad(`duplicate resource ${path}`);
    seen.add(path);
    root.update(Buffer.from(r.digest, 'hex'));
    entries[i] = { path, kind: 'file', size: -1, sha256: r.digest, executable: false };
  }
  // Resource order is whatever the signer listed (the root digest covers it); comparison needs path order.
  sortByPath(entries);
  for (const e of entries) {
    for (let k = e.path.indexOf('/'); k > 0; k = e.path.indexOf('/', k + 1)) {
      if (seen.has(e.path.slice(0, k))) throw bad(`${e.path} lies under the file ${e.path.slice(0, k)}`);
    }
  }
  if (!root.digest().equals(digest)) throw bad('subject digest does not match the resources');
  return {
    format: 'model-signing',
    name,
    digest,
    rules: { excludeNames: [], excludePaths, allowExternalSymlinks: ser.allow_symlinks },
    entries,
    followSymlinks: ser.allow_symlinks,
  };
}
