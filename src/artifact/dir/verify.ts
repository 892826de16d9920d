/**
 * Check a verified directory statement against the tree on disk. The statement's signature is checked by
 * src/verify (DSSE, `ArtifactInput {kind: 'statement'}`); these functions take the statement object it returns,
 * re-walk the tree with the signer's recorded rules and re-hash every file (never a cache: a cache keyed by
 * timestamps is something an attacker with write access can forge).
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { statementFrame, statementJsonParts } from '../../core/chunked.ts';
import { hashFile } from '../../core/digest.ts';
import { thousands } from '../../core/encoding.ts';
import { isVouchError, VouchError } from '../../errors.ts';
import { hashFiles, M_MODE, M_SIZE, ST_CACHED, ST_MISSING, ST_OK } from './hash.ts';
import {
  compactOf,
  compareManifest,
  countEntries,
  type Difference,
  ManifestComparer,
  type ManifestCounts,
  type ManifestEntry,
  manifestDigest,
} from './manifest.ts';
import { assertCanonicalPath, comparePaths, type DirectoryLimits } from './paths.ts';
import {
  assertSignable,
  type CheckedDirectory,
  type DirectoryFormat,
  type DirectoryHeader,
  entryChecker,
  parseDirectoryHeader,
  parseDirectoryStatement,
  vouchStatement,
} from './statement.ts';
import { type WalkResult, walkDirectory } from './walk.ts';

export interface VerifyDirectoryOptions {
  concurrency?: number;
  /** Files hashed, then signed entries checked against the walk (`phase: 'checking'`). */
  onProgress?: (progress: { filesDone: number; filesTotal: number; phase?: 'hashing' | 'checking' }) => void;
  limits?: Partial<DirectoryLimits>;
  /**
   * Extra root-relative paths to leave out of the comparison, for the signature file the model-signing tools
   * keep inside the model directory (`model.sig`). Ignored for the vouch format, whose rules are all signed.
   */
  ignorePaths?: string[];
  /**
   * The bundle file being verified. When it lies inside the tree and the manifest does not list its path, it is
   * left out of the comparison (both formats): it is the signature just checked, not content of the release.
   */
  bundlePath?: string;
  /**
   * The signed payload (the statement's exact bytes, whose signature is already verified) as SHA-256 of `prefix` +
   * the payload (the DSSE pre-authentication header, whose digest the signature check computed anyway, or nothing).
   * When the walk, written as `vouch sign` writes a statement, has this digest, the tree is exactly the signed one
   * and the entries are not read (`signedPayloadMatches`); otherwise they are read, checked and compared as usual.
   */
  payloadDigest?: PayloadDigest;
  /**
   * Called once with the path of every entry of the tree, after the tree is known to be the signed one (a policy's
   * per-path rules apply to the entries under their pattern). Not called when the verification fails.
   */
  onVerifiedPaths?: (paths: readonly string[]) => void;
}

/** What a verified directory contains, for "Verified OK: 1,204 files, 3 symlinks, 2 empty directories, ...". */
export interface DirectoryVerification {
  format: DirectoryFormat;
  name: string;
  files: number;
  symlinks: number;
  emptyDirectories: number;
  bytes: number;
  /** `sha256:<hex>` of the canonical manifest (vouch) or the model-signing root digest. */
  manifestDigest: string;
}

/**
 * Re-walk `root` and compare it with the signed statement. Throws DIRECTORY_MISMATCH with every difference in
 * `details` (sorted by path), MANIFEST_INVALID for a hostile or inconsistent statement.
 */
export async function verifyDirectoryStatement(
  statement: unknown,
  root: string,
  options: VerifyDirectoryOptions = {},
): Promise<DirectoryVerification> {
  const header = parseDirectoryHeader(statement, options.limits ? { limits: options.limits } : {});
  const p = (statement as { predicate: Record<string, unknown> }).predicate;
  const raw = (header.format === 'vouch' ? p.entries : p.resources) as unknown[];
  return verifyDirectoryEntries(
    header,
    root,
    async (onEntry) => {
      for (const e of raw) onEntry(e);
    },
    options,
  );
}

/**
 * A signed directory's entries in listed order, as parsed JSON values, delivered once: from memory, or streamed
 * from the bundle (src/workflow/dir-bundle.ts), which fails at the end if the bytes were not those whose signature
 * was verified. Whatever `onEntry` throws fails the stream.
 */
export type EntryStream = (onEntry: (raw: unknown) => void) => Promise<void>;

