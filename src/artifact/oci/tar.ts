/**
 * A bounded, read-only tar index (POSIX ustar with pax extended headers, GNU long names; POSIX.1-2001 "pax" format).
 * Only headers are read while indexing; member content is read later by offset, so a multi-gigabyte archive costs
 * a few reads per member. Hostile archives are the normal case: header checksums are checked, sizes must fit in
 * the file, names are capped, duplicates and non-regular members named like the files we need are refused.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { fileError } from '../../core/digest.ts';
import { VouchError } from '../../errors.ts';

const BLOCK = 512;
const MAX_ENTRIES = 100_000;
const MAX_NAME = 4096;
const MAX_PAX = 1 << 20;

export interface TarEntry {
  name: string;
  offset: number;
  size: number;
}

function bad(msg: string): VouchError {
  return new VouchError('IMAGE_INVALID', `tar archive: ${msg}`);
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

/** Numeric header field: octal text, or base-256 when the high bit of the first byte is set (GNU/star). */
function num(b: Buffer, what: string): number {
  if (b[0]! & 0x80) {
    if (b[0] !== 0x80) throw bad(`${what} is negative or too large`);
    let v = 0;
    for (let i = 1; i < b.length; i++) {
      v = v * 256 + b[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw bad(`${what} is too large`);
    }
    return v;
  }
  const s = cstr(b).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(`${what} is not octal`);
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return num(h.subarray(148, 156), 'checksum') === sum;
}

/** pax records: "<len> <key>=<value>\n", where len counts the whole record. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) throw bad('malformed pax record');
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!Number.isSafeInteger(len) || len <= sp - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw bad('malformed pax record');
    }
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq < 0) throw bad('malformed pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function normalise(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  return n;
}

export class TarIndex {
  readonly path: string;
  readonly entries = new Map<string, TarEntry>();
  private constructor(path: string) {
    this.path = path;
  }

  static async open(path: string): Promise<TarIndex> {
    const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      throw fileError(e, path);
    });
    try {
      const index = new TarIndex(path);
      await index.scan(fh, (await fh.stat()).size);
      return index;
    } finally {
      await fh.close();
    }
  }

  private async scan(fh: FileHandle, fileSize: number): Promise<void> {
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    let count = 0;
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    const conflicted = new Set<string>();
    for (;;) {
      if (pos + BLOCK > fileSize) throw bad('truncated (no end-of-archive marker)');
      await fh.read(h, 0, BLOCK, pos);
      if (h.every((b) => b === 0)) return;
      if (!checksumOk(h)) throw bad(`bad header checksum at offset ${pos}`);
      if (++count > MAX_ENTRIES) throw bad(`more than ${MAX_ENTRIES} members`);
      const type = String.fromCharCode(h[156]!);
      const size = num(h.subarray(124, 136), 'size');
      const dataAt = pos + BLOCK;
      const paxSize = pax.size === undefined ? undefined : Number(pax.size);
      const realSize = paxSize !== undefined && Number.isSafeInteger(paxSize) ? paxSize : size;
      if (dataAt + realSize > fileSize) throw bad('member extends past the end of the file');
      const next = dataAt + Math.ceil(realSize / BLOCK) * BLOCK;
      if (type === 'x' || type === 'L') {
        if (size > MAX_PAX) throw bad('extended header too large');
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataAt);
        if (type === 'x') pax = parsePax(data);
        else longName = cstr(data);
        pos = next;
        continue;
      }
      if (type !== 'g') {
        let name = pax.path ?? longName;
        if (name === undefined) {
          const base = cstr(h.subarray(0, 100));
          const magic = h.subarray(257, 263).toString('latin1');
          const prefix = magic.startsWith('ustar') ? cstr(h.subarray(345, 500)) : '';
          name = prefix ? `${prefix}/${base}` : base;
        }
        if (name.length > MAX_NAME) throw bad('member name too long');
        name = normalise(name);
        if (this.entries.has(name) || conflicted.has(name)) {
          // Two members with one name: readers disagree on which one wins, so neither is used.
          this.entries.delete(name);
          conflicted.add(name);
        } else if (type === '0' || type === '\0' || type === '7') {
          this.entries.set(name, { name, offset: dataAt, size: realSize });
        } else {
          conflicted.add(name);
        }
      }
      pax = {};
      longName = undefined;
      pos = next;
    }
  }

  /** A member's bytes, refused when larger than `max` (without reading it). */
  async read(name: string, max: number): Promise<Buffer | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (e.size > max) throw bad(`${name} is larger than ${max} bytes`);
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(e.size);
      const { bytesRead } = await fh.read(buf, 0, e.size, e.offset);
      if (bytesRead !== e.size) throw bad(`${name} is truncated`);
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** SHA-256 of a member, streamed in 4 MiB chunks. */
  async sha256(name: string): Promise<{ digest: string; size: number } | undefined> {
    const e = this.entries.get(name);
    if (!e) return undefined;
    const fh = await open(this.path, 'r');
    try {
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(Math.min(4 << 20, Math.max(e.size, 1)));
      let done = 0;
      while (done < e.size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, e.size - done), e.offset + done);
        if (bytesRead === 0) throw bad(`${name} is truncated`);
        hash.update(buf.subarray(0, bytesRead));
        done += bytesRead;
      }
      return { digest: `sha256:${hash.digest('hex')}`, size: e.size };
    } finally {
      await fh.close();
    }
  }
}
