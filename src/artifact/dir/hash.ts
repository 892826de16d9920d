/**
 * Parallel hashing of many files. A warm tree of small files is bound by system calls, not by SHA-256: a
 * synchronous open / fstat / read-into-a-reused-buffer / close loop does ~4 calls per small file, while
 * `fs.promises.readFile` adds a threadpool round trip and an allocation per file (measured in bench/dir.ts). So the
 * main thread and N-1 worker threads each run the same synchronous loop, pulling chunks of file indices from a
 * shared atomic counter (no static split, so one huge file does not idle the other threads), and write digests
 * and stat results into shared arrays. Memory is one read buffer per thread plus 32 bytes and six numbers per file.
 *
 * Each file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat before any read: a file swapped for a
 * symlink fails with ELOOP instead of being followed, and a FIFO swapped in after the directory listing opens
 * without blocking and is refused by its fstat type, so the walk never hangs.
 */

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export const ST_PENDING = 0;
export const ST_OK = 1;
export const ST_CACHED = 2;
/** The path is now a symlink (O_NOFOLLOW: ELOOP). */
export const ST_SYMLINK = 3;
/** The path is no longer a regular file (FIFO, socket, device, directory). */
export const ST_NOT_FILE = 4;
export const ST_MISSING = 5;
export const ST_ERROR = 6;
/** A large regular file, left by the synchronous loop to the double-buffered reader on the main thread. */
export const ST_LARGE = 7;

/**
 * Above this size a file is hashed with reads in flight while the previous chunk is hashed (the shared hashFile
 * approach, ~1.7x the throughput of a synchronous read-then-hash loop on 2 cores); below it the open/read/close
 * round trip dominates and the synchronous loop wins.
 */
export const LARGE_FILE = 16 << 20;

/** Stat numbers kept per file, in this order. */
export const META = 2;
export const M_MODE = 0;
export const M_SIZE = 1;
/** Numbers kept per file for an incremental cache only (`stamps`), in this order. */
export const STAMPS = 3;
export const S_MTIME = 0;
export const S_CTIME = 1;
export const S_INO = 2;

/** Digests known from an earlier run (incremental signing), aligned with the file list. */
export interface CacheArrays {
  has: Uint8Array;
  /** size, mtimeMs, ctimeMs, ino per file. */
  meta: Float64Array;
  digests: Uint8Array;
  /** Entries changed at or after this time (ms) are re-hashed: their timestamps cannot prove they are unchanged. */
  cutoffMs: number;
}

export interface HashJob {
  root: string;
  count: number;
  /** The relative paths, on the main thread. */
  paths?: string[];
  /**
   * The same paths for the workers, as one shared UTF-8 blob with n+1 offsets: structured-cloning a million
   * strings into every worker would copy them all into each worker's heap.
   */
  names?: Uint8Array;
  offsets?: Uint32Array;
  /**
   * [next index to take, files done, files published, listing closed]. The last two serve `stream` jobs, whose files
   * are hashed while the walk still lists them (StreamingHash).
   */
  counter: Int32Array;
  stream?: boolean;
  status: Int32Array;
  meta: Float64Array;
  /** mtimeMs, ctimeMs, ino per file, when an incremental cache is kept. */
  stamps?: Float64Array;
  /**
   * The digest slots seen as four numbers each: a file left to the large-file reader parks its inode and device
   * there until its digest replaces them (16 bytes per file less than keeping them for every file).
   */
  wide: Float64Array;
  digests: Uint8Array;
  /** errno code of ST_ERROR entries is not shared; the main thread re-opens to report it. */
  chunk: number;
  bufferSize: number;
  largeFile: number;
  cache?: CacheArrays;
}

/**
 * The loop run by every thread. It must stay self-contained (its source is also evaluated in the workers), so it
 * receives the modules it uses.
 */
