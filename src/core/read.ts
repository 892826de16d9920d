/**
 * The one capped reader for inputs read whole (bundles, keys, trusted roots, certificates, configuration, token
 * files; stdin as /dev/stdin): it stops at the cap **while reading**, so the cap holds for what stat() cannot size. A FIFO, `<(curl ...)`,
 * /dev/stdin or /dev/zero report size 0 and then deliver without end; a regular file can grow between a stat() and
 * the read. Such inputs are allowed (`--bundle <(...)` is a normal use), and stop at the cap with the input's own
 * code (BUNDLE_TOO_LARGE for a bundle, KEY_INVALID for a key...), never after the process has swallowed them.
 *
 * For a regular file the size is checked first too, so an oversize one is refused without a read. Open and read
 * failures map through `fileError` (FILE_NOT_FOUND, FILE_UNREADABLE...).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type ErrorCode, VouchError } from '../errors.ts';
import { fileError } from './digest.ts';

export interface CapOptions {
  /** Largest accepted size in bytes; one byte more is the error. */
  maxBytes: number;
  /** The input's own code for "too large". */
  code: ErrorCode;
  /** What the input is, for the message (default: its path). */
  what?: string;
}

const PIECE = 1 << 20;

function tooLarge(o: CapOptions, name: string): VouchError {
  return new VouchError(o.code, `${o.what ?? name} is larger than ${o.maxBytes} bytes`);
}

/**
 * The next piece size: up to 1 MiB, never more than one byte past the cap. A regular file's first piece is its size
 * plus one byte (one read takes it whole, the next sees its end or its growth), not 1 MiB: bundles, keys and
 * policies are a few KiB, read by the dozen.
 */
function piece(total: number, o: CapOptions, sized: number | undefined): number {
  const want = total === 0 && sized !== undefined ? sized + 1 : PIECE;
  return Math.max(1, Math.min(want, PIECE, o.maxBytes + 1 - total));
}

/** Read a whole file, FIFO or device, refusing more than `maxBytes`. */
export async function readCapped(path: string, o: CapOptions): Promise<Buffer> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  try {
    const st = await fh.stat();
    if (st.isFile() && st.size > o.maxBytes) throw tooLarge(o, path);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(piece(total, o, st.isFile() ? st.size : undefined));
      // Position null: read on from the current offset, which is what a pipe or device can do.
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > o.maxBytes) throw tooLarge(o, path);
      chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof VouchError ? e : fileError(e as NodeJS.ErrnoException, path);
  } finally {
    await fh.close();
  }
}

/** `readCapped` for synchronous callers (configuration and trust store files read while loading). */
export function readCappedSync(path: string, o: CapOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, path);
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > o.maxBytes) throw tooLarge(o, path);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(piece(total, o, st.isFile() ? st.size : undefined));
      const bytesRead = readSync(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > o.maxBytes) throw tooLarge(o, path);
      chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof VouchError ? e : fileError(e as NodeJS.ErrnoException, path);
  } finally {
    closeSync(fd);
  }
}

/** The utf-8 text of a capped input (what most callers parse). */
export async function readCappedText(path: string, o: CapOptions): Promise<string> {
  return (await readCapped(path, o)).toString('utf8');
}
