/**
 * Check a verified directory statement against the tree on disk. The statement's signature is checked by
 * src/verify first; these functions take the parsed statement, re-walk the tree with the signer's recorded rules,
 * re-hash every file (never a cache: a cache keyed by timestamps is something an attacker with write access can
 * forge), and compare. The vouch format's manifest streams from its source through one SHA-256 and the line
 * parser while the walk is compared with it, so a million-entry manifest is never held.
 */
import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { hashFile } from '../../core/digest.ts';
import { thousands } from '../../core/encoding.ts';
import { VouchError } from '../../errors.ts';
import { EntryChecker } from './checker.ts';
import { EntryList, type EntryTable } from './entries.ts';
import { bytesSource, type ManifestSource, readManifest } from './lines.ts';
import {
  compareManifest,
  type Difference,
  ManifestComparer,
  type ManifestCounts,
  type ManifestEntry,
} from './manifest.ts';
import { assertCanonicalPath, DEFAULT_LIMITS, type DirectoryLimits } from './paths.ts';
import { type PeCheckRecord, type PeStrictResult, strictPeCheck } from './pe.ts';
import { type DirectoryFormat, parseDirectoryStatement, type SignedDirectory } from './statement.ts';
import { type ExcludedFound, type WalkOptions, walkDirectory } from './walk.ts';

export interface VerifyDirectoryOptions {
  concurrency?: number;
  /** Files hashed, then signed entries checked against the walk (`phase: 'checking'`). */
  onProgress?: (progress: { filesDone: number; filesTotal: number; phase?: 'hashing' | 'checking' }) => void;
  limits?: Partial<DirectoryLimits>;
  /**
   * Model-signing only: root-relative paths to leave out as well (its v1.0.1 signatures do not record the
   * signature file they keep inside the model directory). Shown in the result with the signed rules.
   */
  ignorePaths?: string[];
  /** Fail (DIRECTORY_MISMATCH) when the tree holds content the rules exclude, instead of only reporting it. */
  failOnExcluded?: boolean;
  /** The files this verification reads (bundle, manifest): at a `signatureFiles` path they are not excluded content. */
  ownFiles?: WalkOptions['ownFiles'];
  /**
   * `--pe-strict`: once the tree matches, every PE file in it must pass the check a signer of that file runs
   * (src/artifact/pe); `allow` names tree paths whose anomaly is accepted, `roots` judge Authenticode chains.
   */
  pe?: { roots?: Buffer[]; allow?: string[] };
  /**
   * Called once with the paths of the tree's entries, after the tree is known to be the signed one (a policy's
   * per-path rules apply to the entries under their pattern). Not called when the verification fails. The paths
   * are read lazily from the walk, not copied.
   */
  onVerifiedPaths?: (paths: Iterable<string>) => void;
}

/** What the rules left out of the comparison: the rules, and what the walk found under them. */
export interface DirectoryExclusions {
  excludeNames: string[];
  excludePaths: string[];
  signatureFiles: string[];
  /** Paths the verifier was asked to ignore as well (model-signing's `--ignore-paths`). */
  ignorePaths: string[];
  /** Entries found on disk that these rules left out (a matched directory counts once). */
  found: number;
  /** The first of them. */
  foundPaths: string[];
}

/** What a verified directory contains, for "Verified OK: 1,204 files, 3 symlinks, 2 empty directories, ...". */
export interface DirectoryVerification {
  format: DirectoryFormat;
  name: string;
  files: number;
  symlinks: number;
  emptyDirectories: number;
  bytes: number;
  /** `sha256:<hex>` of the manifest (vouch) or the model-signing root digest. */
  manifestDigest: string;
  excluded: DirectoryExclusions;
  /** The PE check the signer recorded; null when the signature has none (signed without it, or model-signing). */
  peCheck: PeCheckRecord | null;
  /** `--pe-strict`: the check run now on the verified tree. */
  peStrict?: PeStrictResult;
}