function hashShare(
  fsm: typeof fs,
  cryptom: typeof crypto,
  flags: { open: number },
  job: HashJob,
  onChunk?: () => void,
): void {
  const buf = Buffer.allocUnsafe(job.bufferSize);
  let n = job.count;
  const cache = job.cache;
  const paths = job.paths;
  const stream = job.stream === true;
  let offsets = job.offsets;
  let names = job.names ? Buffer.from(job.names.buffer, job.names.byteOffset, job.names.byteLength) : undefined;
  for (;;) {
    const start = Atomics.add(job.counter, 0, job.chunk);
    if (stream) {
      // The listing is still going: wait until this chunk is published or the listing is over. The arrays grow
      // (growable shared buffers) before an index is published, so views are taken again once it is.
      for (;;) {
        const published = Atomics.load(job.counter, 2);
        if (Atomics.load(job.counter, 3) === 1) {
          n = Atomics.load(job.counter, 2);
          break;
        }
        if (published >= start + job.chunk) {
          n = published;
          break;
        }
        Atomics.wait(job.counter, 2, published, 20);
      }
      if (start < n) {
        // Fixed-length views over the first n entries: V8 reads length-tracking views through slower paths.
        offsets = new Uint32Array(job.offsets!.buffer, 0, n + 1);
        names = Buffer.from(job.names!.buffer as ArrayBuffer, 0, offsets[n]);
        job.status = new Int32Array(job.status.buffer, 0, n);
        job.meta = new Float64Array(job.meta.buffer, 0, n * 2);
        job.digests = new Uint8Array(job.digests.buffer, 0, n * 32);
        job.wide = new Float64Array(job.digests.buffer, 0, n * 4);
      }
    }
    if (start >= n) break;
    const end = Math.min(n, start + job.chunk);
    for (let i = start; i < end; i++) {
      if (job.status[i] !== 0) continue;
      const rel = paths !== undefined ? paths[i] : names!.toString('utf8', offsets![i], offsets![i + 1]);
      const abs = `${job.root}/${rel}`;
      const m = i * 2;
      const stamps = job.stamps;
      if (cache !== undefined && cache.has[i] === 1) {
        const st = fsm.lstatSync(abs, { throwIfNoEntry: false });
        const c = i * 4;
        if (
          st?.isFile() &&
          st.size === cache.meta[c] &&
          st.mtimeMs === cache.meta[c + 1] &&
          st.ctimeMs === cache.meta[c + 2] &&
          st.ino === cache.meta[c + 3] &&
          st.mtimeMs < cache.cutoffMs &&
          st.ctimeMs < cache.cutoffMs
        ) {
          job.meta[m] = st.mode;
          job.meta[m + 1] = st.size;
          if (stamps !== undefined) {
            stamps[i * 3] = st.mtimeMs;
            stamps[i * 3 + 1] = st.ctimeMs;
            stamps[i * 3 + 2] = st.ino;
          }
          job.digests.set(cache.digests.subarray(i * 32, i * 32 + 32), i * 32);
          job.status[i] = 2;
          continue;
        }
      }
      let fd: number;
      try {
        fd = fsm.openSync(abs, flags.open);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        job.status[i] = code === 'ELOOP' ? 3 : code === 'ENOENT' || code === 'ENOTDIR' ? 5 : code === 'ENXIO' ? 4 : 6;
        continue;
      }
      try {
        const st = fsm.fstatSync(fd);
        job.meta[m] = st.mode;
        if (stamps !== undefined) {
          stamps[i * 3] = st.mtimeMs;
          stamps[i * 3 + 1] = st.ctimeMs;
          stamps[i * 3 + 2] = st.ino;
        }
        if (!st.isFile()) {
          job.status[i] = 4;
          continue;
        }
        if (st.size > job.largeFile) {
          job.meta[m + 1] = st.size;
          job.wide[i * 4] = st.ino;
          job.wide[i * 4 + 1] = st.dev;
          job.status[i] = 7;
          continue;
        }
        // A short read of a regular file means end of file, so a small file costs one read, not two.
        let r = fsm.readSync(fd, buf, 0, buf.length, null);
        let size = r;
        if (r < buf.length) {
          job.digests.set(cryptom.hash('sha256', buf.subarray(0, r), 'buffer'), i * 32);
        } else {
          const h = cryptom.createHash('sha256');
          while (r > 0) {
            h.update(r === buf.length ? buf : buf.subarray(0, r));
            if (r < buf.length) break;
            r = fsm.readSync(fd, buf, 0, buf.length, null);
            size += r;
          }
          job.digests.set(h.digest(), i * 32);
        }
        job.meta[m + 1] = size;
        job.status[i] = 1;
      } catch {
        job.status[i] = 6;
      } finally {
        fsm.closeSync(fd);
      }
    }
    Atomics.add(job.counter, 1, end - start);
    onChunk?.();
  }
}

