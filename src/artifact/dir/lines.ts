/**
 * The manifest's bytes: written from a walk's entries (one SHA-256 and a size as they go, kept in memory up to
 * the embedding limit, else spilled to a file), and read back from either source (the statement's embedded copy
 * or the file beside the bundle) by one reader: every byte through one SHA-256, every line through one parser.
 * Memory stays bounded by the longest line whatever the manifest's size, without a streaming JSON scanner: a line
 * is one entry in exactly one canonical spelling, so the parser checks fixed member layouts instead of parsing
 * JSON in general, and refuses any other spelling (MANIFEST_INVALID).
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { VouchError } from '../../errors.ts';
import type { ManifestEntry } from './manifest.ts';

/** A manifest up to this size is embedded in the statement (a typical release stays one file). */
export const EMBED_LIMIT = 1 << 20;
/** No canonical line is longer (a 4096-byte path and a 4096-byte target, each escaped at most 6x). */
const MAX_LINE = 64 << 10;

function bad(message: string): VouchError {
  return new VouchError('MANIFEST_INVALID', message);
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const FILE_EXEC = ascii('{"executable":true,"kind":"file","path":');
const FILE_PLAIN = ascii('{"executable":false,"kind":"file","path":');
const LINK = ascii('{"kind":"symlink","path":');
const DIR = ascii('{"kind":"dir","path":');
const SHA = ascii(',"sha256":"');
const SIZE = ascii('","size":');
const TARGET = ascii(',"target":');

/** Whether `lit` is at `p` (a loop: a call into Buffer.compare costs more than these few dozen bytes). */
function at(buf: Buffer, p: number, end: number, lit: Buffer): boolean {
  if (p + lit.length > end) return false;
  for (let i = 0; i < lit.length; i++) if (buf[p + i] !== lit[i]) return false;
  return true;
}

/**
 * A JSON string starting at `p`, in the spelling `JSON.stringify` gives it: the value and where it ends. Raw
 * control bytes, other escapes and text that is not UTF-8 (it would decode to U+FFFD, which no signed name or
 * target holds) are refused.
 */
function readString(buf: Buffer, p: number, end: number): [string, number] {
  if (buf[p] !== 0x22) throw bad('manifest line: a string was expected');
  let q = p + 1;
  let escaped = false;
  for (;;) {
    if (q >= end) throw bad('manifest line: unterminated string');
    const c = buf[q]!;
    if (c === 0x22) break;
    if (c < 0x20) throw bad('manifest line: a raw control character in a string');
    if (c === 0x5c) {
      escaped = true;
      q += 2;
    } else q++;
  }
  let value: string;
  if (!escaped) value = buf.toString('utf8', p + 1, q);
  else {
    const token = buf.toString('utf8', p, q + 1);
    try {
      value = JSON.parse(token) as string;
    } catch {
      throw bad('manifest line: a malformed string');
    }
    if (JSON.stringify(value) !== token) throw bad('manifest line: a string not in its canonical spelling');
  }
  if (value.includes('\ufffd')) throw bad('manifest line: a string that is not UTF-8');
  return [value, q + 1];
}

const HEX = (() => {
  const t = new Uint8Array(256);
  for (const c of '0123456789abcdef') t[c.charCodeAt(0)] = 1;
  return t;
})();

/** One manifest line (without its newline) as an entry; anything but the canonical spelling is MANIFEST_INVALID. */
export function parseLine(buf: Buffer, start: number, end: number): ManifestEntry {
  let p: number;
  let path: string;
  if (at(buf, start, end, FILE_PLAIN) || at(buf, start, end, FILE_EXEC)) {
    const executable = buf[start + 14] === 0x74; // t(rue)
    [path, p] = readString(buf, start + (executable ? FILE_EXEC.length : FILE_PLAIN.length), end);
    if (!at(buf, p, end, SHA)) throw bad(`manifest line for ${JSON.stringify(path)}: sha256 expected`);
    p += SHA.length;
    if (p + 64 > end) throw bad(`manifest line for ${JSON.stringify(path)}: bad sha256`);
    for (let i = p; i < p + 64; i++) if (HEX[buf[i]!] !== 1) throw bad(`${JSON.stringify(path)}: bad sha256`);
    const sha256 = buf.toString('latin1', p, p + 64);
    p += 64;
    if (!at(buf, p, end, SIZE)) throw bad(`manifest line for ${JSON.stringify(path)}: size expected`);
    p += SIZE.length;
    const digits = p;
    while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39) p++;
    const size = Number(buf.toString('latin1', digits, p));
    // One spelling of a safe integer: digits only, no leading zero.
    if (p === digits || p - digits > 16 || (buf[digits] === 0x30 && p - digits > 1) || !Number.isSafeInteger(size)) {
      throw bad(`manifest line for ${JSON.stringify(path)}: bad size`);
    }
    if (p + 1 !== end || buf[p] !== 0x7d) throw bad(`manifest line for ${JSON.stringify(path)}: unexpected text`);
    return { path, kind: 'file', size, sha256, executable };
  }
  if (at(buf, start, end, LINK)) {
    [path, p] = readString(buf, start + LINK.length, end);
    if (!at(buf, p, end, TARGET)) throw bad(`manifest line for ${JSON.stringify(path)}: target expected`);
    let target: string;
    [target, p] = readString(buf, p + TARGET.length, end);
    if (p + 1 !== end || buf[p] !== 0x7d) throw bad(`manifest line for ${JSON.stringify(path)}: unexpected text`);
    return { path, kind: 'symlink', target };
  }
  if (at(buf, start, end, DIR)) {
    [path, p] = readString(buf, start + DIR.length, end);
    if (p + 1 !== end || buf[p] !== 0x7d) throw bad(`manifest line for ${JSON.stringify(path)}: unexpected text`);
    return { path, kind: 'dir' };
  }
  throw bad('a manifest line that is not a file, symlink or dir entry in canonical form');
}

