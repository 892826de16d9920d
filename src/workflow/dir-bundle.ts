/**
 * Directory bundles read in passes, never whole: a million-file manifest makes a ~200 MB bundle whose payload,
 * parsed at once, would cost about 1.2 GB (the file as a string, the base64 string, the decoded payload, its text,
 * its object graph). Here the file is read in 1 MiB pieces, three times, with memory bounded by the largest
 * manifest entry:
 * A. the bundle without its payload (src/core/json-stream.ts): parsed strictly, the payload's place and length
 *    recorded (`readSplitBundle`);
 * 1. the payload decoded and hashed (its SHA-256, the DSSE pre-authentication encoding under each hash the
 *    signing key may use) and the statement outside its entry list kept (`firstPass`; when the statement before
 *    the list already makes a whole header, as vouch writes it, the list is only hashed). The signature is then
 *    verified against those digests before anything of the statement is believed;
 * 2. after the walk, every entry checked (order, canonical paths, collisions, rules, subject digest) and compared
 *    with the tree as it streams past (`--path`: checked only, the one entry kept).
 * Pass 2 re-hashes the payload and fails unless it is the payload of pass 1 (the file may be rewritten while it is
 * read), so every entry used is an entry whose signature was verified, and checks that the whole statement has the
 * header the walk used.
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { CheckedDirectory, DirectoryHeader, DirectoryLimits, EntryStream } from '../artifact/dir/index.ts';
import { entryChecker, parseDirectoryHeader } from '../artifact/dir/index.ts';
import { fileError } from '../core/digest.ts';
import { preAuthPrefix } from '../core/dsse.ts';
import { Base64Decoder, base64DecodedLength } from '../core/encoding.ts';
import { IN_TOTO_PAYLOAD_TYPE, isInTotoStatementType } from '../core/intoto.ts';
import { asObject, parseStrictJson } from '../core/json.ts';
import { type JsonSplit, JsonSplitter, parseElement } from '../core/json-stream.ts';
import { readCapped } from '../core/read.ts';
import { isVouchError, VouchError } from '../errors.ts';
import {
  type Bundle,
  bundleFromJson,
  type DetachedPayload,
  MAX_BUNDLE_BYTES,
  MAX_DIRECTORY_BUNDLE_BYTES,
  parseBundle,
} from '../verify/bundle.ts';
import type { Policy } from '../verify/types.ts';
import { payloadNeeds } from '../verify/verifier.ts';

const PIECE = 1 << 20;
const ENTRY_LISTS = [
  ['predicate', 'entries'],
  ['predicate', 'resources'],
] as const;
const LIST_MEMBERS = ['entries', 'resources'] as const;

/** A directory bundle read without its payload, and where the payload's base64 text lies in the file. */
export interface SplitBundle {
  path: string;
  bundle: Bundle;
  /**
   * Where the payload is: a base64 range of the file, or (a bundle of at most 32 MiB whose payload string uses
   * JSON escapes, which no signer needs but JSON allows) bytes parsed the ordinary way. Absent when there is no
   * DSSE payload to split (a message signature): the bundle was parsed whole.
   */
  payload?: { start: number; end: number; detached: DetachedPayload } | { bytes: Buffer };
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, path);
  }
}