/**
 * A worker runs one job: from its workerData, or, started ahead of time (prestartHashWorkers), from the first
 * message it receives. Only node:fs and node:crypto are loaded: a worker's start-up is ~40-100 ms of CPU already.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const hashShare = (${hashShare.toString()});
const run = (d) => {
  hashShare(require('node:fs'), require('node:crypto'), d.flags, d.job);
  parentPort.postMessage('done');
};
if (workerData) run(workerData);
else parentPort.once('message', run);
`;

/** Workers started ahead of time, waiting for a job (unreferenced: they never keep the process alive). */
const idleWorkers = new Set<Worker>();

/**
 * Start `count` hashing workers now, before the walk needs them, so their start-up (isolate, bootstrap, ~40-100 ms
 * of CPU) runs while the process is still busy on one core (`vouch verify dir:` parsing a large bundle). A walk
 * takes them instead of starting new ones; ones no walk took are ended when a walk's listing is done.
 */
export function prestartHashWorkers(count = defaultConcurrency() - 1): void {
  while (idleWorkers.size < count) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    // A worker that fails before it is taken is dropped; the walk then starts a fresh one.
    worker.on('error', () => idleWorkers.delete(worker));
    worker.once('exit', () => idleWorkers.delete(worker));
    idleWorkers.add(worker);
  }
}

/**
 * End the prestarted workers no walk took (a tree too small to need them): a worker still starting up would
 * otherwise hold the process at exit until it can be stopped.
 */
export function releaseIdleHashWorkers(): void {
  for (const worker of idleWorkers) void worker.terminate();
  idleWorkers.clear();
}

/** Prestarted workers still waiting for a job (tests). */
export function idleHashWorkers(): number {
  return idleWorkers.size;
}

/** A worker running `job`: a prestarted one if any is waiting, else a new one. */
function hashWorker(job: HashJob): Worker {
  const data = { job, flags: { open: OPEN_FLAGS } };
  for (const worker of idleWorkers) {
    idleWorkers.delete(worker);
    worker.ref();
    worker.postMessage(data);
    return worker;
  }
  return new Worker(WORKER_SOURCE, { eval: true, workerData: data });
}

export interface HashResult {
  status: Int32Array;
  meta: Float64Array;
  /** With a cache only: mtimeMs, ctimeMs, ino per file (STAMPS numbers each). */
  stamps?: Float64Array;
  digests: Uint8Array;
}

