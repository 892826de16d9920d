/**
 * Streaming DSSE signing for statements too large to copy freely (a million-entry directory manifest is ~150 MB of
 * JSON). The in-memory path (`signStatement`) holds the statement's JSON, its UTF-8 bytes, the PAE concatenation,
 * the base64 bundle string and the CLI's serialization of it at once; this path holds none of them whole:
 * 1. the payload is serialized in chunks, byte-identical to `JSON.stringify(statement)`, into a temporary file
 *    beside the bundle while its length is counted;
 * 2. the DSSE pre-authentication encoding (DSSE v1 protocol) is read back from that file in chunks and signed as it
 *    streams (OpenSSL's streaming ECDSA: the same signature as over the whole PAE); Ed25519 cannot sign a stream (RFC 8032 hashes the message twice), so for it the PAE is read into one buffer of
 *    its exact size: one copy of the payload, not bounded by this module;
 * 3. the bundle file is written from the same JSON `bundleToJSON` produces, the payload base64-encoded in chunks,
 *    atomically and durably (src/core/atomic.ts).
 * Only for signing contexts without witnesses: a witness needs the whole envelope (and a log caps an entry at
 * 64 MiB anyway).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { bundleToJSON, toDSSEBundle } from '@sigstore/bundle';
import { writeFileAtomic } from '../core/atomic.ts';
import { arrayJsonParts, statementFrame, statementJsonParts } from '../core/chunked.ts';
import { preAuthPrefix } from '../core/dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE, type InTotoStatement } from '../core/intoto.ts';
import { VouchError } from '../errors.ts';
import { keyOptions, type SigningContext } from './bundle.ts';
import type { Signature } from './signer.ts';

/**
 * Chunk size of file reads; a multiple of 3 so each chunk base64-encodes without padding. Small, and the read
 * buffer reused, so the garbage of a 150 MB pass stays a few MB between collections.
 */
const CHUNK = 3 * 256 * 1024;

/**
 * The JSON of a statement as string chunks whose concatenation equals `JSON.stringify(statement)`: every array
 * member of the predicate (directory `entries`, model-signing `resources`) is replaced by a unique sentinel, the rest
 * stringified once and split around the sentinels, and each array element stringified on its own.
 */
export function* statementJsonChunks(statement: InTotoStatement, chunkChars = 1 << 18): Generator<string> {
  for (const part of statementJsonParts(statement, chunkChars)) yield typeof part === 'string' ? part : part.toString();
}

/**
 * Sign `statement` in a DSSE envelope and write its bundle (v0.3, with a trailing newline, exactly what
 * `JSON.stringify(signStatement(...))` would give) to `bundlePath`, streaming. Returns the signature made.
 */
export async function signStatementToFile(
  ctx: SigningContext,
  statement: InTotoStatement,
  bundlePath: string,
): Promise<Signature> {
  if (ctx.witnesses.length > 0) throw new VouchError('INTERNAL', 'a streamed bundle cannot carry witnesses');
  const payloadPath = join(
    dirname(bundlePath),
    `.${basename(bundlePath)}.${process.pid}.${randomBytes(4).toString('hex')}.payload.tmp`,
  );
  try {
    const length = await writePayload(statement, payloadPath);
    const signature = await signPayloadFile(ctx, payloadPath, length);
    writeFileAtomic(bundlePath, bundlePieces(payloadPath, signature), { fsync: true });
    return signature;
  } catch (e) {
    if (e instanceof VouchError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new VouchError('FILE_UNREADABLE', `cannot write ${bundlePath}: ${err.code ?? err.message}`, { cause: e });
  } finally {
    await unlink(payloadPath).catch(() => {});
  }
}

async function writePayload(statement: InTotoStatement, path: string): Promise<number> {
  const fh = await open(path, 'wx', 0o600);
  let length = 0;
  const put = async (bytes: Buffer) => {
    length += bytes.length;
    await fh.write(bytes);
  };
  try {
    const { parts, arrays } = statementFrame(statement);
    for (let a = 0; a < parts.length; a++) {
      await put(Buffer.from(parts[a]!, 'utf8'));
      const array = arrays[a];
      if (!array) continue;
      for (const chunk of arrayJsonParts(array)) await put(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
  } finally {
    await fh.close();
  }
  return length;
}

/** The file in chunks of `size` bytes (the last shorter). One buffer, reused: a chunk is valid until the next. */
function* readChunks(path: string, size = CHUNK): Generator<Buffer> {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(size);
  try {
    for (;;) {
      let filled = 0;
      while (filled < size) {
        const bytesRead = readSync(fd, buf, filled, size - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0) yield buf.subarray(0, filled);
      if (filled < size) return;
    }
  } finally {
    closeSync(fd);
  }
}

async function signPayloadFile(ctx: SigningContext, path: string, length: number): Promise<Signature> {
  const prefix = preAuthPrefix(IN_TOTO_PAYLOAD_TYPE, length);
  switch (ctx.signer.keyType) {
    case 'ecdsa-p256': {
      // OpenSSL hashes and signs the PAE as it streams (ECDSA signs the message's SHA-256).
      let read = 0;
      const pae = async function* () {
        yield prefix;
        for (const chunk of readChunks(path)) {
          read += chunk.length;
          yield chunk;
        }
      };
      const signature = await ctx.signer.sign({ chunks: pae() });
      if (read !== length) throw new VouchError('INTERNAL', 'the payload file changed while it was signed');
      return signature;
    }
    case 'ed25519': {
      // Not bounded: Ed25519 needs the whole message. One buffer, filled in place (no concatenation copies).
      const message = Buffer.allocUnsafe(prefix.length + length);
      prefix.copy(message);
      let at = prefix.length;
      for (const chunk of readChunks(path)) {
        if (at + chunk.length > message.length) throw new VouchError('INTERNAL', 'the payload file grew');
        at += chunk.copy(message, at);
      }
      if (at !== message.length) throw new VouchError('INTERNAL', 'the payload file shrank');
      return ctx.signer.sign({ message });
    }
  }
}

/**
 * The bundle's JSON around an empty payload (built by @sigstore/bundle itself, so every member and its order match
 * the in-memory path), split where the base64 payload goes.
 */
function bundleFrame(signature: Signature): [string, string] {
  const json = JSON.stringify(
    bundleToJSON(
      toDSSEBundle({
        // One placeholder byte: protobuf JSON would leave out an empty payload altogether.
        artifact: Buffer.from([0]),
        artifactType: IN_TOTO_PAYLOAD_TYPE,
        signature: signature.signature,
        ...keyOptions(signature),
      }),
    ),
  );
  const marker = '"dsseEnvelope":{"payload":"';
  const at = json.indexOf(`${marker}AA=="`);
  if (at < 0 || json.indexOf(marker, at + 1) >= 0) throw new VouchError('INTERNAL', 'unexpected bundle layout');
  return [json.slice(0, at + marker.length), `${json.slice(at + marker.length + 4)}\n`];
}

/** The bundle file's text in pieces: the frame around the payload, the payload base64-encoded chunk by chunk. */
function* bundlePieces(payloadPath: string, signature: Signature): Generator<string> {
  const [head, tail] = bundleFrame(signature);
  yield head;
  // Every chunk but the last is a multiple of 3 bytes, so the concatenated base64 equals the whole payload's.
  for (const chunk of readChunks(payloadPath)) yield chunk.toString('base64');
  yield tail;
}
