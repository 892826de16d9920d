/**
 * In-toto statements for directories, in two predicate formats:
 * - `https://vouch.dev/directory/v2` (docs/formats/directory-manifest.md): a small statement whose subject is the
 *   directory's name and the SHA-256 of its manifest (one canonical JSON line per entry), and whose predicate holds
 *   the rules, the counts, and the manifest's media type and size, with the manifest itself (base64) when it is at
 *   most 1 MiB; a larger one is the file beside the bundle.
 * - `https://model_signing/signature/v1.0`, method `files` (OpenSSF model-signing, sigstore/model-transparency):
 *   one resource per regular file `{name, algorithm, digest}`; the subject digest is SHA-256 over the concatenated
 *   raw resource digests in listed order; `serialization` records `hash_type`, `allow_symlinks` and `ignore_paths`.
 * Parsing is strict: a member not understood is refused (MANIFEST_INVALID), and so is every statement that does
 * not describe exactly one canonical tree (BUNDLE_UNSUPPORTED for variants vouch does not implement).
 */
import { createHash } from 'node:crypto';
import { decodeBase64 } from '../../core/encoding.ts';
import { IN_TOTO_STATEMENT_V1, type InTotoStatement as Statement, VOUCH_FILE_PREDICATE } from '../../core/intoto.ts';
import { asArray, asObject, asString } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { COSIGN_SIGN_PREDICATE } from '../oci/binding.ts';
import { checkResources } from './checker.ts';
import type { EntryTable } from './entries.ts';
import { EMBED_LIMIT, type WrittenManifest } from './lines.ts';
import type { DirectoryRules, FileEntry, ManifestCounts } from './manifest.ts';
import {
  assertCanonicalPath,
  compareComponentwise,
  comparePaths,
  componentProblem,
  DEFAULT_LIMITS,
  type DirectoryLimits,
} from './paths.ts';
import { type PeCheckRecord, parsePeCheck } from './pe.ts';

export const VOUCH_DIRECTORY_PREDICATE = 'https://vouch.dev/directory/v2';
export const MODEL_SIGNING_PREDICATE = 'https://model_signing/signature/v1.0';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.vouch.directory-manifest.v2+jsonl';

export type DirectoryFormat = 'vouch' | 'model-signing';

/** A directory's in-toto statement: its predicate is always there. */
export type InTotoStatement = Statement<Record<string, unknown>> & { predicate: Record<string, unknown> };

/** Default rules per format: model-signing only knows root-relative ignore paths, so `.git` is one of those. */
export function defaultRules(format: DirectoryFormat): DirectoryRules {
  return format === 'vouch'
    ? { excludeNames: ['.git'], excludePaths: [], signatureFiles: [], allowExternalSymlinks: false }
    : { excludeNames: [], excludePaths: ['.git'], signatureFiles: [], allowExternalSymlinks: false };
}

/** A checked vouch statement: everything but the manifest's entries, which are read and checked as they stream. */
export interface VouchDirectory {
  format: 'vouch';
  name: string;
  /** The manifest's SHA-256 (the subject digest). */
  digest: Buffer;
  rules: DirectoryRules;
  counts: ManifestCounts;
  manifest: { size: number; embedded?: Buffer };
  /** The PE check the signer ran (absent: signed without it). */
  peCheck?: PeCheckRecord;
}

/** A checked model-signing statement, its resources sorted by path (size -1: the format records none). */
export interface ModelSigningDirectory {
  format: 'model-signing';
  name: string;
  /** The root digest over the resources. */
  digest: Buffer;
  rules: DirectoryRules;
  /** `allow_symlinks`: the signer hashed a symlink as its target's content. */
  followSymlinks: boolean;
  resources: FileEntry[];
  counts: ManifestCounts;
}

export type SignedDirectory = VouchDirectory | ModelSigningDirectory;

const sortedUnique = (list: readonly string[]) => [...new Set(list)].sort(comparePaths);

/** The vouch-format statement of a walked tree whose manifest was written as `manifest`. */
export function vouchStatement(
  name: string,
  rules: DirectoryRules,
  counts: ManifestCounts,
  manifest: WrittenManifest,
  peCheck?: PeCheckRecord,
): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: manifest.sha256.toString('hex') } }],
    predicateType: VOUCH_DIRECTORY_PREDICATE,
    predicate: {
      hashAlgorithm: 'sha256',
      rules: {
        excludeNames: sortedUnique(rules.excludeNames),
        excludePaths: sortedUnique(rules.excludePaths),
        signatureFiles: sortedUnique(rules.signatureFiles),
        allowExternalSymlinks: rules.allowExternalSymlinks,
      },
      counts: { ...counts },
      manifest: {
        mediaType: MANIFEST_MEDIA_TYPE,
        size: manifest.size,
        ...(manifest.bytes && { content: manifest.bytes.toString('base64') }),
      },
      ...(peCheck && { peCheck: { version: peCheck.version, files: peCheck.files, allowed: peCheck.allowed } }),
    },
  };
}