export interface HashOptions {
  /**
   * Threads reading files, the main thread included. Default: one per core, at least 2 and at most 8 (warm trees are
   * CPU-bound, so more threads than cores only contend), raised to IO_CONCURRENCY (6) as soon as the files turn out to
   * come from the disk rather than the page cache (a cold cache or a network disk gains from more reads in flight:
   * bench/dir.ts, 8 threads on 2 cores, cold, 0.6x the time of 2). An explicit value is used as given.
   */
  concurrency?: number;
  onProgress?: (filesDone: number, filesTotal: number) => void;
  cache?: CacheArrays;
  /** Size above which files are hashed with overlapped reads (default LARGE_FILE; tests lower it). */
  largeFile?: number;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const LARGE_CHUNK = 4 << 20;
export function defaultConcurrency(): number {
  return Math.max(2, Math.min(availableParallelism(), 8));
}

/**
 * Threads once reads are seen to wait for the disk: a blocked thread costs no CPU, so more reads can be in flight.
 * Each thread costs ~13 MB (its isolate), so 6 rather than 8 keeps a cold million-file walk under 300 MB.
 */
export const IO_CONCURRENCY = 6;

/**
 * Bytes this process has read from storage so far (Linux /proc/self/io `read_bytes`, all threads), or undefined
 * where that is not available. A warm page cache leaves it unchanged, which is what tells a cold tree apart.
 */
function storageReadBytes(): number | undefined {
  try {
    const m = /read_bytes: (\d+)/.exec(fs.readFileSync('/proc/self/io', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Storage reads during one check interval (50 ms) above which the tree counts as cold. */
const COLD_BYTES = 256 << 10;

/** Paths as one UTF-8 blob with n+1 offsets (see HashJob.names), e.g. a walk's sorted file list. */
export interface PackedPaths {
  count: number;
  names: Uint8Array;
  offsets: Uint32Array;
}

/** Pack paths into one shared UTF-8 blob: what the worker threads read, and a compact path column. */
export function packPaths(paths: readonly string[]): PackedPaths {
  const n = paths.length;
  let total = 0;
  for (const p of paths) total += Buffer.byteLength(p);
  const offsets = new Uint32Array(new SharedArrayBuffer(Math.max((n + 1) * 4, 8)));
  const names = Buffer.from(new SharedArrayBuffer(Math.max(total, 8)));
  let off = 0;
  for (let i = 0; i < n; i++) {
    offsets[i] = off;
    off += names.write(paths[i]!, off);
  }
  offsets[n] = off;
  return { count: n, names: new Uint8Array(names.buffer, 0, total), offsets };
}

/** Path `i` of a packed list. */
export function packedPath(p: PackedPaths, i: number): string {
  return Buffer.from(p.names.buffer, p.names.byteOffset, p.names.byteLength).toString(
    'utf8',
    p.offsets[i],
    p.offsets[i + 1],
  );
}

/** Below this many files a worker's start-up (~30 ms) costs more than it saves. */
const MIN_FILES_PER_WORKER = 2000;

/**
 * Hash `paths` (relative to `root`, already known to be regular files when listed) on several threads. The paths
 * may come packed (packPaths), in which case no thread keeps a string per file.
 */
export async function hashFiles(
  root: string,
  paths: string[] | PackedPaths,
  options: HashOptions = {},
): Promise<HashResult> {
  const packedIn = !Array.isArray(paths);
  const n = packedIn ? paths.count : paths.length;
  const shared = (bytes: number) => new SharedArrayBuffer(Math.max(bytes, 8));
  const digests = new Uint8Array(shared(n * 32));
  const job: HashJob = {
    root,
    count: n,
    counter: new Int32Array(shared(8)),
    status: new Int32Array(shared(n * 4)),
    meta: new Float64Array(shared(n * META * 8)),
    wide: new Float64Array(digests.buffer, 0, n * 4),
    digests,
    chunk: 64,
    bufferSize: 1 << 20,
    largeFile: options.largeFile ?? LARGE_FILE,
  };
  if (options.cache) {
    job.cache = options.cache;
    job.stamps = new Float64Array(shared(n * STAMPS * 8));
  }
  const wanted = Math.max(1, Math.min(options.concurrency ?? defaultConcurrency(), 16));
  const workers = Math.min(wanted - 1, Math.floor(n / MIN_FILES_PER_WORKER));
  // More threads when the disk turns out to be the bottleneck (default concurrency only, and only for trees big
  // enough to pay for the extra workers' start-up).
  const ioWorkers =
    options.concurrency === undefined
      ? Math.min(Math.max(IO_CONCURRENCY, wanted) - 1, Math.floor(n / MIN_FILES_PER_WORKER))
      : 0;
  const done: Promise<void>[] = [];
  let packed: PackedPaths | undefined = packedIn ? paths : undefined;
  if (!packed && Math.max(workers, ioWorkers) > 0) packed = packPaths(paths as string[]);
  if (packed) {
    job.offsets = packed.offsets;
    job.names = packed.names;
  }
  let started = 0;
  const startWorker = () => {
    started++;
    const worker = hashWorker(job);
    done.push(
      new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`hash worker exited with ${code}`))));
      }),
    );
  };
  for (let w = 0; w < workers; w++) startWorker();
  releaseIdleHashWorkers();
  let ioCheck = 0;
  let ioBytes = ioWorkers > started ? storageReadBytes() : undefined;
  const coldCheck =
    ioBytes !== undefined
      ? () => {
          const now = Date.now();
          if (now - ioCheck < 50) return;
          ioCheck = now;
          const b = storageReadBytes() ?? 0;
          const cold = b - ioBytes! >= COLD_BYTES;
          ioBytes = b;
          // Started from the synchronous loop: the new threads run on their own while this one keeps hashing.
          if (cold && n - Atomics.load(job.counter, 0) >= MIN_FILES_PER_WORKER) {
            while (started < ioWorkers) startWorker();
          }
        }
      : undefined;
  let last = 0;
  const report = options.onProgress
    ? () => {
        const now = Date.now();
        if (now - last >= 100) {
          last = now;
          options.onProgress!(Atomics.load(job.counter, 1), n);
        }
      }
    : undefined;
  const progress =
    report && coldCheck
      ? () => {
          report();
          if (started < ioWorkers) coldCheck();
        }
      : (report ?? (coldCheck ? () => started < ioWorkers && coldCheck() : undefined));
  const mainJob: HashJob = packedIn ? job : { ...job, paths: paths as string[] };
  hashShare(fs, crypto, { open: OPEN_FLAGS }, mainJob, progress);
  // Workers may still be on their last chunk.
  const timer = options.onProgress
    ? setInterval(() => options.onProgress!(Atomics.load(job.counter, 1), n), 100)
    : undefined;
  let failed = false;
  try {
    failed = (await Promise.allSettled(done)).some((r) => r.status === 'rejected');
  } finally {
    clearInterval(timer);
  }
  if (failed) {
    // A worker that died (out of memory, killed) leaves its chunk unhashed: finish it here rather than fail.
    Atomics.store(job.counter, 0, 0);
    hashShare(fs, crypto, { open: OPEN_FLAGS }, mainJob);
  }
  return finishHashing(job, n, (i) => `${root}/${packedIn ? packedPath(paths, i) : paths[i]}`, options);
}

