/**
 * A directory's entries in path order, in one of two representations behind one small interface: `WalkEntries`,
 * the columns a walk fills (files as one UTF-8 path blob with offsets, a digest, size and flag byte each: about
 * 70 bytes a file instead of ~210 for a path string, an entry object and a hex digest), and `EntryList`, plain
 * entry objects (model-signing resources, tests). Both write the manifest's lines and compare a signed file.
 */
import { entryLine, type FileEntry, type ManifestCounts, type ManifestEntry } from './manifest.ts';

export interface EntryTable {
  readonly length: number;
  /** Entry `i` as an object. */
  at(i: number): ManifestEntry;
  /** The path of entry `i`, without building the entry. */
  pathAt(i: number): string;
  /** Whether entry `i` is a regular file at `e.path` equal to `e` in digest, size (unless -1), mode and setid flag. */
  sameFile(i: number, e: FileEntry): boolean;
  counts(): ManifestCounts;
  /** The manifest: every entry's line (`entryLine`), as bytes in chunks of about `chunkBytes`. */
  lines(chunkBytes?: number): Iterable<Uint8Array>;
}

export function countsOf(entries: Iterable<ManifestEntry>): ManifestCounts {
  const c: ManifestCounts = { files: 0, symlinks: 0, emptyDirectories: 0, bytes: 0 };
  for (const e of entries) {
    if (e.kind === 'file') {
      c.files++;
      c.bytes += e.size;
    } else if (e.kind === 'symlink') c.symlinks++;
    else if (e.kind === 'dir') c.emptyDirectories++;
  }
  return c;
}

/** Entries as objects, already sorted by `comparePaths`. */
export class EntryList implements EntryTable {
  readonly #entries: readonly ManifestEntry[];

  constructor(entries: readonly ManifestEntry[]) {
    this.#entries = entries;
  }

  get length(): number {
    return this.#entries.length;
  }

  at(i: number): ManifestEntry {
    return this.#entries[i]!;
  }

  pathAt(i: number): string {
    return this.#entries[i]!.path;
  }

  sameFile(i: number, e: FileEntry): boolean {
    const a = this.#entries[i]!;
    return (
      a.kind === 'file' &&
      a.path === e.path &&
      a.sha256 === e.sha256 &&
      (e.size < 0 || a.size === e.size) &&
      a.executable === e.executable &&
      (a.setid ?? false) === (e.setid ?? false)
    );
  }

  counts(): ManifestCounts {
    return countsOf(this.#entries);
  }

  *lines(chunkBytes = 1 << 18): Generator<Uint8Array> {
    let text = '';
    for (const e of this.#entries) {
      text += entryLine(e);
      if (text.length >= chunkBytes) {
        yield Buffer.from(text);
        text = '';
      }
    }
    if (text) yield Buffer.from(text);
  }
}

/** The columns of a walk. */
export interface WalkColumns {
  /** UTF-8 paths of the regular files, file k at [offsets[k], offsets[k + 1]). */
  names: Buffer;
  offsets: Uint32Array;
  /** 32 bytes per file. */
  digests: Uint8Array;
  sizes: Float64Array;
  /** Bit 0 owner-executable, bit 1 setuid/setgid (verify walks only). */
  flags: Uint8Array;
  /** Symlinks, empty directories and special files: few, kept as objects. */
  others: ManifestEntry[];
  /** Path order: k >= 0 is file k, k < 0 is others[~k]. */
  order: Int32Array;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const FILE_EXEC = ascii('{"executable":true,"kind":"file","path":"');
const FILE_PLAIN = ascii('{"executable":false,"kind":"file","path":"');
const SHA = ascii('","sha256":"');
const SIZE = ascii('","size":');
/** Each byte's two lowercase hex digits, the first in the high byte. */
const HEX_PAIRS = Uint16Array.from({ length: 256 }, (_, b) => {
  const digit = (v: number) => (v < 10 ? 0x30 + v : 0x57 + v);
  return (digit(b >> 4) << 8) | digit(b & 15);
});

/** A walk's entries, columnar. */
export class WalkEntries implements EntryTable {
  readonly length: number;
  readonly #c: WalkColumns;
  readonly #digests: Buffer;

  constructor(columns: WalkColumns) {
    this.#c = columns;
    this.#digests = Buffer.from(columns.digests.buffer, columns.digests.byteOffset, columns.digests.byteLength);
    this.length = columns.order.length;
  }