/** The model-signing statement of a walked tree: its regular files only (it cannot record symlinks or modes). */
export function modelSigningStatement(entries: EntryTable, rules: DirectoryRules, name: string): InTotoStatement {
  if (rules.excludeNames.length > 0) {
    throw new VouchError(
      'USAGE',
      'the model-signing format only records root-relative ignore paths; walk with excludePaths, not excludeNames',
    );
  }
  const files: FileEntry[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries.at(i);
    if (e.kind === 'file') files.push(e);
    else if (e.kind !== 'dir') {
      // allow_symlinks=true means "follow and hash the target" in model-signing; vouch never follows, so it
      // signs only trees without symlinks in this format.
      throw new VouchError('DIRECTORY_UNSUPPORTED', `${e.path}: the model-signing format cannot record symlinks`);
    }
  }
  files.sort((a, b) => compareComponentwise(a.path, b.path));
  const root = createHash('sha256');
  for (const f of files) root.update(Buffer.from(f.sha256, 'hex'));
  const ignore = sortedUnique([...rules.excludePaths, ...rules.signatureFiles]);
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name, digest: { sha256: root.digest('hex') } }],
    predicateType: MODEL_SIGNING_PREDICATE,
    predicate: {
      serialization: {
        method: 'files',
        hash_type: 'sha256',
        allow_symlinks: false,
        ...(ignore.length > 0 && { ignore_paths: ignore }),
      },
      resources: files.map((f) => ({ name: f.path, algorithm: 'sha256', digest: f.sha256 })),
    },
  };
}

function bad(message: string): VouchError {
  return new VouchError('MANIFEST_INVALID', message);
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[], what: string, optional: string[] = []): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k) && !optional.includes(k)) throw bad(`${what} has an unknown member "${k.slice(0, 64)}"`);
  }
  for (const k of keys) if (!(k in o)) throw bad(`${what} lacks "${k}"`);
}

function isHex64(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
}

function count(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw bad(`${what} must be a count`);
  return v;
}

function parseSubject(st: Record<string, unknown>): { name: string; digest: Buffer } {
  const subjects = asArray(st.subject, 'statement subject', 'MANIFEST_INVALID');
  if (subjects.length !== 1) throw bad('a directory statement has exactly one subject');
  const s = asObject(subjects[0], 'subject', 'MANIFEST_INVALID');
  exactKeys(s, ['name', 'digest'], 'subject');
  const name = asString(s.name, 'subject name', 'MANIFEST_INVALID');
  if (name.length > 4096) throw bad('subject name is too long');
  const digest = asObject(s.digest, 'subject digest', 'MANIFEST_INVALID');
  exactKeys(digest, ['sha256'], 'subject digest');
  if (!isHex64(digest.sha256)) throw bad('subject digest must carry a lowercase hex sha256');
  return { name, digest: Buffer.from(digest.sha256, 'hex') };
}