/** The last progress report, then the large files the per-file loop left, one by one (hashLarge). */
async function finishHashing(
  job: HashJob,
  n: number,
  pathOf: (i: number) => string,
  options: HashOptions,
): Promise<HashResult> {
  options.onProgress?.(n, n);
  for (let i = 0; i < n; i++) {
    if (job.status[i] === ST_LARGE) await hashLarge(pathOf(i), i, job);
  }
  return {
    status: job.status,
    meta: job.meta,
    ...(job.stamps && { stamps: job.stamps }),
    digests: job.digests,
  };
}

/**
 * Hash one large file with the next 4 MiB read in flight while the current chunk is hashed. It is opened again with
 * the same flags and must still be the file the synchronous loop saw (same inode and device), or it is reported as
 * changed (ST_NOT_FILE / ST_SYMLINK / ST_MISSING as the new open finds it).
 */
async function hashLarge(abs: string, i: number, job: HashJob): Promise<void> {
  const m = i * META;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(abs, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    job.status[i] = code === 'ELOOP' ? ST_SYMLINK : code === 'ENOENT' ? ST_MISSING : ST_ERROR;
    return;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.ino !== job.wide[i * 4] || st.dev !== job.wide[i * 4 + 1]) {
      job.status[i] = ST_NOT_FILE;
      return;
    }
    const hash = crypto.createHash('sha256');
    const bufs = [Buffer.allocUnsafe(LARGE_CHUNK), Buffer.allocUnsafe(LARGE_CHUNK)];
    let k = 0;
    let size = 0;
    let pending = fh.read(bufs[0]!, 0, LARGE_CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const cur = bufs[k]!;
      k ^= 1;
      pending = fh.read(bufs[k]!, 0, LARGE_CHUNK, null);
      hash.update(bytesRead === LARGE_CHUNK ? cur : cur.subarray(0, bytesRead));
      size += bytesRead;
    }
    job.digests.set(hash.digest(), i * 32);
    job.meta[m + M_MODE] = st.mode;
    job.meta[m + M_SIZE] = size;
    job.status[i] = ST_OK;
  } catch {
    job.status[i] = ST_ERROR;
  } finally {
    await fh.close();
  }
}