  at(i: number): ManifestEntry {
    const k = this.#c.order[i]!;
    if (k < 0) return this.#c.others[~k]!;
    const f = this.#c.flags[k]!;
    const e: FileEntry = {
      path: this.#filePath(k),
      kind: 'file',
      size: this.#c.sizes[k]!,
      sha256: this.#digests.toString('hex', k * 32, k * 32 + 32),
      executable: (f & 1) !== 0,
    };
    if ((f & 2) !== 0) e.setid = true;
    return e;
  }

  #filePath(k: number): string {
    return this.#c.names.toString('utf8', this.#c.offsets[k], this.#c.offsets[k + 1]);
  }

  pathAt(i: number): string {
    const k = this.#c.order[i]!;
    return k < 0 ? this.#c.others[~k]!.path : this.#filePath(k);
  }

  sameFile(i: number, e: FileEntry): boolean {
    const k = this.#c.order[i]!;
    if (k < 0) return false;
    const f = this.#c.flags[k]!;
    return (
      (e.size < 0 || this.#c.sizes[k] === e.size) &&
      ((f & 1) !== 0) === e.executable &&
      ((f & 2) !== 0) === (e.setid === true) &&
      this.#filePath(k) === e.path &&
      hexEquals(this.#digests, k * 32, e.sha256)
    );
  }

  counts(): ManifestCounts {
    const c: ManifestCounts = { files: 0, symlinks: 0, emptyDirectories: 0, bytes: 0 };
    for (const k of this.#c.order) {
      if (k >= 0) {
        c.files++;
        c.bytes += this.#c.sizes[k]!;
      } else {
        const kind = this.#c.others[~k]!.kind;
        if (kind === 'symlink') c.symlinks++;
        else if (kind === 'dir') c.emptyDirectories++;
      }
    }
    return c;
  }

  /**
   * The manifest lines written from the columns: a file's path copied from the blob (through JSON.stringify only
   * when it holds a byte JSON escapes), its digest hex-encoded in place. Each chunk is a view of one reused buffer,
   * valid until the next is requested.
   */
  *lines(chunkBytes = 1 << 18): Generator<Uint8Array> {
    const { names, offsets, sizes, flags, order, others } = this.#c;
    const digests = this.#digests;
    let out = Buffer.allocUnsafe(Math.max(chunkBytes, 256));
    let at = 0;
    for (let i = 0; i < order.length; i++) {
      const k = order[i]!;
      const start = k >= 0 ? offsets[k]! : 0;
      const end = k >= 0 ? offsets[k + 1]! : 0;
      const text = k < 0 ? entryLine(others[~k]!) : jsonSafe(names, start, end) ? undefined : entryLine(this.at(i));
      // A file line is at most 150 bytes besides its path; a text line at most 3 bytes per UTF-16 unit.
      const need = text === undefined ? 150 + end - start : text.length * 3;
      if (at + need > out.length) {
        if (at > 0) yield out.subarray(0, at);
        at = 0;
        if (need > out.length) out = Buffer.allocUnsafe(need);
      }
      if (text !== undefined) {
        at += out.write(text, at);
        continue;
      }
      out.set((flags[k]! & 1) !== 0 ? FILE_EXEC : FILE_PLAIN, at);
      at += (flags[k]! & 1) !== 0 ? FILE_EXEC.length : FILE_PLAIN.length;
      at += names.copy(out, at, start, end);
      out.set(SHA, at);
      at += SHA.length;
      for (let d = k * 32, e = d + 32; d < e; d++) {
        const pair = HEX_PAIRS[digests[d]!]!;
        out[at++] = pair >> 8;
        out[at++] = pair & 0xff;
      }
      out.set(SIZE, at);
      at += SIZE.length;
      at += out.write(String(sizes[k]), at, 'latin1');
      out[at++] = 0x7d; // }
      out[at++] = 0x0a; // \n
    }
    if (at > 0) yield out.subarray(0, at);
  }
}

/** Whether the 32 bytes at `at` are the 64 lowercase hex digits `hex`, without a string per digest. */
function hexEquals(bytes: Buffer, at: number, hex: string): boolean {
  if (hex.length !== 64) return false;
  for (let d = 0; d < 32; d++) {
    const pair = HEX_PAIRS[bytes[at + d]!]!;
    if (hex.charCodeAt(2 * d) !== pair >> 8 || hex.charCodeAt(2 * d + 1) !== (pair & 0xff)) return false;
  }
  return true;
}

/** Whether UTF-8 bytes [start, end) appear unchanged inside a JSON string: no quote, backslash or control byte. */
function jsonSafe(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}
