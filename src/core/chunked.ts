/**
 * A value that writes its own JSON as UTF-8 byte chunks. A directory walk's columnar entries (artifact layer) do,
 * and the streamed DSSE writer (sign layer) uses it, without either layer importing the other: the concatenated
 * chunks must equal `JSON.stringify` of the value, and each chunk may be a view that is only valid until the next
 * one is requested.
 */
export const JSON_CHUNKS: unique symbol = Symbol('vouch.jsonChunks');

export type JsonChunks = (chunkBytes?: number) => Iterable<Buffer>;

/** The value's chunked JSON writer, if it has one. */
export function jsonChunksOf(value: unknown): JsonChunks | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const f = (value as { [JSON_CHUNKS]?: unknown })[JSON_CHUNKS];
  return typeof f === 'function' ? (f as JsonChunks) : undefined;
}