/** Pass A: the bundle, strictly parsed, with its DSSE payload split out (its range and length recorded). */
export async function readSplitBundle(path: string): Promise<SplitBundle> {
  const fh = await openFile(path);
  try {
    const st = await fh.stat();
    const size = st.size;
    if (!st.isFile()) {
      // Read in passes at explicit offsets, which a pipe or device cannot serve (nor be sized for by stat()).
      throw new VouchError('FILE_UNREADABLE', `${path} is not a regular file`, {
        hint: 'A directory bundle is read several times: save it to a file first.',
      });
    }
    if (size > MAX_DIRECTORY_BUNDLE_BYTES) {
      throw new VouchError(
        'BUNDLE_TOO_LARGE',
        `${path} is ${size} bytes; bundles are capped at ${MAX_DIRECTORY_BUNDLE_BYTES}`,
      );
    }
    const splitter = new JsonSplitter({
      targets: [['dsseEnvelope', 'payload']],
      mode: 'string',
      maxSkeletonBytes: MAX_BUNDLE_BYTES,
      code: 'BUNDLE_MALFORMED',
      tooLargeCode: 'BUNDLE_TOO_LARGE',
      what: 'bundle',
    });
    const buf = Buffer.allocUnsafe(PIECE);
    let total = 0;
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, PIECE, total);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > MAX_DIRECTORY_BUNDLE_BYTES) {
          throw new VouchError('BUNDLE_TOO_LARGE', `${path} grew while it was read`);
        }
        splitter.push(buf.subarray(0, bytesRead));
      }
    } catch (e) {
      // An escaped payload cannot be split; one that fits the ordinary cap is parsed the ordinary way.
      if (!(isVouchError(e) && e.code === 'BUNDLE_UNSUPPORTED' && size <= MAX_BUNDLE_BYTES)) throw e;
      // Re-read under the cap: the file may have grown since it was sized.
      const bundle = parseBundle(await readCapped(path, { maxBytes: MAX_BUNDLE_BYTES, code: 'BUNDLE_TOO_LARGE' }));
      if (bundle.content.kind !== 'dsse' || !Buffer.isBuffer(bundle.content.payload)) return { path, bundle };
      return { path, bundle, payload: { bytes: bundle.content.payload } };
    }
    const split = splitter.end();
    const root = asObject(parseStrictJson(split.skeleton, { what: 'bundle' }), 'bundle');
    if (split.found.length === 0) return { path, bundle: bundleFromJson(root) };
    const { start, end } = split.found[0]!;
    if ((end - start) % 4 !== 0)
      throw new VouchError('BUNDLE_MALFORMED', 'dsseEnvelope.payload is not canonical base64');
    const tail = Buffer.alloc(Math.min(2, end - start));
    await fh.read(tail, 0, tail.length, end - tail.length);
    const detached: DetachedPayload = {
      kind: 'detached',
      length: base64DecodedLength(end - start, tail.toString('latin1')),
      payload: new Map(),
      pae: new Map(),
    };
    return {
      path,
      bundle: bundleFromJson(root, { marker: split.marker, payload: detached }),
      payload: { start, end, detached },
    };
  } catch (e) {
    throw e instanceof VouchError ? e : fileError(e as NodeJS.ErrnoException, path);
  } finally {
    await fh.close();
  }
}

interface PassResult {
  /** The first error the sink raised; the pass went on hashing so the caller can tell a changed file first. */
  sinkError?: unknown;
}

/**
 * One pass over the payload: decode its base64 range piece by piece, hash it into `hashes`, and hand the bytes to
 * `sink` (whose first error stops only the sink). Fails when the decoded length is not the one recorded in pass A.
 */
async function streamPayload(
  split: SplitBundle,
  hashes: Hash[],
  sink: { push(bytes: Buffer): void; end(): void },
  keep?: Buffer,
): Promise<PassResult> {
  const p = split.payload!;
  if ('bytes' in p) {
    // In memory: the same pieces, no file.
    let sinkError: unknown;
    for (const h of hashes) h.update(p.bytes);
    keep?.set(p.bytes);
    try {
      for (let at = 0; at < p.bytes.length; at += PIECE) sink.push(p.bytes.subarray(at, at + PIECE));
      sink.end();
    } catch (e) {
      sinkError = e;
    }
    return sinkError === undefined ? {} : { sinkError };
  }
  const fh = await openFile(split.path);
  const decoder = new Base64Decoder('dsseEnvelope.payload');
  let sinkError: unknown;
  let length = 0;
  const feed = (bytes: Buffer) => {
    length += bytes.length;
    if (length > p.detached.length) changed(split.path);
    for (const h of hashes) h.update(bytes);
    if (keep) bytes.copy(keep, length - bytes.length);
    if (sinkError !== undefined) return;
    try {
      sink.push(bytes);
    } catch (e) {
      sinkError = e;
    }
  };
  try {
    const buf = Buffer.allocUnsafe(PIECE);
    for (let at = p.start; at < p.end; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(PIECE, p.end - at), at);
      if (bytesRead === 0) changed(split.path);
      at += bytesRead;
      feed(decoder.push(buf.subarray(0, bytesRead)));
    }
    decoder.end();
  } catch (e) {
    throw e instanceof VouchError ? e : fileError(e as NodeJS.ErrnoException, split.path);
  } finally {
    await fh.close();
  }
  if (length !== p.detached.length) changed(split.path);
  if (sinkError === undefined) {
    try {
      sink.end();
    } catch (e) {
      sinkError = e;
    }
  }
  return sinkError === undefined ? {} : { sinkError };
}

function changed(path: string): never {
  throw new VouchError('BUNDLE_MALFORMED', `${path} changed while it was being read`);
}

