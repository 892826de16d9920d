/**
 * The layout of a PE image as far as Authenticode needs it, read defensively from hostile bytes (Microsoft "PE
 * Format": MS-DOS stub, signature, COFF file header, optional header, section table, "The Attribute Certificate
 * Table (Image Only)"). Every offset and size is checked against the file size before it is used, so a hostile
 * header costs at most two bounded reads of the headers and one of the certificate table; nothing is read whole.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { VouchError } from '../../errors.ts';

/** Random access to a file's bytes: positional reads that must return exactly what was asked. */
export interface PeSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export function bytesSource(bytes: Buffer): PeSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  };
}

/** Positional reads that must return exactly what was asked, over one way of reading at an offset. */
function exactSource(
  size: number,
  readAt: (buf: Buffer, at: number, length: number, position: number) => Promise<number> | number,
): PeSource {
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const bytesRead = await readAt(buf, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new VouchError('PE_MALFORMED', `the file shrank while it was read (at ${offset + done})`);
        done += bytesRead;
      }
      return buf;
    },
  };
}

/** A file already open (the directory hasher's handle): `size` from its fstat, never re-read. */
export function handleSource(fh: FileHandle, size: number): PeSource {
  return exactSource(size, async (buf, at, length, position) => (await fh.read(buf, at, length, position)).bytesRead);
}

/**
 * A file descriptor already open, read synchronously (the directory hasher's threads, which hold no FileHandle):
 * each read's promise is settled when returned.
 */
export function fdSource(fd: number, size: number): PeSource {
  return exactSource(size, (buf, at, length, position) => readSync(fd, buf, at, length, position));
}

export interface PeSection {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
}

export interface PeLayout {
  format: 'PE32' | 'PE32+';
  /** COFF Machine field (0x8664 x64, 0x14c i386, 0xaa64 ARM64...). */
  machine: number;
  fileSize: number;
  /** Offset of "PE\0\0" (e_lfanew). */
  peOffset: number;
  /** The optional header's CheckSum field: 4 bytes the Authenticode digest skips. */
  checksumOffset: number;
  checksum: number;
  /** The Certificate Table data directory entry (index 4): 8 bytes the digest skips; absent with fewer directories. */
  securityEntryOffset?: number;
  sizeOfHeaders: number;
  /** End of the section table: everything before it is header. */
  headersEnd: number;
  sections: PeSection[];
  /** The attribute certificate table (its "RVA" is a file offset); absent when the entry is zero. */
  certificateTable?: { offset: number; size: number };
}

/** The Windows loader refuses images with more sections (PE Format, COFF File Header, NumberOfSections). */
export const MAX_SECTIONS = 96;
/** Certificate tables seen in the wild are KiBs; a larger one is refused rather than read. */
export const MAX_CERTIFICATE_TABLE = 8 << 20;
/** First read: enough for the headers of every ordinary image. */
const HEAD_BYTES = 4096;
const SECURITY_DIRECTORY = 4;

/** Whether the first bytes of a file can start a PE image: the cheap test a hasher runs on every file. */
export function hasMzMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a;
}

function malformed(message: string, offset: number): never {
  throw new VouchError('PE_MALFORMED', `${message} (at offset ${offset})`, { details: { offset } });
}

/**
 * The PE layout of a file, or undefined when the file is not a PE image: no "MZ", or no "PE\0\0" where e_lfanew
 * points (the Windows loader would not load it as one). Once the PE signature is there, anything inconsistent is
 * PE_MALFORMED with the offset of the field at fault. `head` is bytes the caller already read from offset 0.
 */
