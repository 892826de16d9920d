/**
 * The hashing pool: one for every job that hashes a tree's files (sign walks, verify walks, the incremental
 * cache, one file checked with `--path`). The walk `publish`es files as it lists them, `close`s when the listing is
 * done, and awaits `done`. Worker threads (src/artifact/dir/hash-worker.ts) hash each published chunk at once while
 * the listing goes on; once it is closed the main thread joins them, then hashes the large files with reads in
 * flight. Everything per file lives in shared arrays (paths as one UTF-8 blob with offsets, status, mode, size,
 * digest: about 60 bytes a file), so a million files never exist as a million strings or objects.
 */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hashHandle } from '../../core/digest.ts';
import { handleSource } from '../pe/layout.ts';
import { hashLoop, OPEN_FLAGS, openFailure, peMark } from './hash-loop.ts';
import { FileStatus, type HashJob, META, type PeMark, STAMPS } from './status.ts';

/** Above this size a file is hashed with the next 4 MiB read in flight (core/digest.ts), on the main thread. */
export const LARGE_FILE = 16 << 20;
/** What a large file's PE check reads first (its headers), before the overlapped reader hashes it. */
const PE_HEAD = 4096;
/** Below this many published files a worker's start-up (~30-80 ms of CPU) costs more than it saves. */
const MIN_FILES_PER_WORKER = 2000;
/**
 * Threads once reads turn out to wait for the disk (a cold cache, a network disk): a blocked thread costs no CPU,
 * so more reads can be in flight. Each worker costs ~27 MB of resident memory (measured: 135, 161 and 188 MB for
 * 2, 3 and 4 threads on 80,000 files), so 4 keeps a cold million-file walk well under 300 MB (6 reached 313 MB).
 */
const IO_THREADS = 4;
/**
 * The tree counts as cold once at least half of the bytes read (and 256 KiB) came from storage, judged over
 * stretches of 1 to 64 MiB read. A warm tree whose directory blocks and inodes were evicted reads some metadata
 * from storage (bursts of a few hundred KiB) while its file data comes from the page cache: more threads would
 * only cost CPU and memory there.
 */
const COLD_BYTES = 256 << 10;
const JUDGED_READS = [1 << 20, 64 << 20] as const;

/** Hashing threads by default, the main thread included: one per core, 2 to 8. */
export function defaultConcurrency(): number {
  return Math.max(2, Math.min(availableParallelism(), 8));
}

/** A file the incremental cache knows: its stat numbers when it was hashed, and the digest. */
export interface CachedFile {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: Buffer;
  /** What the PE check found when it was hashed. */
  pe: PeMark;
}

export interface PoolOptions {
  /** Hashing threads, the main thread included (default: defaultConcurrency, more for a cold tree). */
  concurrency?: number;
  onProgress?: (filesDone: number, filesTotal: number) => void;
  /** Size above which a file is hashed with overlapped reads (default LARGE_FILE; tests lower it). */
  largeFile?: number;
  /** The most files and path bytes the walk may publish (address space is reserved for them, not memory). */
  maxFiles: number;
  maxPathBytes: number;
  /** Incremental signing: what an earlier walk hashed, and the time before which its entries can be trusted. */
  cache?: { lookup(path: string): CachedFile | undefined; cutoffMs: number };
  /** Run the structural PE check on every file that starts with "MZ" (HashedFiles.pe). */
  peCheck?: boolean;
}

/** The hashed files, in published order: views of the pool's shared arrays. */
export interface HashedFiles {
  count: number;
  names: Buffer;
  offsets: Uint32Array;
  status: Int32Array;
  meta: Float64Array;
  digests: Uint8Array;
  /** With a cache: STAMPS numbers per file as found now. */
  stamps?: Float64Array;
  /** With `peCheck`: a PeMark per file. */
  pe?: Uint8Array;
}

/** Path `i` of hashed files. */
export function hashedPath(h: { names: Buffer; offsets: Uint32Array }, i: number): string {
  return h.names.toString('utf8', h.offsets[i], h.offsets[i + 1]);
}