/**
 * Hashing that starts while the walk is still listing: the walk appends each regular file's path (in manifest
 * order) and worker threads hash every published chunk at once, instead of waiting ~200 ms per 80,000 files for the
 * whole listing. Paths, offsets and the per-file results live in growable shared buffers (address space reserved
 * up front, pages committed as they grow), so the workers see the same arrays as they grow and the path blob is
 * never copied. The first worker starts once MIN_FILES_PER_WORKER files are listed (a small tree starts none) and
 * the main thread joins the hashing when the listing is done.
 */
/** A growable SharedArrayBuffer (ES2024; the project's TypeScript lib predates it). */
type GrowableBuffer = SharedArrayBuffer & { readonly maxByteLength: number; grow(bytes: number): void };
const GrowableShared = SharedArrayBuffer as unknown as new (
  bytes: number,
  options: { maxByteLength: number },
) => GrowableBuffer;

export class StreamingHash {
  readonly #root: string;
  readonly #options: HashOptions;
  readonly #job: HashJob;
  readonly #names: GrowableBuffer;
  readonly #offsets: GrowableBuffer;
  readonly #status: GrowableBuffer;
  readonly #meta: GrowableBuffer;
  readonly #digests: GrowableBuffer;
  #nameView: Buffer;
  #offsetView: Uint32Array;
  #capacity = 0;
  readonly #maxFiles: number;
  #count = 0;
  #length = 0;
  #published = 0;
  readonly #wanted: number;
  #ioWorkers: number;
  /** Workers started beside the main thread. */
  #started = 0;
  readonly #done: Promise<void>[] = [];
  #ioCheck = 0;
  #ioBytes: number | undefined;
  #lastReport = 0;