/** What pass 1 learned: the bundle ready for the verifier, and the statement outside its entry list. */
export interface FirstPass {
  /** The bundle with the payload's digests filled in (or its bytes, for a key that needs them). */
  bundle: Bundle;
  /** The statement skeleton and its list counts; an error to raise once the signature has verified. */
  statement: { split: JsonSplit; counts: Record<string, number> } | { error: unknown };
  /**
   * Which bytes were read: SHA-256 of `prefix` + the payload. The prefix is the DSSE pre-authentication header
   * when the PAE's SHA-256 was computed for the signature check anyway (then the payload's own digest is computed
   * only for log entries, which name it), else empty. Pass 2 and verifyDirectoryEntries compare against it.
   */
  identity: { prefix: Buffer; sha256: Buffer };
}

/**
 * Pass 1: decode and hash the payload, keeping the statement's skeleton. The digests are those `policy` may need
 * (payloadNeeds); when a possible key cannot be checked against a digest, the payload's bytes are kept instead.
 */
export async function firstPass(split: SplitBundle, policy: Policy): Promise<FirstPass> {
  const p = split.payload!;
  const content = split.bundle.content;
  if (content.kind !== 'dsse') throw new VouchError('INTERNAL', 'a split payload outside a DSSE envelope');
  // A payload in memory is verified over its bytes: no digests to prepare.
  const needs = 'bytes' in p ? { bytes: false, pae: [] } : payloadNeeds(split.bundle, policy);
  const length = 'bytes' in p ? p.bytes.length : p.detached.length;
  const header = preAuthPrefix(content.payloadType, length);
  const pae = new Map(needs.pae.map((a) => [a, createHash(a).update(header)] as const));
  const ownDigest = !pae.has('sha256') || split.bundle.tlogEntries.length > 0 ? createHash('sha256') : undefined;
  const bytes = needs.bytes ? Buffer.allocUnsafe(length) : undefined;
  const counts: Record<string, number> = {};
  const statement = new JsonSplitter({
    targets: ENTRY_LISTS,
    mode: 'array',
    maxSkeletonBytes: MAX_BUNDLE_BYTES,
    code: 'DSSE_INVALID',
    tooLargeCode: 'MANIFEST_INVALID',
    what: 'in-toto statement',
    onElement: (t) => {
      const m = LIST_MEMBERS[t]!;
      counts[m] = (counts[m] ?? 0) + 1;
    },
    // The signer writes the entry list last: once the statement before it makes a whole header, the list is left
    // to pass 2, which checks that the whole statement has that same header.
    onListStart: (_t, skeleton, closers) => {
      try {
        headerOf(skeleton + closers, { counts: {} }, statement.marker);
        return true;
      } catch {
        return false;
      }
    },
  });
  let split1: JsonSplit | undefined;
  // A statement that does not split still has every byte hashed (and kept): the signature decides first.
  const r = await streamPayload(
    split,
    ownDigest ? [ownDigest, ...pae.values()] : [...pae.values()],
    {
      push: (b) => statement.push(b),
      end: () => {
        split1 = statement.end();
        // An empty list was counted by nobody; a list left to pass 2 (end -1) stays uncounted.
        for (const f of split1.found) if (f.end >= 0) counts[LIST_MEMBERS[f.target]!] ??= 0;
      },
    },
    bytes,
  );
  const paeDigests = new Map([...pae].map(([a, h]) => [a, h.digest()] as const));
  const payloadSha256 = ownDigest?.digest();
  let bundle: Bundle;
  if (bytes) bundle = { ...split.bundle, content: { ...content, payload: bytes } };
  else if ('bytes' in p) bundle = split.bundle;
  else {
    // A digest not computed here is refused by the verifier if it asks for it (src/verify/verifier.ts).
    if (payloadSha256) p.detached.payload.set('sha256', payloadSha256);
    for (const [a, d] of paeDigests) p.detached.pae.set(a, d);
    bundle = split.bundle;
  }
  const st = r.sinkError !== undefined || !split1 ? { error: r.sinkError } : { split: split1, counts };
  const identity = payloadSha256
    ? { prefix: Buffer.alloc(0), sha256: payloadSha256 }
    : { prefix: header, sha256: paeDigests.get('sha256')! };
  return { bundle, statement: st, identity };
}

/**
 * After the signature verified: the statement's header (DSSE_INVALID for what is not an in-toto statement, as
 * the verifier says of payloads it parses whole; MANIFEST_INVALID and BUNDLE_UNSUPPORTED from the directory
 * formats).
 */
