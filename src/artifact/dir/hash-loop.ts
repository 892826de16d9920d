/**
 * The per-file loop every hashing thread runs (the main thread and the workers of src/artifact/dir/pool.ts). A warm
 * tree of small files is bound by system calls, not by SHA-256: this loop does open, fstat, one read into a reused
 * buffer and close per small file (a short read of a regular file is its end), and hashes with the one-shot
 * `crypto.hash`. `fs.promises.readFile` adds a threadpool round trip and an allocation per file (~5x slower,
 * bench/dir.ts). Chunks of file indices are taken from a shared atomic counter, so one huge file does not idle the
 * other threads.
 *
 * Each file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat before any read: a file swapped for a
 * symlink fails with ELOOP instead of being followed, and a FIFO swapped in after the listing opens without
 * blocking and is refused by its type, so the walk never hangs.
 *
 * With `job.pe`, a file whose first bytes are "MZ" also gets the structural PE check (issue 15) on the bytes just
 * read plus one read of its certificate table, before those bytes are hashed; any other file costs one comparison.
 */
import { createHash, hash as oneShot } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { checkPe, refusals } from '../pe/check.ts';
import { fdSource, hasMzMagic, type PeSource } from '../pe/layout.ts';
import { FileStatus, type HashJob, META, PeMark, STAMPS } from './status.ts';

export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The status an open() failure leaves. */
export function openFailure(code: string | undefined): FileStatus {
  if (code === 'ELOOP') return FileStatus.Symlink;
  if (code === 'ENOENT' || code === 'ENOTDIR') return FileStatus.Missing;
  if (code === 'ENXIO') return FileStatus.NotFile;
  return FileStatus.Unreadable;
}

/**
 * The structural PE check of one file whose first bytes, already read, are `head`: what the main thread needs to
 * know (src/artifact/dir/pe.ts looks at a flagged file again for the code and offsets). Never throws.
 */
export async function peMark(source: PeSource, head: Buffer): Promise<PeMark> {
  if (!hasMzMagic(head)) return PeMark.None;
  try {
    const check = await checkPe(source, head);
    if (check.kind === 'not-pe') return PeMark.None;
    return refusals(check.anomalies).length > 0 ? PeMark.Flagged : PeMark.Clean;
  } catch {
    // PE_MALFORMED, or a read that failed: the main thread's full check says which.
    return PeMark.Flagged;
  }
}

/**
 * Hash every file of `job` this thread can take, until the listing is closed and no index is left. `onChunk` runs
 * after each chunk (progress, the cold-cache check). It awaits only the PE check of a PE file (whose reads are
 * synchronous), so it never yields to the event loop.
 */