/**
 * Re-walk `root` and compare it with a signed statement (parsed, or as it came out of the DSSE payload). The vouch
 * format's manifest comes from `manifest` (chunks of the file beside the bundle), else from the statement's
 * embedded copy. Throws DIRECTORY_MISMATCH with every difference in `details` (sorted by path), MANIFEST_INVALID
 * for a hostile or inconsistent statement or manifest.
 */
export async function verifyDirectoryStatement(
  statement: unknown,
  root: string,
  options: VerifyDirectoryOptions & { manifest?: ManifestSource } = {},
): Promise<DirectoryVerification> {
  const signed = parseDirectoryStatement(statement, options.limits ? { limits: options.limits } : {});
  return verifyDirectory(signed, root, options.manifest, options);
}

export async function verifyDirectory(
  signed: SignedDirectory,
  root: string,
  manifest: ManifestSource | undefined,
  options: VerifyDirectoryOptions = {},
): Promise<DirectoryVerification> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const ignorePaths =
    signed.format === 'model-signing'
      ? (options.ignorePaths ?? []).map((p) =>
          assertCanonicalPath(p.replace(/^\.\//, '').replace(/\/+$/, ''), 'ignore path', 'USAGE'),
        )
      : [];
  if (signed.format === 'vouch' && options.ignorePaths?.length) {
    throw new VouchError('USAGE', '--ignore-paths is for model-signing signatures; this one records its rules');
  }
  const rules = { ...signed.rules, excludePaths: [...signed.rules.excludePaths, ...ignorePaths] };
  const walked = await walkDirectory(root, rules, {
    mode: 'verify',
    limits,
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.onProgress && { onProgress: options.onProgress }),
    ...(options.ownFiles && { ownFiles: options.ownFiles }),
    ...(options.pe && { peCheck: true }),
  });
  let differences: Difference[];
  let counts: ManifestCounts;
  if (signed.format === 'model-signing') {
    const actual = await projectModelSigning(walked.entries, root, signed.followSymlinks, rules.excludePaths);
    differences = compareManifest(signed.resources, actual);
    counts = { ...signed.counts, bytes: walked.stats.bytes };
  } else {
    const source = manifest ?? (signed.manifest.embedded && bytesSource(signed.manifest.embedded));
    if (!source) throw new VouchError('FILE_NOT_FOUND', 'the signature has no embedded manifest and none was given');
    const checker = new EntryChecker(signed.rules, limits, signed.counts);
    const comparer = new ManifestComparer(walked.entries);
    const total = walked.entries.length;
    let seen = 0;
    await readManifest(source, { sha256: signed.digest, size: signed.manifest.size }, (e) => {
      checker.add(e);
      comparer.push(e);
      // A million entries take a while to check after the walk: the progress goes on ("checking").
      if (options.onProgress && ++seen % 4096 === 0) {
        options.onProgress({ filesDone: Math.min(seen, total), filesTotal: total, phase: 'checking' });
      }
    });
    options.onProgress?.({ filesDone: total, filesTotal: total, phase: 'checking' });
    // The checks of the whole list (counts, links) come before any difference is reported.
    counts = checker.finish();
    differences = comparer.finish();
  }
  const entries = counts.files + counts.symlinks + counts.emptyDirectories;
  if (entries === 0 && walked.excluded.count > 0) {
    // "Verified OK: 0 files" over a tree full of files left out by the signed rules.
    throw new VouchError('MANIFEST_INVALID', `the signed rules exclude everything in ${root}`);
  }
  if (options.failOnExcluded) {
    for (const path of walked.excluded.paths) differences.push({ type: 'excluded', path });
  }
  if (differences.length > 0) {
    throw new VouchError('DIRECTORY_MISMATCH', summarize(root, differences, walked.excluded), { details: differences });
  }
  const peStrict = options.pe && (await strictPeCheck(root, walked.pe!, options.pe));
  if (options.onVerifiedPaths) {
    const table = walked.entries;
    options.onVerifiedPaths({
      *[Symbol.iterator]() {
        for (let i = 0; i < table.length; i++) yield table.pathAt(i);
      },
    });
  }
  return {
    format: signed.format,
    name: signed.name,
    files: counts.files,
    symlinks: counts.symlinks,
    emptyDirectories: counts.emptyDirectories,
    bytes: walked.stats.bytes,
    manifestDigest: `sha256:${signed.digest.toString('hex')}`,
    excluded: exclusions(signed, ignorePaths, walked.excluded),
    peCheck: (signed.format === 'vouch' && signed.peCheck) || null,
    ...(peStrict && { peStrict }),
  };
}