export function statementHeader(
  first: FirstPass,
  options: { limits?: Partial<DirectoryLimits> } = {},
): DirectoryHeader {
  const st = first.statement;
  if ('error' in st) throw st.error ?? new VouchError('INTERNAL', 'the statement was not read');
  return headerOf(st.split.skeleton, { counts: st.counts }, st.split.marker, options);
}

function headerOf(
  skeleton: string,
  list: { counts: Record<string, number> },
  marker: string,
  options: { limits?: Partial<DirectoryLimits> } = {},
): DirectoryHeader {
  const statement = asObject(
    parseStrictJson(skeleton, { code: 'DSSE_INVALID', what: 'in-toto statement' }),
    'statement',
    'DSSE_INVALID',
  );
  if (!isInTotoStatementType(statement._type))
    throw new VouchError('DSSE_INVALID', 'the payload is not an in-toto statement');
  return parseDirectoryHeader(statement, { ...options, list: { marker, counts: list.counts } });
}

/** Whether two headers of one statement say the same (a count of -1 is not known yet). */
function sameHeader(a: DirectoryHeader, b: DirectoryHeader): boolean {
  return (
    a.format === b.format &&
    a.name === b.name &&
    a.digest.equals(b.digest) &&
    a.followSymlinks === b.followSymlinks &&
    JSON.stringify(a.rules) === JSON.stringify(b.rules) &&
    (a.count < 0 || b.count < 0 || a.count === b.count)
  );
}

/** Feed the elements of the header's entry list to `onElement`, in one pass that must match pass 1's payload. */
async function entriesPass(
  split: SplitBundle,
  first: FirstPass,
  header: DirectoryHeader,
  onElement: (bytes: Buffer, shape: { flat: boolean; members: number }) => void,
): Promise<void> {
  const list = header.format === 'vouch' ? 0 : 1;
  let count = 0;
  const splitter = new JsonSplitter({
    targets: [ENTRY_LISTS[list]!],
    mode: 'array',
    maxSkeletonBytes: MAX_BUNDLE_BYTES,
    code: 'DSSE_INVALID',
    tooLargeCode: 'MANIFEST_INVALID',
    what: 'in-toto statement',
    onElement: (_t, bytes, shape) => {
      count++;
      onElement(bytes, shape);
    },
  });
  const same = createHash('sha256').update(first.identity.prefix);
  const r = await streamPayload(split, [same], {
    push: (b) => splitter.push(b),
    end: () => {
      // The whole statement must have the header the walk used (read in pass 1, maybe before the list).
      const whole = splitter.end();
      const counts = whole.found.length > 0 ? { [LIST_MEMBERS[list]!]: count } : {};
      if (!sameHeader(headerOf(whole.skeleton, { counts }, whole.marker), header)) {
        throw new VouchError('MANIFEST_INVALID', 'the statement says more after its entry list than before it');
      }
    },
  });
  if (!same.digest().equals(first.identity.sha256)) changed(split.path);
  if (r.sinkError !== undefined) throw r.sinkError;
}

/**
 * Pass 2 for `--path`: every entry checked against the header (see entryChecker), the entries at `lookup` paths
 * returned. Model-signing resources are kept (few, any order).
 */
export async function checkEntries(
  split: SplitBundle,
  first: FirstPass,
  header: DirectoryHeader,
  lookup: string[],
): Promise<CheckedDirectory> {
  const checker = entryChecker(header, { lookup });
  await entriesPass(split, first, header, (bytes, shape) => {
    checker.add(parseElement(bytes, shape, 'DSSE_INVALID', 'manifest entry'));
  });
  return { ...header, ...checker.finish() };
}

/**
 * Pass 2 for `vouch verify dir:`: the entries, each parsed strictly, for verifyDirectoryEntries to check and
 * compare with the walk as they stream. The pass fails at its end unless the payload was pass 1's, before any
 * result is used.
 */
export function streamEntries(split: SplitBundle, first: FirstPass, header: DirectoryHeader): EntryStream {
  return (onEntry) =>
    entriesPass(split, first, header, (bytes, shape) =>
      onEntry(parseElement(bytes, shape, 'DSSE_INVALID', 'manifest entry')),
    );
}

/** The payload types a directory signature may carry. */
export function isInTotoBundle(b: Bundle): boolean {
  return b.content.kind === 'dsse' && b.content.payloadType === IN_TOTO_PAYLOAD_TYPE;
}
