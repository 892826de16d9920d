import { randomBytes } from 'node:crypto';
import { VouchError } from '../errors.ts';
/**
 * A value that writes its own JSON as UTF-8 byte chunks. A directory walk's columnar entries (artifact layer) do,
 * and the streamed DSSE writer (sign layer) uses it, without either layer importing the other: the concatenated
 * chunks must equal `JSON.stringify` of the value, and each chunk may be a view that is only valid until the next
 * one is requested.
 */
export const JSON_CHUNKS: unique symbol = Symbol('vouch.jsonChunks');

export type JsonChunks = (chunkBytes?: number) => Iterable<Buffer>;

/** The value's chunked JSON writer, if it has one. */
function jsonChunksOf(value: unknown): JsonChunks | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const f = (value as { [JSON_CHUNKS]?: unknown })[JSON_CHUNKS];
  return typeof f === 'function' ? (f as JsonChunks) : undefined;
}

/**
 * A statement's JSON in parts whose concatenation equals `JSON.stringify(statement)`, without the whole string: each
 * array member of the predicate (directory `entries`, model-signing `resources`) is replaced by a unique sentinel,
 * the rest stringified once and split around the sentinels, and each array written element by element. An array
 * that writes its own JSON (a walk's columnar entries) comes as UTF-8 bytes, each valid until the next part is
 * requested; everything else as strings. The signer streams a payload with it (src/sign/stream.ts) and the directory
 * verifier re-creates a signed payload from a walk with it (src/artifact/dir/verify.ts).
 */
export function* statementJsonParts(
  statement: { predicate?: unknown },
  chunkChars = 1 << 18,
): Generator<string | Buffer> {
  const { parts, arrays } = statementFrame(statement);
  for (let a = 0; a < parts.length; a++) {
    yield parts[a]!;
    const array = arrays[a];
    if (array) yield* arrayJsonParts(array, chunkChars);
  }
}

/** `JSON.stringify(array)` in parts: its own chunks for an array that writes its JSON, else element by element. */
export function* arrayJsonParts(array: unknown[], chunkChars = 1 << 18): Generator<string | Buffer> {
  const chunks = jsonChunksOf(array);
  if (chunks) {
    yield* chunks(chunkChars);
    return;
  }
  let out = '[';
  for (let i = 0; i < array.length; i++) {
    if (i > 0) out += ',';
    // As inside an array, JSON.stringify writes a member it cannot represent as null.
    out += JSON.stringify(array[i]) ?? 'null';
    if (out.length >= chunkChars) {
      yield out;
      out = '';
    }
  }
  yield `${out}]`;
}

/**
 * A statement's JSON split around the array members of its predicate: `parts[0]`, the JSON of `arrays[0]`,
 * `parts[1]`, ... is `JSON.stringify(statement)` (statementJsonParts writes it that way).
 */
export function statementFrame(statement: { predicate?: unknown }): { parts: string[]; arrays: unknown[][] } {
  const predicate = statement.predicate;
  const arrays: unknown[][] = [];
  let skeleton: string;
  const sentinel = `vouch-stream-${randomBytes(16).toString('hex')}`;
  if (predicate !== null && typeof predicate === 'object' && !Array.isArray(predicate)) {
    const replaced: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(predicate as Record<string, unknown>)) {
      if (Array.isArray(v)) {
        arrays.push(v);
        replaced[k] = sentinel;
      } else replaced[k] = v;
    }
    skeleton = JSON.stringify({ ...statement, predicate: replaced });
  } else skeleton = JSON.stringify(statement);
  const parts = skeleton.split(JSON.stringify(sentinel));
  if (parts.length !== arrays.length + 1) throw new VouchError('INTERNAL', 'statement serialization sentinel clash');
  return { parts, arrays };
}
