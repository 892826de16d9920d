/**
 * The optional native per-file hashing core (native/hash.c): hashShare's loop in C on plain threads, for jobs
 * without an incremental cache. It is built at install/build time into native/build/vouch-hash.node at the package
 * root (scripts/build-native.mjs) when a C compiler is there, and loaded here once, lazily. Anything that goes wrong
 * (no file: no compiler, Windows; a node that does not export the functions it needs; VOUCH_NATIVE=0) leaves the
 * JS loop in hash.ts to do the work, with the same results.
 */

import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared arrays and numbers a native job reads (HashJob's, plus the room a streamed job's arrays have). */
export interface NativeJob {
  names: Uint8Array;
  offsets: Uint32Array;
  counter: Int32Array;
  status: Int32Array;
  meta: Float64Array;
  digests: Uint8Array;
  count: number;
  stream: boolean;
  maxFiles: number;
  chunk: number;
  bufferSize: number;
  largeFile: number;
}

interface Addon {
  start(root: string, job: NativeJob, threads: number, done: (error: string | null) => void): object;
  addThreads(handle: object, count: number): number;
  stop(handle: object): void;
  address(view: ArrayBufferView): bigint;
  jsonDigest(...args: [...ColumnArgs, ...(0 | 1 | Uint8Array | Uint32Array)[]]): (Buffer | null)[];
  jsonWrite(...args: [...ColumnArgs, fd: number, othersText: Uint8Array, othersOffsets: Uint32Array]): number | null;
}

/** The six columns, in the order the addon's JSON functions take them. */
type ColumnArgs = [
  names: Uint8Array,
  offsets: Uint32Array,
  digests: Uint8Array,
  sizes: Float64Array,
  flags: Uint8Array,
  order: Int32Array,
];

function columnArgs(c: JsonColumns): ColumnArgs {
  return [c.names, c.offsets, c.digests, c.sizes, c.flags, c.order];
}

/** A running native job. */
export interface NativeRun {
  /** Settles once every thread has left; rejects if none could do any work (the caller then hashes in JS). */
  done: Promise<void>;
  /** Start up to `count` more threads (a cold tree); returns how many started. */
  addThreads(count: number): number;
  /** Make the threads leave after their current file, and wait until they have. */
  stop(): void;
}

const ADDON_FILE = 'vouch-hash.node';

let addon: Addon | null | undefined;
let runs = 0;

/** native/build/vouch-hash.node in the package root: the first folder up from this module with a package.json. */
function addonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    if (existsSync(join(dir, 'package.json'))) {
      const file = join(dir, 'native', 'build', ADDON_FILE);
      return existsSync(file) ? file : undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function load(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const file = process.platform === 'win32' ? undefined : addonPath();
    if (file) {
      const m = { exports: {} as Partial<Addon> };
      // RTLD_NOW: a node missing one of the symbols the addon uses fails here, not at a call.
      process.dlopen(m, file, constants.dlopen.RTLD_NOW);
      const e = m.exports;
      if (typeof e.start === 'function' && typeof e.addThreads === 'function' && typeof e.stop === 'function') {
        addon = e as Addon;
      }
    }
  } catch {
    // Not built for this node or platform: the JS loop hashes.
  }
  return addon;
}

/** Whether the native core is built and loads in this process (VOUCH_NATIVE aside). */
export function nativeHashAvailable(): boolean {
  return load() !== null;
}

/** Whether a job without an incremental cache will use the native core: it loads, and VOUCH_NATIVE is not 0. */
export function nativeHashWanted(): boolean {
  return process.env.VOUCH_NATIVE !== '0' && nativeHashAvailable();
}

/** Native jobs started in this process (tests: that a job did take the native path). */
export function nativeHashRuns(): number {
  return runs;
}

/** Where a typed array's memory starts (tests: a growable shared buffer must not move as it grows). */
export function nativeAddress(view: ArrayBufferView): bigint | undefined {
  return load()?.address(view);
}

/** Start `threads` native threads on `job`, or return undefined if the core is not there or refuses the job. */
export function startNativeHash(root: string, job: NativeJob, threads: number): NativeRun | undefined {
  const a = load();
  if (!a) return undefined;
  let settle!: (error: string | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === null ? resolve() : reject(new Error(error)));
  });
  let handle: object;
  try {
    handle = a.start(root, job, threads, (error) => settle(error));
  } catch {
    return undefined;
  }
  runs++;
  // An aborted walk never awaits its run: its failure must not surface as an unhandled rejection.
  done.catch(() => {});
  return {
    done,
    addThreads: (count) => a.addThreads(handle, count),
    stop: () => a.stop(handle),
  };
}

/** A walk's entry columns, as CompactEntries keeps them. */
export interface JsonColumns {
  names: Uint8Array;
  offsets: Uint32Array;
  digests: Uint8Array;
  sizes: Float64Array;
  flags: Uint8Array;
  order: Int32Array;
}

/**
 * One JSON digest to make: the entry array written in `style`, between `prefix` and `suffix`; the entries that are
 * not files come written in that style, one after another in `othersText`, entry j at othersOffsets[j].
 */
export interface JsonDigestJob {
  style: 'canonical' | 'plain';
  prefix: Uint8Array;
  suffix: Uint8Array;
  othersText: Uint8Array;
  othersOffsets: Uint32Array;
}

/**
 * SHA-256 of prefix + the entries' JSON array (CompactEntries.jsonChunks in the job's style) + suffix, for one or
 * two jobs (two run on two threads at once), written and hashed in C. Undefined when the core is not used
 * (VOUCH_NATIVE=0, not built); a job's result is undefined when C cannot write some entry exactly as the JS writer
 * does (a path JSON escapes): the caller then writes and hashes that one in JS.
 */
export function nativeJsonDigests(c: JsonColumns, jobs: JsonDigestJob[]): (Buffer | undefined)[] | undefined {
  if (!nativeHashWanted() || jobs.length < 1 || jobs.length > 2) return undefined;
  const a = load();
  if (typeof a?.jsonDigest !== 'function') return undefined;
  const args = jobs.flatMap((j) => [
    j.style === 'canonical' ? (0 as const) : (1 as const),
    j.prefix,
    j.suffix,
    j.othersText,
    j.othersOffsets,
  ]);
  const r = a.jsonDigest(...columnArgs(c), ...args);
  return r.map((d) => d ?? undefined);
}

/**
 * The entries' plain JSON array (CompactEntries.jsonChunks('plain')) written by C to `fd` at its current offset;
 * the bytes written, or undefined having written nothing (the core is not used, or some entry needs the JS
 * writer). A write error throws.
 */
export function nativeJsonWrite(
  c: JsonColumns,
  fd: number,
  othersText: Uint8Array,
  othersOffsets: Uint32Array,
): number | undefined {
  if (!nativeHashWanted()) return undefined;
  const a = load();
  if (typeof a?.jsonWrite !== 'function') return undefined;
  const n = a.jsonWrite(...columnArgs(c), fd, othersText, othersOffsets);
  return n ?? undefined;
}
