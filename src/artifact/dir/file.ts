/**
 * One file checked against its entry in a signed directory: `vouch verify ./release/bin/app.exe --bundle
 * release.sigstore.json --path bin/app.exe`. The whole manifest is still read and checked (it is only trusted as a
 * whole: its digest and every rule), but only the one entry is kept.
 */
import { basename, dirname } from 'node:path';
import { VouchError } from '../../errors.ts';
import { EntryChecker } from './checker.ts';
import { bytesSource, type ManifestSource, readManifest } from './lines.ts';
import type { Difference, ManifestEntry } from './manifest.ts';
import { assertCanonicalPath, DEFAULT_LIMITS } from './paths.ts';
import { hashFiles } from './pool.ts';
import { type DirectoryFormat, parseDirectoryStatement, type SignedDirectory } from './statement.ts';
import { FileStatus, META } from './status.ts';

export interface FileInDirectoryVerification {
  format: DirectoryFormat;
  path: string;
  sha256: string;
  size: number;
  manifestDigest: string;
}

/** The canonical manifest path given with `--path` (`./bin/app.exe` -> `bin/app.exe`). */
export function fileInDirectoryPath(relPath: string): string {
  return assertCanonicalPath(relPath.replace(/^\.\//, ''), '--path', 'USAGE');
}

/** The signed entry at `path`, the manifest read and checked whole; undefined when it lists none. */
export async function signedEntry(
  signed: SignedDirectory,
  path: string,
  manifest?: ManifestSource,
): Promise<ManifestEntry | undefined> {
  if (signed.format === 'model-signing') return signed.resources.find((r) => r.path === path);
  const source = manifest ?? (signed.manifest.embedded && bytesSource(signed.manifest.embedded));
  if (!source) throw new VouchError('FILE_NOT_FOUND', 'the signature has no embedded manifest and none was given');
  const checker = new EntryChecker(signed.rules, DEFAULT_LIMITS, signed.counts);
  let found: ManifestEntry | undefined;
  await readManifest(source, { sha256: signed.digest, size: signed.manifest.size }, (e) => {
    checker.add(e);
    if (e.path === path) found = e;
  });
  checker.finish();
  return found;
}

/**
 * Check the file at `filePath` against the entry at `relPath` of a signed statement. PATH_NOT_SIGNED when the
 * manifest has no such file; DIGEST_MISMATCH when the content differs; DIRECTORY_MISMATCH (mode-changed /
 * kind-changed) when the file is no longer the same kind of thing or its executable bit changed.
 */
export async function verifyFileInDirectory(
  statement: unknown,
  filePath: string,
  relPath: string,
  manifest?: ManifestSource,
): Promise<FileInDirectoryVerification> {
  const signed = parseDirectoryStatement(statement);
  const path = fileInDirectoryPath(relPath);
  return verifyFileAgainst(signed, await signedEntry(signed, path, manifest), filePath, path);
}

export async function verifyFileAgainst(
  signed: SignedDirectory,
  entry: ManifestEntry | undefined,
  filePath: string,
  path: string,
): Promise<FileInDirectoryVerification> {
  if (entry === undefined) {
    throw new VouchError('PATH_NOT_SIGNED', `${path} is not in the signed directory ${JSON.stringify(signed.name)}`);
  }
  if (entry.kind !== 'file') {
    throw new VouchError('PATH_NOT_SIGNED', `${path} is a ${entry.kind} in the signed directory, not a file`);
  }
  const r = await hashFiles(dirname(filePath), [basename(filePath)], { concurrency: 1 });
  const status = r.status[0]!;
  if (status === FileStatus.Missing) throw new VouchError('FILE_NOT_FOUND', `no such file: ${filePath}`);
  if (status === FileStatus.Unreadable) throw new VouchError('FILE_UNREADABLE', `cannot read ${filePath}`);
  if (status !== FileStatus.Hashed) {
    const d: Difference = { type: 'kind-changed', path, expected: 'file', actual: 'other' };
    throw new VouchError('DIRECTORY_MISMATCH', `${filePath} is not a regular file`, { details: [d] });
  }
  const sha256 = Buffer.from(r.digests.buffer, r.digests.byteOffset, 32).toString('hex');
  const size = r.meta[1]!;
  const mode = r.meta[0 * META]!;
  if (sha256 !== entry.sha256 || (entry.size >= 0 && size !== entry.size)) {
    throw new VouchError('DIGEST_MISMATCH', `${filePath} differs from ${path} in the signed directory`, {
      details: [{ type: 'modified', path, expected: `sha256:${entry.sha256}`, actual: `sha256:${sha256}` }],
    });
  }
  const executable = (mode & 0o100) !== 0;
  const setid = (mode & 0o6000) !== 0;
  if (setid || (signed.format === 'vouch' && executable !== entry.executable)) {
    const d: Difference = {
      type: 'mode-changed',
      path,
      expected: entry.executable ? 'executable' : 'not executable',
      actual: (executable ? 'executable' : 'not executable') + (setid ? ', setuid/setgid' : ''),
    };
    throw new VouchError('DIRECTORY_MISMATCH', `${filePath} changed mode since it was signed`, { details: [d] });
  }
  return { format: signed.format, path, sha256, size, manifestDigest: `sha256:${signed.digest.toString('hex')}` };
}