  /** `maxFiles` and `maxBytes` (of all paths) bound the reserved address space; more is refused (RangeError). */
  constructor(root: string, maxFiles: number, maxBytes: number, options: HashOptions = {}) {
    this.#root = root;
    this.#options = options;
    this.#maxFiles = maxFiles;
    const grow = (bytes: number) => new GrowableShared(0, { maxByteLength: Math.max(bytes, 8) });
    this.#names = grow(Math.min(maxBytes, 2 ** 32 - 1));
    this.#offsets = grow((maxFiles + 1) * 4);
    this.#status = grow(maxFiles * 4);
    this.#meta = grow(maxFiles * META * 8);
    this.#digests = grow(maxFiles * 32);
    this.#offsets.grow(4);
    this.#nameView = Buffer.from(this.#names);
    this.#offsetView = new Uint32Array(this.#offsets, 0, 1);
    this.#job = {
      root,
      count: 0,
      stream: true,
      counter: new Int32Array(new SharedArrayBuffer(16)),
      status: new Int32Array(this.#status),
      meta: new Float64Array(this.#meta),
      wide: new Float64Array(this.#digests),
      digests: new Uint8Array(this.#digests),
      names: new Uint8Array(this.#names),
      offsets: this.#offsetView,
      chunk: 64,
      bufferSize: 1 << 20,
      largeFile: options.largeFile ?? LARGE_FILE,
    };
    this.#wanted = Math.max(1, Math.min(options.concurrency ?? defaultConcurrency(), 16));
    this.#ioWorkers = options.concurrency === undefined ? Math.max(IO_CONCURRENCY, this.#wanted) - 1 : 0;
  }

  add(path: string): void {
    if (this.#count + 2 > this.#capacity) {
      // Fixed-length views, taken again after each growth: V8 reads length-tracking views through slower paths.
      const c = Math.min(Math.max(1 << 12, this.#capacity * 2), this.#maxFiles);
      this.#offsets.grow((c + 1) * 4);
      this.#status.grow(c * 4);
      this.#meta.grow(c * META * 8);
      this.#digests.grow(c * 32);
      this.#offsetView = new Uint32Array(this.#offsets, 0, c + 1);
      this.#capacity = c;
    }
    if (this.#length + path.length * 3 > this.#nameView.length) {
      const bytes = Math.max(this.#nameView.length * 2, this.#length + path.length * 3, 1 << 16);
      this.#names.grow(Math.min(bytes, this.#names.maxByteLength));
      this.#nameView = Buffer.from(this.#names);
    }
    this.#offsetView[this.#count++] = this.#length;
    this.#length += this.#nameView.write(path, this.#length);
    this.#offsetView[this.#count] = this.#length;
    if (this.#count - this.#published >= 64) this.#publish();
  }

  #publish(): void {
    const counter = this.#job.counter;
    this.#published = this.#count;
    Atomics.store(counter, 2, this.#count);
    Atomics.notify(counter, 2);
    const workers = Math.min(this.#wanted - 1, Math.floor(this.#count / MIN_FILES_PER_WORKER));
    while (this.#started < workers) this.#startWorker();
    this.#progress();
  }

  #startWorker(): void {
    this.#started++;
    const worker = hashWorker(this.#job);
    this.#done.push(
      new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`hash worker exited with ${code}`))));
      }),
    );
  }

  /** Progress reports, and more threads once reads turn out to come from the disk (see HashOptions.concurrency). */
  #progress(): void {
    const now = Date.now();
    const onProgress = this.#options.onProgress;
    if (onProgress && now - this.#lastReport >= 100) {
      this.#lastReport = now;
      onProgress(Atomics.load(this.#job.counter, 1), this.#published);
    }
    if (this.#started >= this.#ioWorkers || now - this.#ioCheck < 50) return;
    this.#ioCheck = now;
    const b = storageReadBytes();
    if (b === undefined) return;
    const cold = this.#ioBytes !== undefined && b - this.#ioBytes >= COLD_BYTES;
    this.#ioBytes = b;
    const closed = Atomics.load(this.#job.counter, 3) === 1;
    const left = this.#published - Atomics.load(this.#job.counter, 0);
    if (cold && (!closed || left >= MIN_FILES_PER_WORKER)) {
      const most = Math.min(this.#ioWorkers, Math.floor(this.#published / MIN_FILES_PER_WORKER));
      while (this.#started < most) this.#startWorker();
    }
  }

  /** The walk failed: let the workers stop at their current chunk. */
  abort(): void {
    releaseIdleHashWorkers();
    const counter = this.#job.counter;
    Atomics.store(counter, 0, 1 << 30);
    Atomics.store(counter, 3, 1);
    Atomics.notify(counter, 2);
    void Promise.allSettled(this.#done);
  }

  /** The listing is complete: hash what is left on this thread too, then return the paths and results. */
  async finish(): Promise<{ packed: PackedPaths; hashed: HashResult }> {
    const job = this.#job;
    const n = this.#count;
    // The listing is over: the workers it needed are running (more, for a cold tree, are started fresh).
    releaseIdleHashWorkers();
    this.#published = n;
    Atomics.store(job.counter, 2, n);
    Atomics.store(job.counter, 3, 1);
    Atomics.notify(job.counter, 2);
    const onProgress = this.#options.onProgress;
    hashShare(fs, crypto, { open: OPEN_FLAGS }, job, () => this.#progress());
    const timer = onProgress ? setInterval(() => onProgress(Atomics.load(job.counter, 1), n), 100) : undefined;
    let failed = false;
    try {
      failed = (await Promise.allSettled(this.#done)).some((r) => r.status === 'rejected');
    } finally {
      clearInterval(timer);
    }
    if (failed) {
      // A worker that died (out of memory, killed) leaves its chunk unhashed: finish it here rather than fail.
      Atomics.store(job.counter, 0, 0);
      hashShare(fs, crypto, { open: OPEN_FLAGS }, job);
    }
    const packed: PackedPaths = {
      count: n,
      names: new Uint8Array(this.#names, 0, this.#length),
      offsets: new Uint32Array(this.#offsets, 0, n + 1),
    };
    const fixed: HashJob = {
      ...job,
      status: new Int32Array(this.#status, 0, n),
      meta: new Float64Array(this.#meta, 0, n * META),
      wide: new Float64Array(this.#digests, 0, n * 4),
      digests: new Uint8Array(this.#digests, 0, n * 32),
    };
    const hashed = await finishHashing(fixed, n, (i) => `${this.#root}/${packedPath(packed, i)}`, this.#options);
    return { packed, hashed };
  }
}