export async function readLayout(source: PeSource, head?: Buffer): Promise<PeLayout | undefined> {
  const size = source.size;
  let buf = head && head.length >= Math.min(size, HEAD_BYTES) ? head : await source.read(0, Math.min(size, HEAD_BYTES));
  if (buf.length < 0x40 || !hasMzMagic(buf)) return undefined;
  const peOffset = buf.readUInt32LE(0x3c);
  if (peOffset + 4 > size) return undefined;
  // The headers must be in `buf`: one more bounded read when the first did not cover them.
  const ensure = async (end: number, what: string, at: number) => {
    if (end > size) malformed(`${what} extends past the end of the file (${size} bytes)`, at);
    if (end > buf.length) buf = Buffer.concat([buf, await source.read(buf.length, end - buf.length)]);
  };
  await ensure(peOffset + 4, 'the PE signature', peOffset);
  if (buf.readUInt32LE(peOffset) !== 0x00004550) return undefined;

  const coff = peOffset + 4;
  await ensure(coff + 20, 'the COFF file header', coff);
  const machine = buf.readUInt16LE(coff);
  const sectionCount = buf.readUInt16LE(coff + 2);
  const optionalSize = buf.readUInt16LE(coff + 16);
  if (sectionCount > MAX_SECTIONS) {
    malformed(`${sectionCount} sections; the Windows loader accepts at most ${MAX_SECTIONS}`, coff + 2);
  }
  const opt = coff + 20;
  if (optionalSize < 2) malformed('no optional header: an object file, not an image', coff + 16);
  const sectionTable = opt + optionalSize;
  const headersEnd = sectionTable + 40 * sectionCount;
  await ensure(headersEnd, 'the headers (optional header and section table)', opt);
  const magic = buf.readUInt16LE(opt);
  if (magic !== 0x10b && magic !== 0x20b) malformed(`optional header magic 0x${magic.toString(16)}`, opt);
  const plus = magic === 0x20b;
  const fixed = plus ? 112 : 96;
  if (optionalSize < fixed) malformed(`optional header of ${optionalSize} bytes, shorter than its fields`, coff + 16);
  const sizeOfHeaders = buf.readUInt32LE(opt + 60);
  const checksumOffset = opt + 64;
  const directoryCount = buf.readUInt32LE(opt + (plus ? 108 : 92));
  if (directoryCount > 16 || fixed + 8 * directoryCount > optionalSize) {
    malformed(`${directoryCount} data directories do not fit the optional header`, opt + (plus ? 108 : 92));
  }
  if (sizeOfHeaders > size) malformed(`SizeOfHeaders ${sizeOfHeaders} is past the end of the file`, opt + 60);

  const sections: PeSection[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const s = sectionTable + 40 * i;
    const rawSize = buf.readUInt32LE(s + 16);
    const rawOffset = buf.readUInt32LE(s + 20);
    if (rawSize > 0 && rawOffset + rawSize > size) {
      malformed(`section ${i} data (${rawOffset}+${rawSize}) extends past the end of the file (${size} bytes)`, s + 16);
    }
    if (rawSize > 0 && rawOffset < headersEnd) malformed(`section ${i} data starts inside the headers`, s + 20);
    sections.push({
      name: buf
        .subarray(s, s + 8)
        .toString('latin1')
        .replace(/\0+$/, ''),
      virtualSize: buf.readUInt32LE(s + 8),
      virtualAddress: buf.readUInt32LE(s + 12),
      rawOffset,
      rawSize,
    });
  }

  const layout: PeLayout = {
    format: plus ? 'PE32+' : 'PE32',
    machine,
    fileSize: size,
    peOffset,
    checksumOffset,
    checksum: buf.readUInt32LE(checksumOffset),
    sizeOfHeaders,
    headersEnd,
    sections,
  };
  if (directoryCount > SECURITY_DIRECTORY) {
    const entry = opt + fixed + 8 * SECURITY_DIRECTORY;
    layout.securityEntryOffset = entry;
    const offset = buf.readUInt32LE(entry);
    const tableSize = buf.readUInt32LE(entry + 4);
    if (tableSize > 0) {
      if (offset === 0) malformed('the certificate table has a size but no offset', entry);
      if (offset + tableSize > size) {
        malformed(
          `the certificate table (${offset}+${tableSize}) extends past the end of the file (${size} bytes)`,
          entry,
        );
      }
      // A table over the headers or a section would take those bytes out of the Authenticode digest.
      if (offset < Math.max(headersEnd, sizeOfHeaders))
        malformed('the certificate table lies inside the headers', entry);
      for (const [i, s] of sections.entries()) {
        if (s.rawSize > 0 && offset < s.rawOffset + s.rawSize && s.rawOffset < offset + tableSize) {
          malformed(`the certificate table overlaps section ${i} (${JSON.stringify(s.name)})`, entry);
        }
      }
      if (tableSize > MAX_CERTIFICATE_TABLE) {
        malformed(`a certificate table of ${tableSize} bytes (more than ${MAX_CERTIFICATE_TABLE})`, entry);
      }
      layout.certificateTable = { offset, size: tableSize };
    }
  }
  return layout;
}

/**
 * The byte ranges the Authenticode image digest leaves out, in file order: the CheckSum field, the Certificate
 * Table directory entry and the table itself ("Windows Authenticode Portable Executable Signature Format",
 * Calculating the PE Image Hash). Everything else is hashed, including any data after the table, so bytes added
 * outside the table change the digest.
 */
export function excludedRanges(layout: PeLayout): Array<[start: number, end: number]> {
  const ranges: Array<[number, number]> = [[layout.checksumOffset, layout.checksumOffset + 4]];
  if (layout.securityEntryOffset !== undefined) {
    ranges.push([layout.securityEntryOffset, layout.securityEntryOffset + 8]);
  }
  const t = layout.certificateTable;
  if (t) ranges.push([t.offset, t.offset + t.size]);
  return ranges.sort((a, b) => a[0] - b[0]);
}
