/**
 * Strict JSON for hostile input. JSON.parse keeps the last of duplicate keys, which lets two parsers of the same
 * bytes disagree (one sees the first value, one the last): a classic signature-confusion bug. `parseStrictJson`
 * first scans the text and rejects duplicate keys (compared after unescaping), excessive nesting and oversize input,
 * then lets the engine's parser build the value.
 */
import { type ErrorCode, VouchError } from '../errors.ts';

export interface StrictJsonOptions {
  /** Maximum size of the text in bytes (UTF-16 code units, which is never less than the UTF-8 size / 3). */
  maxBytes?: number;
  maxDepth?: number;
  code?: ErrorCode;
  what?: string;
}

export function parseStrictJson(text: string, options: StrictJsonOptions = {}): unknown {
  const code = options.code ?? 'BUNDLE_MALFORMED';
  // Stryker disable next-line LogicalOperator: the name only goes into messages
  const what = options.what ?? 'JSON document';
  if (text.length > (options.maxBytes ?? Number.POSITIVE_INFINITY)) {
    throw new VouchError(
      code === 'BUNDLE_MALFORMED' ? 'BUNDLE_TOO_LARGE' : code,
      `${what} is larger than ${options.maxBytes} bytes`,
    );
  }
  // The scan runs before the engine's parser: it stops at the first level past maxDepth, where JSON.parse would
  // first build the whole structure (a 30 MiB bundle of "[" cost it 20 s). On text that is not JSON it finds a
  // duplicate or nothing, and JSON.parse then refuses the text; either way the code is the same.
  scanDuplicates(text, options.maxDepth ?? 64, code, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VouchError(code, `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Walk the JSON text (not yet known to be valid), tracking the key set of every open object. */
function scanDuplicates(text: string, maxDepth: number, code: ErrorCode, what: string): void {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  // Stryker disable next-line EqualityOperator: charCodeAt past the end is NaN, which no branch below takes
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      // Stryker disable next-line BooleanLiteral: unescaping a key without escapes gives it back unchanged (the flag saves that parse), and a key it cannot read makes JSON.parse below fail with the same code
      let escaped = false;
      i++;
      // Stryker disable next-line EqualityOperator: charCodeAt past the end is NaN, which ends nothing and escapes nothing
      for (; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(start + 1, i);
        const key = escaped ? unescapeKey(text.slice(start, i + 1), code, what) : raw;
        const keys = stack[stack.length - 1]!;
        // Stryker disable next-line MethodExpression: the message only
        if (keys.has(key)) throw new VouchError(code, `${what} has a duplicate key "${key.slice(0, 64)}"`);
        keys.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
      if (stack.length > maxDepth) throw new VouchError(code, `${what} is nested deeper than ${maxDepth}`);
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      // Valid JSON never opens a list where a key is due; text that does must not read a list's slot as a key set.
      expectKey = false;
      if (stack.length > maxDepth) throw new VouchError(code, `${what} is nested deeper than ${maxDepth}`);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      // Stryker disable next-line BooleanLiteral,AssignmentOperator: in valid JSON a comma or a close follows, and a comma sets it again
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
}

function unescapeKey(quoted: string, code: ErrorCode, what: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch (e) {
    throw new VouchError(code, `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Typed accessors for parsed JSON, raising `code` with the path of the offending member. */
export function asObject(v: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new VouchError(code, `${what} must be an object`);
  return v as Record<string, unknown>;
}

export function asArray(v: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): unknown[] {
  if (!Array.isArray(v)) throw new VouchError(code, `${what} must be an array`);
  return v;
}

export function asString(v: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): string {
  if (typeof v !== 'string') throw new VouchError(code, `${what} must be a string`);
  return v;
}

export function optString(v: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): string | undefined {
  return v === undefined ? undefined : asString(v, what, code);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Protobuf-JSON int64 values come as decimal strings (or small numbers); both are accepted within the int64 range
 * (protobuf's JSON mapping refuses what does not fit), nothing else.
 */
export function asInt(v: unknown, what: string, code: ErrorCode = 'BUNDLE_MALFORMED'): bigint {
  if (Number.isSafeInteger(v)) return BigInt(v as number);
  if (typeof v === 'string' && /^-?(0|[1-9][0-9]{0,18})$/.test(v)) {
    const n = BigInt(v);
    if (n >= INT64_MIN && n <= INT64_MAX) return n;
  }
  throw new VouchError(code, `${what} must be an integer`);
}

/** Deterministic JSON (RFC 8785 for the values we produce: sorted keys, no whitespace). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