/** What the signed statement says of its manifest, which the bytes read must match. */
export interface ManifestBinding {
  sha256: Buffer;
  size: number;
}

/** Where a manifest's bytes come from: chunks in order (the embedded copy, or the file). */
export type ManifestSource = AsyncIterable<Uint8Array>;

/** The embedded copy, in the pieces the file reader would give. */
export async function* bytesSource(bytes: Buffer): ManifestSource {
  for (let p = 0; p < bytes.length; p += 1 << 20) yield bytes.subarray(p, p + (1 << 20));
}

/** An open manifest file from its start, at most `cap` bytes and one more (which makes it too long). */
export async function* fileSource(fh: FileHandle, cap: number): ManifestSource {
  const buf = Buffer.allocUnsafe(1 << 20);
  let read = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, cap + 1 - read), read);
    if (bytesRead === 0) return;
    read += bytesRead;
    yield buf.subarray(0, bytesRead);
    if (read > cap) return;
  }
}

/**
 * Read a manifest: each line parsed and handed to `onEntry` in order, every byte hashed. Fails unless the bytes
 * are exactly the bound ones (size, then digest): a swapped, truncated or extended manifest is refused before
 * anything `onEntry` concluded is used, and a line's own problem is reported only from the bound bytes.
 */
export async function readManifest(
  source: ManifestSource,
  binding: ManifestBinding,
  onEntry: (e: ManifestEntry) => void,
): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  let carry = Buffer.alloc(0);
  let lineError: unknown;
  const line = (buf: Buffer, start: number, end: number) => {
    if (lineError !== undefined) return;
    try {
      onEntry(parseLine(buf, start, end));
    } catch (e) {
      lineError = e;
    }
  };
  for await (const chunk of source) {
    size += chunk.length;
    if (size > binding.size) throw bad('the manifest is longer than the signed size');
    hash.update(chunk);
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let p = 0;
    for (let nl = buf.indexOf(0x0a, p); nl >= 0; nl = buf.indexOf(0x0a, p)) {
      if (carry.length > 0) {
        const whole = Buffer.concat([carry, buf.subarray(p, nl)]);
        carry = Buffer.alloc(0);
        line(whole, 0, whole.length);
      } else line(buf, p, nl);
      p = nl + 1;
    }
    if (p < buf.length) {
      if (carry.length + buf.length - p > MAX_LINE) throw bad('a manifest line is too long');
      carry = Buffer.concat([carry, buf.subarray(p)]);
    }
  }
  if (size !== binding.size) throw bad('the manifest is shorter than the signed size');
  if (!hash.digest().equals(binding.sha256)) throw bad('the manifest is not the signed one (its SHA-256 differs)');
  if (carry.length > 0) throw bad('the manifest does not end with a newline');
  if (lineError !== undefined) throw lineError;
}

/** A written manifest: its binding, and its bytes (at most EMBED_LIMIT) or the temporary file they went to. */
export interface WrittenManifest extends ManifestBinding {
  bytes?: Buffer;
  file?: string;
}

/**
 * Write a manifest from its lines: hashed and counted as they come, kept in memory until they pass `embedLimit`,
 * then written to `spillPath` (created, never overwritten: the caller renames it into place once signed).
 */
export async function writeManifest(
  lines: Iterable<Uint8Array>,
  spillPath: string,
  embedLimit = EMBED_LIMIT,
): Promise<WrittenManifest> {
  const hash = createHash('sha256');
  let size = 0;
  let kept: Buffer[] = [];
  let fh: FileHandle | undefined;
  try {
    for (const chunk of lines) {
      size += chunk.length;
      hash.update(chunk);
      if (fh) await fh.write(chunk);
      else if (size <= embedLimit) kept.push(Buffer.from(chunk));
      else {
        fh = await open(spillPath, 'wx', 0o644);
        for (const k of kept) await fh.write(k);
        kept = [];
        await fh.write(chunk);
      }
    }
    if (fh) await fh.sync();
  } finally {
    await fh?.close();
  }
  const binding = { sha256: hash.digest(), size };
  return fh ? { ...binding, file: spillPath } : { ...binding, bytes: Buffer.concat(kept, size) };
}