/** Parse and check a directory statement (either format). Throws MANIFEST_INVALID on anything non-canonical. */
export function parseDirectoryStatement(
  statement: unknown,
  options: { limits?: Partial<DirectoryLimits> } = {},
): SignedDirectory {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const st = asObject(statement, 'statement', 'MANIFEST_INVALID');
  if (st._type !== IN_TOTO_STATEMENT_V1) throw bad('statement is not an in-toto Statement v1');
  if (st.predicateType !== VOUCH_DIRECTORY_PREDICATE && st.predicateType !== MODEL_SIGNING_PREDICATE) {
    // A file's or an image's statement given for a directory: say what it signs rather than "unsupported".
    const other =
      st.predicateType === VOUCH_FILE_PREDICATE
        ? 'a file'
        : st.predicateType === COSIGN_SIGN_PREDICATE
          ? 'an image'
          : '';
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
  exactKeys(st, ['_type', 'subject', 'predicateType', 'predicate'], 'statement');
  const { name, digest } = parseSubject(st);
  const p = asObject(st.predicate, 'predicate', 'MANIFEST_INVALID');
  if (st.predicateType === MODEL_SIGNING_PREDICATE) return parseModelSigning(name, digest, p, limits);
  exactKeys(p, ['hashAlgorithm', 'rules', 'counts', 'manifest'], 'predicate', ['peCheck']);
  if (p.hashAlgorithm !== 'sha256') throw new VouchError('BUNDLE_UNSUPPORTED', 'only sha256 manifests are supported');
  const rules = parseRules(p.rules, limits);
  const c = asObject(p.counts, 'predicate.counts', 'MANIFEST_INVALID');
  exactKeys(c, ['files', 'symlinks', 'emptyDirectories', 'bytes'], 'predicate.counts');
  const counts: ManifestCounts = {
    files: count(c.files, 'counts.files', limits.maxEntries),
    symlinks: count(c.symlinks, 'counts.symlinks', limits.maxEntries),
    emptyDirectories: count(c.emptyDirectories, 'counts.emptyDirectories', limits.maxEntries),
    bytes: count(c.bytes, 'counts.bytes'),
  };
  // Checked before any entry is read, so an oversized manifest costs nothing.
  if (counts.files + counts.symlinks + counts.emptyDirectories > limits.maxEntries) {
    throw bad(`manifest has more than ${limits.maxEntries} entries`);
  }
  const m = asObject(p.manifest, 'predicate.manifest', 'MANIFEST_INVALID');
  exactKeys(m, ['mediaType', 'size'], 'predicate.manifest', ['content']);
  if (m.mediaType !== MANIFEST_MEDIA_TYPE) {
    throw new VouchError('BUNDLE_UNSUPPORTED', `manifest media type ${String(m.mediaType).slice(0, 100)}`);
  }
  const size = count(m.size, 'manifest.size');
  const manifest: VouchDirectory['manifest'] = { size };
  if (m.content !== undefined) {
    if (size > EMBED_LIMIT) throw bad('an embedded manifest is at most 1 MiB');
    const bytes = decodeBase64(m.content, 'predicate.manifest.content', 'MANIFEST_INVALID');
    if (bytes.length !== size) throw bad('the embedded manifest is not of the signed size');
    manifest.embedded = bytes;
  }
  const signed: VouchDirectory = { format: 'vouch', name, digest, rules, counts, manifest };
  if (p.peCheck !== undefined) signed.peCheck = parsePeCheck(p.peCheck, limits);
  return signed;
}

function parseModelSigning(
  name: string,
  digest: Buffer,
  p: Record<string, unknown>,
  limits: DirectoryLimits,
): ModelSigningDirectory {
  exactKeys(p, ['serialization', 'resources'], 'predicate');
  const ser = asObject(p.serialization, 'predicate.serialization', 'MANIFEST_INVALID');
  if (ser.method !== 'files') {
    throw new VouchError('BUNDLE_UNSUPPORTED', `model-signing method ${String(ser.method).slice(0, 40)}`);
  }
  if (ser.hash_type !== 'sha256') {
    throw new VouchError('BUNDLE_UNSUPPORTED', `model-signing hash ${String(ser.hash_type).slice(0, 40)}`);
  }
  exactKeys(ser, ['method', 'hash_type', 'allow_symlinks'], 'serialization', ['ignore_paths']);
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
  const resources = raw.map((v): FileEntry => {
    const r = asObject(v, 'resource', 'MANIFEST_INVALID');
    const path = assertCanonicalPath(r.name, 'resource name', 'MANIFEST_INVALID', limits);
    if (r.algorithm !== 'sha256') throw new VouchError('BUNDLE_UNSUPPORTED', `${path}: resource algorithm`);
    exactKeys(r, ['name', 'algorithm', 'digest'], `resource ${JSON.stringify(path)}`);
    if (!isHex64(r.digest)) throw bad(`${path}: bad digest`);
    root.update(Buffer.from(r.digest, 'hex'));
    return { path, kind: 'file', size: -1, sha256: r.digest, executable: false };
  });
  const entries = checkResources(resources, excludePaths, limits);
  if (!root.digest().equals(digest)) throw bad('subject digest does not match the resources');
  return {
    format: 'model-signing',
    name,
    digest,
    rules: { excludeNames: [], excludePaths, signatureFiles: [], allowExternalSymlinks: ser.allow_symlinks },
    followSymlinks: ser.allow_symlinks,
    resources: entries,
    counts: { files: entries.length, symlinks: 0, emptyDirectories: 0, bytes: 0 },
  };
}

function parseRules(v: unknown, limits: DirectoryLimits): DirectoryRules {
  const r = asObject(v, 'rules', 'MANIFEST_INVALID');
  exactKeys(r, ['excludeNames', 'excludePaths', 'signatureFiles', 'allowExternalSymlinks'], 'rules');
  const names = asArray(r.excludeNames, 'rules.excludeNames', 'MANIFEST_INVALID');
  const paths = asArray(r.excludePaths, 'rules.excludePaths', 'MANIFEST_INVALID');
  const own = asArray(r.signatureFiles, 'rules.signatureFiles', 'MANIFEST_INVALID');
  if (names.length > 1000 || paths.length > 10000 || own.length > 2) throw bad('too many exclusion rules');
  const excludeNames = names.map((n) => {
    const s = asString(n, 'excluded name', 'MANIFEST_INVALID');
    const p = componentProblem(s);
    if (p) throw bad(`excluded name ${JSON.stringify(s.slice(0, 100))}: ${p}`);
    return s;
  });
  const canonical = (p: unknown) => assertCanonicalPath(p, 'excluded path', 'MANIFEST_INVALID', limits);
  const excludePaths = paths.map(canonical);
  const signatureFiles = own.map(canonical);
  for (const list of [excludeNames, excludePaths, signatureFiles]) {
    for (let i = 1; i < list.length; i++) {
      if (comparePaths(list[i - 1]!, list[i]!) >= 0) throw bad('exclusion rules are not sorted and unique');
    }
  }
  if (typeof r.allowExternalSymlinks !== 'boolean') throw bad('rules.allowExternalSymlinks must be a boolean');
  return { excludeNames, excludePaths, signatureFiles, allowExternalSymlinks: r.allowExternalSymlinks };
}
