/**
 * What the hashing threads share: the status of each file and the layout of the per-file arrays. Imported by the
 * pool (main thread) and by the worker module alike, so both read the same numbers.
 */

/** Where one file stands after the hashing threads have seen it. */
export const FileStatus = {
  Pending: 0,
  Hashed: 1,
  /** Its digest came from the incremental cache (size, times and inode unchanged). */
  Cached: 2,
  /** The path is now a symlink (opened with O_NOFOLLOW: ELOOP). */
  Symlink: 3,
  /** No longer a regular file (FIFO, socket, device, directory). */
  NotFile: 4,
  Missing: 5,
  /** open or read failed otherwise (EACCES, EIO, ...): the main thread opens it again to say why. */
  Unreadable: 6,
  /** A large regular file, left by the per-file loop to the overlapped reader on the main thread. */
  Large: 7,
} as const;
export type FileStatus = (typeof FileStatus)[keyof typeof FileStatus];

/**
 * What the PE check (issue 15, src/artifact/pe) found in a file, kept per file when a job checks: not a PE image
 * (or not looked at), a PE image without a refusing anomaly, or one the main thread must look at again with the
 * full check (a refusing anomaly, headers that cannot be trusted, or a check that failed).
 */
export const PeMark = {
  None: 0,
  Clean: 1,
  Flagged: 2,
} as const;
export type PeMark = (typeof PeMark)[keyof typeof PeMark];

/** Numbers kept per file in `meta`: mode and size. */
export const META = 2;
/** Numbers kept per file for an incremental cache: size, mtimeMs, ctimeMs, ino (in `cacheMeta` and `stamps`). */
export const STAMPS = 4;

/**
 * The arrays of one hashing job, shared by every thread. The path, status, stat and digest arrays sit on growable
 * SharedArrayBuffers: the walk appends while the threads hash, so a thread takes fixed-length views of the first
 * `published` files each time it looks (V8 reads length-tracking views through slower paths).
 */
export interface HashJob {
  root: string;
  /** [next index to take, files done, files published, listing closed (1)]. */
  counter: Int32Array;
  names: Uint8Array;
  /** published + 1 offsets into `names`. */
  offsets: Uint32Array;
  status: Int32Array;
  /** META numbers per file. */
  meta: Float64Array;
  /** 32 bytes per file; a Large file parks its inode and device here (as two doubles) until its digest is in. */
  digests: Uint8Array;
  /**
   * Incremental signing: whether the cache knows the file (0), else 1 + its PeMark, its STAMPS numbers and digest.
   */
  cache?: { has: Uint8Array; meta: Float64Array; digests: Uint8Array; cutoffMs: number };
  /** When the job runs the PE check: a PeMark per file. */
  pe?: Uint8Array;
  /** Incremental signing: STAMPS numbers per file as found now, for the next cache. */
  stamps?: Float64Array;
  chunk: number;
  bufferSize: number;
  largeFile: number;
}