/** A growable SharedArrayBuffer (ES2024; the project's TypeScript lib predates it). */
type Growable = SharedArrayBuffer & { readonly maxByteLength: number; grow(bytes: number): void };
const GrowableShared = SharedArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Growable;

export class HashPool {
  /** Settles once every published file is hashed (or left with the status that says why not). */
  readonly done: Promise<HashedFiles>;
  readonly #root: string;
  readonly #options: PoolOptions;
  readonly #job: HashJob;
  readonly #buffers: Record<'names' | 'offsets' | 'status' | 'meta' | 'digests', Growable>;
  readonly #cacheBuffers: Growable[] = [];
  readonly #peBuffer: Growable | undefined;
  #nameView: Buffer;
  #offsetView: Uint32Array;
  #capacity = 0;
  #count = 0;
  #length = 0;
  readonly #wanted: number;
  readonly #ioThreads: number;
  #workers: Worker[] = [];
  readonly #exits: Promise<boolean>[] = [];
  #closed = false;
  #lastReport = 0;
  #ioCheck = 0;
  #io: ReadCounters | undefined;
  #settle!: (files: HashedFiles | Promise<HashedFiles>) => void;

  constructor(root: string, options: PoolOptions) {
    this.#root = root;
    this.#options = options;
    const reserve = (bytes: number) => new GrowableShared(0, { maxByteLength: Math.max(bytes, 8) });
    const n = options.maxFiles;
    this.#buffers = {
      names: reserve(Math.min(options.maxPathBytes, 2 ** 32 - 1)),
      offsets: reserve((n + 1) * 4),
      status: reserve(n * 4),
      meta: reserve(n * META * 8),
      digests: reserve(n * 32),
    };
    this.#buffers.offsets.grow(4);
    this.#nameView = Buffer.from(this.#buffers.names);
    this.#offsetView = new Uint32Array(this.#buffers.offsets, 0, 1);
    this.#job = {
      root,
      counter: new Int32Array(new SharedArrayBuffer(16)),
      names: new Uint8Array(this.#buffers.names),
      offsets: new Uint32Array(this.#buffers.offsets),
      status: new Int32Array(this.#buffers.status),
      meta: new Float64Array(this.#buffers.meta),
      digests: new Uint8Array(this.#buffers.digests),
      chunk: 64,
      bufferSize: 1 << 20,
      largeFile: options.largeFile ?? LARGE_FILE,
    };
    if (options.cache) {
      const [has, meta, digests, stamps] = [n, n * STAMPS * 8, n * 32, n * STAMPS * 8].map(reserve) as Growable[];
      this.#cacheBuffers.push(has!, meta!, digests!, stamps!);
      this.#job.cache = {
        has: new Uint8Array(has!),
        meta: new Float64Array(meta!),
        digests: new Uint8Array(digests!),
        cutoffMs: options.cache.cutoffMs,
      };
      this.#job.stamps = new Float64Array(stamps!);
    }
    if (options.peCheck) {
      this.#peBuffer = reserve(n);
      this.#job.pe = new Uint8Array(this.#peBuffer);
    }
    this.#wanted = Math.max(1, Math.min(options.concurrency ?? defaultConcurrency(), 16));
    this.#ioThreads = options.concurrency === undefined ? Math.max(IO_THREADS, this.#wanted) : 0;
    this.done = new Promise<HashedFiles>((resolve) => {
      this.#settle = resolve;
    });
    // A walk that fails never awaits its pool.
    this.done.catch(() => {});
  }

  /** Files just listed, relative to the root, in the order their results are wanted. */
  publish(paths: readonly string[]): void {
    if (this.#closed) throw new Error('publish after close');
    for (const path of paths) this.#add(path);
    const counter = this.#job.counter;
    Atomics.store(counter, 2, this.#count);
    Atomics.notify(counter, 2);
    const workers = Math.min(this.#wanted - 1, Math.floor(this.#count / MIN_FILES_PER_WORKER));
    while (this.#workers.length < workers) this.#startWorker();
    this.#tick();
  }

  #add(path: string): void {
    const i = this.#count;
    if (i + 2 > this.#capacity) this.#grow();
    if (this.#length + path.length * 3 > this.#nameView.length) {
      const names = this.#buffers.names;
      const want = Math.max(this.#nameView.length * 2, this.#length + path.length * 3, 1 << 16);
      names.grow(Math.min(want, names.maxByteLength));
      this.#nameView = Buffer.from(names);
      if (this.#length + Buffer.byteLength(path) > this.#nameView.length) {
        throw new RangeError('more path bytes than the pool was made for');
      }
    }
    this.#offsetView[i] = this.#length;
    this.#length += this.#nameView.write(path, this.#length);
    this.#offsetView[i + 1] = this.#length;
    this.#count = i + 1;
    const cache = this.#job.cache;
    const known = cache && this.#options.cache!.lookup(path);
    if (known) {
      cache.has[i] = 1 + known.pe;
      cache.meta.set([known.size, known.mtimeMs, known.ctimeMs, known.ino], i * STAMPS);
      cache.digests.set(known.sha256, i * 32);
    }
  }

  /** Room for more files: every per-file array grows before an index in it is published. */
  #grow(): void {
    const c = Math.min(Math.max(1 << 12, this.#capacity * 2), this.#options.maxFiles);
    if (c <= this.#count) throw new RangeError('more files than the pool was made for');
    const b = this.#buffers;
    b.offsets.grow((c + 1) * 4);
    b.status.grow(c * 4);
    b.meta.grow(c * META * 8);
    b.digests.grow(c * 32);
    this.#peBuffer?.grow(c);
    const [has, meta, digests, stamps] = this.#cacheBuffers;
    if (has) {
      has.grow(c);
      meta!.grow(c * STAMPS * 8);
      digests!.grow(c * 32);
      stamps!.grow(c * STAMPS * 8);
    }
    this.#offsetView = new Uint32Array(b.offsets, 0, c + 1);
    this.#capacity = c;
  }

  #startWorker(): void {
    const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
    const worker = new Worker(new URL(`./hash-worker${ext}`, import.meta.url), { workerData: this.#job });
    this.#workers.push(worker);
    this.#exits.push(
      new Promise<boolean>((resolve) => {
        worker.once('error', () => resolve(false));
        worker.once('exit', (code) => resolve(code === 0));
      }),
    );
  }

  /** Progress reports, and more threads once reads turn out to come from the disk. */
  #tick(): void {
    const now = Date.now();
    const counter = this.#job.counter;
    if (this.#options.onProgress && now - this.#lastReport >= 100) {
      this.#lastReport = now;
      this.#options.onProgress(Atomics.load(counter, 1), this.#count);
    }
    if (this.#workers.length + 1 >= this.#ioThreads || now - this.#ioCheck < 50) return;
    this.#ioCheck = now;
    const io = readCounters();
    if (io === undefined) return;
    this.#io ??= io;
    const storage = io.storage - this.#io.storage;
    const read = io.read - this.#io.read;
    if (read < JUDGED_READS[0]) return;
    const cold = storage >= COLD_BYTES && storage * 2 >= read;
    if (!cold && read >= JUDGED_READS[1]) this.#io = io;
    const left = this.#count - Atomics.load(counter, 0);
    if (cold && (!this.#closed || left >= MIN_FILES_PER_WORKER)) {
      const most = Math.min(this.#ioThreads - 1, Math.floor(this.#count / MIN_FILES_PER_WORKER));
      while (this.#workers.length < most) this.#startWorker();
    }
  }

  /** The listing is complete: the main thread hashes too, then the large files; `done` settles with the results. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const counter = this.#job.counter;
    Atomics.store(counter, 2, this.#count);
    Atomics.store(counter, 3, 1);
    Atomics.notify(counter, 2);
    this.#settle(this.#finish());
  }

  /** The walk failed: the workers stop after their current chunk. */
  abort(): void {
    const counter = this.#job.counter;
    Atomics.store(counter, 0, 1 << 30);
    Atomics.store(counter, 3, 1);
    Atomics.notify(counter, 2);
    this.#closed = true;
    this.#settle(Promise.reject(new Error('hashing aborted')));
  }

  async #finish(): Promise<HashedFiles> {
    const job = this.#job;
    const n = this.#count;
    await hashLoop(job, () => this.#tick());
    const report = this.#options.onProgress;
    const timer = report ? setInterval(() => report(Atomics.load(job.counter, 1), n), 100) : undefined;
    let ok: boolean[];
    try {
      ok = await Promise.all(this.#exits);
    } finally {
      clearInterval(timer);
    }
    if (ok.includes(false)) {
      // A worker that died (out of memory, killed) left its chunk unhashed: finish it here rather than fail.
      Atomics.store(job.counter, 0, 0);
      await hashLoop(job);
    }
    const files: HashedFiles = {
      count: n,
      names: Buffer.from(this.#buffers.names, 0, this.#length),
      offsets: new Uint32Array(this.#buffers.offsets, 0, n + 1),
      status: new Int32Array(this.#buffers.status, 0, n),
      meta: new Float64Array(this.#buffers.meta, 0, n * META),
      digests: new Uint8Array(this.#buffers.digests, 0, n * 32),
    };
    if (job.stamps) files.stamps = new Float64Array(job.stamps.buffer, 0, n * STAMPS);
    if (this.#peBuffer) files.pe = new Uint8Array(this.#peBuffer, 0, n);
    report?.(n, n);
    for (let i = 0; i < n; i++) {
      if (files.status[i] === FileStatus.Large) await this.#hashLarge(files, i);
    }
    return files;
  }

  /**
   * One large file, opened again with the same flags: it must still be the file the per-file loop saw (same inode
   * and device, parked in its digest slot), or it is reported as changed.
   */
  async #hashLarge(files: HashedFiles, i: number): Promise<void> {
    const wide = new Float64Array(files.digests.buffer, i * 32, 2);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(`${this.#root}/${hashedPath(files, i)}`, OPEN_FLAGS);
    } catch (e) {
      files.status[i] = openFailure((e as NodeJS.ErrnoException).code);
      return;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.ino !== wide[0] || st.dev !== wide[1]) {
        files.status[i] = FileStatus.NotFile;
        return;
      }
      if (files.pe) {
        const head = Buffer.alloc(PE_HEAD);
        const { bytesRead } = await fh.read(head, 0, PE_HEAD, 0);
        files.pe[i] = await peMark(handleSource(fh, st.size), head.subarray(0, bytesRead));
      }
      const d = await hashHandle(fh, 'sha256');
      files.digests.set(d.value, i * 32);
      files.meta[i * META] = st.mode;
      files.meta[i * META + 1] = d.size;
      if (files.stamps) files.stamps.set([d.size, st.mtimeMs, st.ctimeMs, st.ino], i * STAMPS);
      files.status[i] = FileStatus.Hashed;
    } catch {
      files.status[i] = FileStatus.Unreadable;
    } finally {
      await fh.close();
    }
  }
}

interface ReadCounters {
  /** Bytes read by read(2) and the like, from the page cache or not. */
  read: number;
  /** Bytes fetched from storage. */
  storage: number;
}

/**
 * This process's read counters so far (Linux /proc/self/io `rchar` and `read_bytes`, all threads), or undefined
 * where they are not available. A warm page cache leaves `storage` (nearly) unchanged however much is read, which
 * is what tells a cold tree apart.
 */
function readCounters(): ReadCounters | undefined {
  try {
    const text = readFileSync('/proc/self/io', 'latin1');
    const read = /rchar: (\d+)/.exec(text);
    const storage = /read_bytes: (\d+)/.exec(text);
    return read && storage ? { read: Number(read[1]), storage: Number(storage[1]) } : undefined;
  } catch {
    return undefined;
  }
}

/** Hash listed files (relative to `root`) on the pool's threads: `--path`, tests and benchmarks. */
export async function hashFiles(
  root: string,
  paths: readonly string[],
  options: Omit<PoolOptions, 'maxFiles' | 'maxPathBytes'> = {},
): Promise<HashedFiles> {
  const pool = new HashPool(root, {
    ...options,
    maxFiles: Math.max(paths.length, 1),
    maxPathBytes: paths.reduce((n, p) => n + Buffer.byteLength(p), 0),
  });
  pool.publish(paths);
  pool.close();
  return pool.done;
}
