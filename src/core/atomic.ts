/**
 * Whole-or-nothing file writes: the data goes to a temporary file beside the target (same directory, so the same
 * file system), which is then renamed over it. rename(2) replaces the name atomically, so a reader sees the old
 * file or the new one, never a truncated bundle, trusted root or index.json, and a crash leaves at most a stray
 * `.NAME.*.tmp`. With `fsync`, the data is flushed before the rename and the directory after it, so the new file
 * also survives a power loss (without it, the file system may commit the rename before the data).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VouchError } from '../errors.ts';

/** The file's content: one string or buffer, or pieces written in order (a large bundle streamed from a file). */
export type FileData = string | Uint8Array | Iterable<string | Uint8Array>;

export interface WriteFileAtomicOptions {
  /** Flush the data and the directory to stable storage (documents other programs rely on). Default false. */
  fsync?: boolean;
  /** Permission bits of the new file (before the umask). Default 0o644. */
  mode?: number;
}

/** Write `data` to `path` atomically. A failure raises FILE_UNREADABLE naming the path and the errno code. */
export function writeFileAtomic(path: string, data: FileData, options: WriteFileAtomicOptions = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', options.mode ?? 0o644);
    const pieces = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
    for (const piece of pieces) writeAll(fd, typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
    if (options.fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    if (e instanceof VouchError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new VouchError('FILE_UNREADABLE', `cannot write ${path}: ${err.code ?? err.message}`, { cause: e });
  }
  if (options.fsync) syncDirectory(dirname(path));
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** fsync a directory so a rename in it is durable (best effort: some platforms cannot open a directory). */
function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // The rename itself is still atomic; only its durability across a power loss is not promised here.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