export async function hashLoop(job: HashJob, onChunk?: () => void): Promise<void> {
  const buf = Buffer.allocUnsafe(job.bufferSize);
  const counter = job.counter;
  let n = 0;
  let names: Buffer = Buffer.alloc(0);
  let offsets: Uint32Array = new Uint32Array(0);
  let status: Int32Array = new Int32Array(0);
  let meta: Float64Array = new Float64Array(0);
  let digests: Uint8Array = new Uint8Array(0);
  let wide: Float64Array = new Float64Array(0);
  let stamps: Float64Array | undefined;
  let pe: Uint8Array | undefined;
  for (;;) {
    const start = Atomics.add(counter, 0, job.chunk);
    // Wait until this chunk is published or the listing is over; the arrays grow before an index is published.
    for (;;) {
      const published = Atomics.load(counter, 2);
      if (Atomics.load(counter, 3) === 1) {
        n = Atomics.load(counter, 2);
        break;
      }
      if (published >= start + job.chunk) {
        n = published;
        break;
      }
      Atomics.wait(counter, 2, published, 20);
    }
    if (start >= n) break;
    if (offsets.length < n + 1) {
      offsets = new Uint32Array(job.offsets.buffer, 0, n + 1);
      names = Buffer.from(job.names.buffer, 0, offsets[n]);
      status = new Int32Array(job.status.buffer, 0, n);
      meta = new Float64Array(job.meta.buffer, 0, n * META);
      digests = new Uint8Array(job.digests.buffer, 0, n * 32);
      wide = new Float64Array(job.digests.buffer, 0, n * 4);
      if (job.stamps) stamps = new Float64Array(job.stamps.buffer, 0, n * STAMPS);
      if (job.pe) pe = new Uint8Array(job.pe.buffer, 0, n);
    }
    const end = Math.min(n, start + job.chunk);
    for (let i = start; i < end; i++) {
      if (status[i] !== FileStatus.Pending) continue;
      const abs = `${job.root}/${names.toString('utf8', offsets[i], offsets[i + 1])}`;
      if (job.cache !== undefined && stamps !== undefined && fromCache(job, i, abs, status, meta, digests, stamps)) {
        if (pe !== undefined) pe[i] = job.cache.has[i]! - 1;
        continue;
      }
      let fd: number;
      try {
        fd = openSync(abs, OPEN_FLAGS);
      } catch (e) {
        status[i] = openFailure((e as NodeJS.ErrnoException).code);
        continue;
      }
      try {
        const st = fstatSync(fd);
        meta[i * META] = st.mode;
        if (stamps !== undefined) stamps.set([st.size, st.mtimeMs, st.ctimeMs, st.ino], i * STAMPS);
        if (!st.isFile()) {
          status[i] = FileStatus.NotFile;
          continue;
        }
        if (st.size > job.largeFile) {
          meta[i * META + 1] = st.size;
          wide[i * 4] = st.ino;
          wide[i * 4 + 1] = st.dev;
          status[i] = FileStatus.Large;
          continue;
        }
        let r = readSync(fd, buf, 0, buf.length, null);
        // `buf` past `r` holds an earlier file's bytes: hence `r >= 2` (and no view made for a file that is not PE).
        if (pe !== undefined && r >= 2 && hasMzMagic(buf)) {
          pe[i] = await peMark(fdSource(fd, st.size), buf.subarray(0, r));
        }
        let size = r;
        if (r < buf.length) digests.set(oneShot('sha256', buf.subarray(0, r), 'buffer'), i * 32);
        else {
          const h = createHash('sha256');
          while (r > 0) {
            h.update(r === buf.length ? buf : buf.subarray(0, r));
            if (r < buf.length) break;
            r = readSync(fd, buf, 0, buf.length, null);
            size += r;
          }
          digests.set(h.digest(), i * 32);
        }
        meta[i * META + 1] = size;
        if (stamps !== undefined) stamps[i * STAMPS] = size;
        status[i] = FileStatus.Hashed;
      } catch {
        status[i] = FileStatus.Unreadable;
      } finally {
        closeSync(fd);
      }
    }
    Atomics.add(counter, 1, end - start);
    onChunk?.();
  }
}

/**
 * Incremental signing: take the cached digest when size, mtime, ctime and inode are unchanged (lstat: a symlink
 * swapped in is no match) and older than the cache's racy cutoff.
 */
function fromCache(
  job: HashJob,
  i: number,
  abs: string,
  status: Int32Array,
  meta: Float64Array,
  digests: Uint8Array,
  stamps: Float64Array,
): boolean {
  const cache = job.cache!;
  if (cache.has[i] === 0) return false;
  const st = lstatSync(abs, { throwIfNoEntry: false });
  const c = i * STAMPS;
  if (
    st?.isFile() !== true ||
    st.size !== cache.meta[c] ||
    st.mtimeMs !== cache.meta[c + 1] ||
    st.ctimeMs !== cache.meta[c + 2] ||
    st.ino !== cache.meta[c + 3] ||
    st.mtimeMs >= cache.cutoffMs ||
    st.ctimeMs >= cache.cutoffMs
  ) {
    return false;
  }
  meta[i * META] = st.mode;
  meta[i * META + 1] = st.size;
  stamps.set([st.size, st.mtimeMs, st.ctimeMs, st.ino], c);
  digests.set(cache.digests.subarray(i * 32, i * 32 + 32), i * 32);
  status[i] = FileStatus.Cached;
  return true;
}
