/**
 * An npm tarball's files, and the installed copy compared with them. The tarball is read with `tar`, the library
 * npm extracts with (through pacote), and its paths are taken as pacote's extraction writes them: the first path
 * component stripped (`package/`), entries that would land outside the folder (`..`, absolute) dropped, links
 * dropped, the last of two entries with one path winning. So "the tarball's files" are the files npm installs.
 *
 * Hostile archives: the compressed size is capped by the caller, the decompressed size by tar's ratio limit and
 * ours, the entry count and path lengths here.
 */
import { createHash } from 'node:crypto';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { VouchError } from '../../errors.ts';

export const MAX_TARBALL_BYTES = 256 << 20;
const MAX_UNPACKED_BYTES = 2 ** 31;
const MAX_ENTRIES = 200_000;
const MAX_PATH = 4096;

/** One regular file of a tarball: size and SHA-256 (hex). */
export interface TarballFile {
  size: number;
  sha256: string;
}

function bad(msg: string): VouchError {
  return new VouchError('PACKAGE_INTEGRITY_MISMATCH', `tarball: ${msg}`);
}

/** The install path of a tarball entry, as pacote extracts it (strip 1), or undefined when npm would skip it. */
export function installPath(entryPath: string): string | undefined {
  const parts = entryPath
    .replace(/\\/g, '/')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  if (parts.length < 2 || parts.some((p) => p === '..')) return undefined;
  return parts.slice(1).join('/');
}

/** The regular files of a gzipped npm tarball, by install path. */
export async function tarballFiles(tgz: Buffer): Promise<Map<string, TarballFile>> {
  const files = new Map<string, TarballFile>();
  let entries = 0;
  let unpacked = 0;
  let failure: VouchError | undefined;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: false,
      maxMetaEntrySize: 1 << 20,
      // Entry-level warnings are what npm's extraction skips too; an archive that is not one at all fails.
      onwarn: (code: string, message: string | Error) => {
        if (code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') {
          failure ??= bad(`unreadable (${message instanceof Error ? message.message : message})`);
        }
      },
      onReadEntry: (entry: ReadEntry) => {
        if (failure) return entry.resume();
        if (++entries > MAX_ENTRIES) failure = bad(`more than ${MAX_ENTRIES} entries`);
        if (entry.path.length > MAX_PATH) failure = bad('an entry path is too long');
        const path = installPath(entry.path);
        const regular = entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile';
        if (failure || path === undefined || !regular) return entry.resume();
        const hash = createHash('sha256');
        let size = 0;
        entry.on('data', (chunk: Buffer) => {
          size += chunk.length;
          unpacked += chunk.length;
          if (unpacked > MAX_UNPACKED_BYTES) failure ??= bad('unpacks to more than 2 GiB');
          hash.update(chunk);
        });
        entry.on('end', () => {
          files.set(path, { size, sha256: hash.digest('hex') });
        });
      },
    });
    parser.on('error', (e: Error) => reject(bad(`unreadable (${e.message})`)));
    parser.on('close', () => resolve());
    parser.end(tgz);
  });
  if (failure) throw failure;
  return files;
}

/** How an installed copy differs from its tarball: per file, relative to the package folder. */
export interface InstalledDifference {
  modified: string[];
  missing: string[];
  added: string[];
}

async function hashFile(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/**
 * Compare an installed package folder with its tarball's files. The folder's own `node_modules` holds its
 * dependencies, so only the files the tarball itself puts there (bundled dependencies) are looked at.
 */
export async function compareInstalled(dir: string, files: Map<string, TarballFile>): Promise<InstalledDifference> {
  const diff: InstalledDifference = { modified: [], missing: [], added: [] };
  for (const [path, f] of files) {
    const full = join(dir, path);
    const st = await lstat(full).catch(() => undefined);
    if (!st) diff.missing.push(path);
    else if (!st.isFile() || st.size !== f.size || (await hashFile(full)) !== f.sha256) diff.modified.push(path);
  }
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 64) return;
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      if (rel === '' && e.name === 'node_modules') continue;
      if (e.isDirectory()) await walk(path, depth + 1);
      else if (!files.has(path)) diff.added.push(path);
    }
  };
  await walk('', 0);
  diff.modified.sort();
  diff.missing.sort();
  diff.added.sort();
  return diff;
}
