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
  /** Incremental signing: whether the cache knows the file, its STAMPS numbers and digest. */
  cache?: { has: Uint8Array; meta: Float64Array; digests: Uint8Array; cutoffMs: number };
  /** Incremental signing: STAMPS numbers per file as found now, for the next cache. */
  stamps?: Float64Array;
  chunk: number;
  bufferSize: number;
  largeFile: number;
}