/** The bundle's path relative to the tree, when the bundle file lies inside it. */
export function bundlePathInTree(root: string, bundlePath: string | undefined): string | undefined {
  if (bundlePath === undefined) return undefined;
  const rel = relative(resolve(root), resolve(bundlePath));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/**
 * Check a statement's entries (its header already checked) and compare them with `root`. The vouch format is
 * walked first, with the signed rules, and each entry checked and compared as it streams past, so a million-entry
 * manifest is never held; model-signing resources (any order, few) are collected and sorted, then compared. The
 * bundle file, when it lies in the tree and the manifest does not list it, is not reported as added.
 */
export async function verifyDirectoryEntries(
  header: DirectoryHeader,
  root: string,
  entries: EntryStream,
  options: VerifyDirectoryOptions = {},
): Promise<DirectoryVerification> {
  const limits = options.limits ? { limits: options.limits } : {};
  const extra =
    header.format === 'model-signing'
      ? (options.ignorePaths ?? []).map((p) =>
          assertCanonicalPath(p.replace(/^\.\//, '').replace(/\/+$/, ''), 'ignore path', 'USAGE'),
        )
      : [];
  const ignore = bundlePathInTree(root, options.bundlePath);
  const walk = () =>
    walkDirectory(
      root,
      extra.length > 0 ? { ...header.rules, excludePaths: [...header.rules.excludePaths, ...extra] } : header.rules,
      {
        mode: 'verify',
        ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
        ...(options.onProgress && { onProgress: options.onProgress }),
        ...(options.limits && { limits: options.limits }),
      },
    );
  const checker = entryChecker(header, limits);
  let differences: Difference[];
  let counts: ManifestCounts;
  let walkedBytes = -1;
  let verifiedPaths: readonly { path: string }[] = [];
  if (header.format === 'model-signing') {
    await entries((raw) => checker.add(raw));
    const signed = checker.finish();
    counts = signed.counts;
    const walked = await walk();
    const actual = await projectModelSigning(walked.entries, root, header.followSymlinks);
    differences = compareManifest(signed.entries!, actual, ignore);
    walkedBytes = walked.stats.bytes;
    verifiedPaths = walked.entries;
  } else {
    const walked = await walk();
    if (
      options.payloadDigest !== undefined &&
      ignore === undefined &&
      signedPayloadMatches(walked, header, options.payloadDigest)
    ) {
      options.onProgress?.({ filesDone: walked.entries.length, filesTotal: walked.entries.length, phase: 'checking' });
      options.onVerifiedPaths?.(walked.entries.map((e) => e.path));
      return result(header, countEntries(walked.entries), walked.stats.bytes);
    }
    verifiedPaths = walked.entries;
    const comparer = new ManifestComparer(walked.entries, ignore);
    // A million entries take seconds to check after the walk: the progress goes on ("checking").
    const progress = options.onProgress;
    const total = walked.entries.length;
    let seen = 0;
    await entries((raw) => {
      comparer.push(checker.add(raw));
      if (progress && ++seen % 4096 === 0)
        progress({ filesDone: Math.min(seen, total - 1), filesTotal: total, phase: 'checking' });
    });
    progress?.({ filesDone: total, filesTotal: total, phase: 'checking' });
    // The checks of the whole list (count, subject digest) come before any difference is reported.
    counts = checker.finish().counts;
    differences = comparer.finish();
  }
  if (differences.length > 0) {
    throw new VouchError('DIRECTORY_MISMATCH', summarize(root, differences), { details: differences });
  }
  // No difference: the walked entries are the signed ones (the bundle file in the tree aside).
  options.onVerifiedPaths?.(verifiedPaths.map((e) => e.path).filter((p) => p !== ignore));
  return result(header, counts, walkedBytes < 0 ? counts.bytes : walkedBytes);
}

function result(header: DirectoryHeader, counts: ManifestCounts, bytes: number): DirectoryVerification {
  return {
    format: header.format,
    name: header.name,
    files: counts.files,
    symlinks: counts.symlinks,
    emptyDirectories: counts.emptyDirectories,
    bytes,
    manifestDigest: `sha256:${header.digest.toString('hex')}`,
  };
}

/**
 * Whether the walk is exactly what was signed: the statement `vouch sign` would write for this walk (same rules,
 * same name, the manifest digest computed afresh from the walk) has the signed payload's SHA-256. Only a walk a
 * sign walk would have accepted qualifies (nothing `unsignable`), so every entry is one the signer's checks passed,
 * and equal bytes then mean the signed statement lists these entries, these rules and this subject digest, and
 * nothing else: what checking and comparing each entry would have concluded, at the cost of writing the statement
 * (~0.1 s for 80,000 entries) instead of parsing, checking and comparing it (~0.45 s). Any other signer's layout,
 * or any difference at all, gives other bytes, and the entries are then read and compared one by one, which also
 * names each difference.
 */
/** SHA-256 of `prefix` followed by a payload. */
export interface PayloadDigest {
  prefix: Uint8Array;
  sha256: Buffer;
}

export function signedPayloadMatches(walked: WalkResult, header: DirectoryHeader, signed: PayloadDigest): boolean {
  if (header.format !== 'vouch' || walked.unsignable !== undefined) return false;
  try {
    assertSignable(walked);
  } catch (e) {
    // An entry the signer refuses: not comparable byte for byte.
    if (isVouchError(e) && e.code === 'DIRECTORY_UNSUPPORTED') return false;
    throw e;
  }
  // The statement with the digest it claims for its manifest, split around its one entry list; the manifest digest
  // of the walk and the statement's digest are then made side by side, and both must match.
  const statement = vouchStatement(walked, header.name, header.digest);
  const { parts, arrays } = statementFrame(statement);
  const compact = arrays.length === 1 ? compactOf(arrays[0] as ManifestEntry[]) : undefined;
  if (!compact) {
    if (!manifestDigest(walked.entries).equals(header.digest)) return false;
    const h = createHash('sha256').update(signed.prefix);
    for (const part of statementJsonParts(statement)) h.update(part);
    return h.digest().equals(signed.sha256);
  }
  const [manifest, payload] = compact.jsonDigests([
    { style: 'canonical' },
    { style: 'plain', prefix: Buffer.concat([signed.prefix, Buffer.from(parts[0]!)]), suffix: Buffer.from(parts[1]!) },
  ]);
  return manifest!.equals(header.digest) && payload!.equals(signed.sha256);
}

/** "1,204 files, 3 symlinks, 2 empty directories, manifest sha256:…" for the CLI's "Verified OK: " line. */
export function describeDirectory(r: DirectoryVerification): string {
  const n = (count: number, one: string, many: string) => `${thousands(count)} ${count === 1 ? one : many}`;
  return (
    `${n(r.files, 'file', 'files')}, ${n(r.symlinks, 'symlink', 'symlinks')}, ` +
    `${n(r.emptyDirectories, 'empty directory', 'empty directories')}, manifest ${r.manifestDigest}`
  );
}

/** One line per difference, for people: `modified  lib/ffmpeg.dll: sha256:… (5 bytes) -> sha256:… (10 bytes)`. */
export function describeDifference(d: Difference): string {
  // Names and link targets come from the tree or the signer: escaped, so none can drive the terminal.
  const esc = (t: string) => JSON.stringify(t).slice(1, -1);
  const path = esc(d.path);
  switch (d.type) {
    case 'modified':
    case 'mode-changed':
    case 'kind-changed':
      return `${d.type.padEnd(12)} ${path}: ${esc(d.expected)} -> ${esc(d.actual)}`;
    case 'added':
    case 'missing':
      return `${d.type.padEnd(12)} ${path} (${d.kind})`;
  }
}

function summarize(root: string, differences: Difference[]): string {
  const shown = differences
    .slice(0, 5)
    .map((d) => `${d.type} ${JSON.stringify(d.path)}`)
    .join(', ');
  const more = differences.length > 5 ? ` and ${differences.length - 5} more` : '';
  return `${root} differs from the signed manifest in ${differences.length} place(s): ${shown}${more}`;
}

/**
 * What a model-signing verifier sees of a walk: regular files by content only (the format records neither size
 * nor mode), no empty directories; symlinks are differences unless the signer allowed them, in which case a link
 * resolving to a regular file inside the tree counts as that file's content, as the reference implementation does.
 */
async function projectModelSigning(
  entries: ManifestEntry[],
  root: string,
  followSymlinks: boolean,
): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  let realRoot: string | undefined;
  for (const e of entries) {
    if (e.kind === 'file') out.push({ path: e.path, kind: 'file', size: -1, sha256: e.sha256, executable: false });
    else if (e.kind === 'symlink' && followSymlinks) {
      realRoot ??= realpathSync(root);
      let target: string;
      try {
        target = realpathSync(`${root}/${e.path}`);
      } catch {
        out.push(e);
        continue;
      }
      const rel = relative(realRoot, target);
      if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || rel.startsWith(sep)) {
        out.push(e);
        continue;
      }
      try {
        const d = await hashFile(target);
        out.push({ path: e.path, kind: 'file', size: -1, sha256: d.value.toString('hex'), executable: false });
      } catch {
        out.push(e);
      }
    } else if (e.kind !== 'dir') out.push(e);
  }
  return out;
}

export interface FileInDirectoryVerification {
  format: DirectoryFormat;
  path: string;
  sha256: string;
  size: number;
  manifestDigest: string;
}

function findEntry(list: readonly ManifestEntry[], path: string): ManifestEntry | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = comparePaths(list[mid]!.path, path);
    if (c === 0) return list[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * Check one file against its entry in a signed directory: `vouch verify ./release/bin/app.exe --bundle
 * release.sigstore.json --path bin/app.exe`. PATH_NOT_SIGNED when the manifest has no such file; DIGEST_MISMATCH
 * when the content differs; DIRECTORY_MISMATCH (mode-changed / kind-changed) when the file is no longer the same
 * kind of thing or its executable bit changed.
 */
export async function verifyFileInDirectory(
  statement: unknown,
  filePath: string,
  relPath: string,
): Promise<FileInDirectoryVerification> {
  const signed = parseDirectoryStatement(statement);
  const path = fileInDirectoryPath(relPath);
  const found = new Map<string, ManifestEntry>();
  const entry = findEntry(signed.entries, path);
  if (entry) found.set(path, entry);
  return verifyFileInCheckedDirectory({ ...signed, found }, filePath, path);
}

/** The canonical manifest path given with `--path` (`./bin/app.exe` -> `bin/app.exe`). */
export function fileInDirectoryPath(relPath: string): string {
  return assertCanonicalPath(relPath.replace(/^\.\//, ''), '--path', 'USAGE');
}

/** verifyFileInDirectory for a checked statement; `signed.found` holds the entry at `path`, if the manifest has one. */
export async function verifyFileInCheckedDirectory(
  signed: CheckedDirectory,
  filePath: string,
  path: string,
): Promise<FileInDirectoryVerification> {
  const entry = signed.found.get(path);
  if (entry === undefined) {
    throw new VouchError('PATH_NOT_SIGNED', `${path} is not in the signed directory ${JSON.stringify(signed.name)}`);
  }
  if (entry.kind !== 'file') {
    throw new VouchError('PATH_NOT_SIGNED', `${path} is a ${entry.kind} in the signed directory, not a file`);
  }
  const name = basename(filePath);
  const r = await hashFiles(dirname(filePath), [name], { concurrency: 1 });
  const status = r.status[0]!;
  if (status === ST_MISSING) throw new VouchError('FILE_NOT_FOUND', `no such file: ${filePath}`);
  if (status !== ST_OK && status !== ST_CACHED) {
    const d: Difference = { type: 'kind-changed', path, expected: 'file', actual: 'other' };
    throw new VouchError('DIRECTORY_MISMATCH', `${filePath} is not a regular file`, { details: [d] });
  }
  const sha256 = Buffer.from(r.digests.buffer, 0, 32).toString('hex');
  const size = r.meta[M_SIZE]!;
  const mode = r.meta[M_MODE]!;
  if (sha256 !== entry.sha256 || (entry.size >= 0 && size !== entry.size)) {
    throw new VouchError('DIGEST_MISMATCH', `${filePath} differs from ${path} in the signed directory`, {
      details: [{ type: 'modified', path, expected: `sha256:${entry.sha256}`, actual: `sha256:${sha256}` }],
    });
  }
  const executable = (mode & 0o100) !== 0;
  const setid = (mode & 0o6000) !== 0;
  if (signed.format === 'vouch' && (executable !== entry.executable || setid)) {
    const d: Difference = {
      type: 'mode-changed',
      path,
      expected: entry.executable ? 'executable' : 'not executable',
      actual: (executable ? 'executable' : 'not executable') + (setid ? ', setuid/setgid' : ''),
    };
    throw new VouchError('DIRECTORY_MISMATCH', `${filePath} changed mode since it was signed`, { details: [d] });
  }
  return {
    format: signed.format,
    path,
    sha256,
    size,
    manifestDigest: `sha256:${signed.digest.toString('hex')}`,
  };
}