function exclusions(signed: SignedDirectory, ignorePaths: string[], found: ExcludedFound): DirectoryExclusions {
  return {
    excludeNames: signed.rules.excludeNames,
    excludePaths: signed.rules.excludePaths,
    signatureFiles: signed.rules.signatureFiles,
    ignorePaths,
    found: found.count,
    foundPaths: found.paths,
  };
}

/** "1,204 files, 3 symlinks, 2 empty directories, manifest sha256:…" for the CLI's "Verified OK: " line. */
export function describeDirectory(r: Omit<DirectoryVerification, 'excluded' | 'peCheck'>): string {
  const n = (count: number, one: string, many: string) => `${thousands(count)} ${count === 1 ? one : many}`;
  return (
    `${n(r.files, 'file', 'files')}, ${n(r.symlinks, 'symlink', 'symlinks')}, ` +
    `${n(r.emptyDirectories, 'empty directory', 'empty directories')}, manifest ${r.manifestDigest}`
  );
}

/** "excluded by .git, build/out: 3 entries found (.git, sub/.git, ...)", names and paths escaped for a terminal. */
export function describeExclusions(x: DirectoryExclusions): string {
  const esc = (t: string) => JSON.stringify(t).slice(1, -1);
  const rules = [...x.excludeNames, ...x.excludePaths, ...x.signatureFiles, ...x.ignorePaths].map(esc);
  const found =
    x.found === 0
      ? 'none found'
      : `${thousands(x.found)} found (${x.foundPaths.map(esc).join(', ')}${x.found > x.foundPaths.length ? ', ...' : ''})`;
  return `${rules.length > 0 ? rules.join(', ') : 'nothing'}; ${found}`;
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
    case 'excluded':
      return `${d.type.padEnd(12)} ${path} (left out by the signed rules)`;
  }
}

function summarize(root: string, differences: Difference[], excluded: ExcludedFound): string {
  const shown = differences
    .slice(0, 5)
    .map((d) => `${d.type} ${JSON.stringify(d.path)}`)
    .join(', ');
  const more = differences.length > 5 ? ` and ${differences.length - 5} more` : '';
  const ex = excluded.count > 0 ? ` (${excluded.count} excluded entries found)` : '';
  return `${root} differs from the signed manifest in ${differences.length} place(s): ${shown}${more}${ex}`;
}

/**
 * What a model-signing verifier sees of a walk: regular files by content only (the format records neither size
 * nor mode, but a setuid or setgid bit is a difference as in the vouch format), no empty directories; symlinks are
 * differences unless the signer allowed them, in which case a link resolving to a regular file inside the tree,
 * outside its ignored paths, counts as that file's content, as the reference implementation does.
 */
async function projectModelSigning(
  walked: EntryTable,
  root: string,
  followSymlinks: boolean,
  ignored: readonly string[],
): Promise<EntryTable> {
  const out: ManifestEntry[] = [];
  let realRoot: string | undefined;
  for (let i = 0; i < walked.length; i++) {
    const e = walked.at(i);
    if (e.kind === 'file') {
      out.push({
        path: e.path,
        kind: 'file',
        size: -1,
        sha256: e.sha256,
        executable: false,
        ...(e.setid && { setid: true }),
      });
    } else if (e.kind === 'symlink' && followSymlinks) {
      realRoot ??= realpathSync(root);
      let target: string;
      try {
        target = realpathSync(`${root}/${e.path}`);
      } catch {
        out.push(e);
        continue;
      }
      const rel = relative(realRoot, target);
      const inside = rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
      const posix = rel.split(sep).join('/');
      if (!inside || ignored.some((p) => posix === p || posix.startsWith(`${p}/`))) {
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
  return new EntryList(out);
}
