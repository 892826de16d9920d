/**
 * Canonical relative paths of a directory manifest, and the order they are sorted in. One spelling per entry:
 * relative, `/`-separated, NFC, no `.`/`..`/empty components, no backslash, no control characters. A signed path
 * that is not canonical could name a file outside the tree (`../`, absolute), name the same file twice (`a/./b`,
 * NFC vs NFD on macOS) or be read differently on Windows (`a\b`), so the verifier refuses it outright
 * (docs/formats/directory-manifest.md, "Paths").
 */
import { type ErrorCode, VouchError } from '../../errors.ts';

/** Limits of a manifest and of a walk. The defaults are part of the format (docs); tests may lower them. */
export interface DirectoryLimits {
  maxEntries: number;
  /** Bytes of the UTF-8 path. */
  maxPathBytes: number;
  /** Path components. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: DirectoryLimits = { maxEntries: 2_000_000, maxPathBytes: 4096, maxDepth: 256 };

/** C0 controls, DEL and C1 controls: never part of a name we sign (terminal escapes, NUL truncation). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const PLAIN = /^[\u0020-\u002e\u0030-\u005b\u005d-\u007e]+$/;
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a single path component is not canonical, or undefined when it is. */
export function componentProblem(name: string): string | undefined {
  // Printable ASCII without backslash is NFC, UTF-8 and control-free: only the dot names remain to check.
  if (PLAIN.test(name)) return name === '.' || name === '..' ? `"${name}" component` : undefined;
  if (name === '') return 'empty path component';
  // Stryker disable next-line ConditionalExpression,LogicalOperator: "." and ".." are plain, answered above; kept so the rules read in full
  if (name === '.' || name === '..') return `"${name}" component`;
  if (name.includes('/')) return 'slash in a name';
  if (name.includes('\\')) return 'backslash';
  if (CONTROL.test(name)) return 'control character';
  if (LONE_SURROGATE.test(name)) return 'unpaired surrogate (not UTF-8)';
  // readdir decodes invalid UTF-8 bytes as U+FFFD: such a name cannot be spelled back to open the file.
  if (name.includes('\ufffd')) return 'name is not valid UTF-8';
  if (name.normalize('NFC') !== name) return 'name is not in Unicode NFC';
  return undefined;
}

/** Components of printable ASCII without backslash, joined by single slashes: NFC, UTF-8, one byte per char. */
const PLAIN_PATH = /^[\u0020-\u002e\u0030-\u005b\u005d-\u007e]+(?:\/[\u0020-\u002e\u0030-\u005b\u005d-\u007e]+)*$/;
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** Why a manifest path is not canonical, or undefined when it is. */
export function pathProblem(path: string, limits: DirectoryLimits = DEFAULT_LIMITS): string | undefined {
  // Most paths are plain ASCII: two expressions instead of a split and one per component. A path of n components
  // has at least 2n-1 characters, so a short one cannot be too deep.
  // Stryker disable BlockStatement: a fast path: without it the general rules give the same verdict
  if (
    // Stryker disable next-line ConditionalExpression: a fast path: the general rules give the same verdict
    path.length <= limits.maxPathBytes &&
    // Stryker disable next-line ArithmeticOperator: a smaller bound only sends more paths to the general rules
    path.length < 2 * limits.maxDepth &&
    PLAIN_PATH.test(path) &&
    // A dot component starts the path or follows a slash.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a fast path: the expression gives the same verdict
    ((path.charCodeAt(0) !== 0x2e && !path.includes('/.')) || !DOT_COMPONENT.test(path))
  ) {
    return undefined;
  }
  // Stryker restore BlockStatement
  // Stryker disable next-line ConditionalExpression: an empty path is also an empty component below; this names it
  if (path === '') return 'empty path';
  // Stryker disable next-line ConditionalExpression,LogicalOperator: the UTF-8 length is never below the UTF-16 one; the first test only saves encoding
  if (path.length > limits.maxPathBytes || Buffer.byteLength(path) > limits.maxPathBytes) {
    return `path longer than ${limits.maxPathBytes} bytes`;
  }
  // Stryker disable next-line ConditionalExpression,MethodExpression: a leading slash is also an empty component below; this names it
  if (path.startsWith('/')) return 'absolute path';
  const parts = path.split('/');
  if (parts.length > limits.maxDepth) return `deeper than ${limits.maxDepth} components`;
  for (const part of parts) {
    const p = componentProblem(part);
    if (p) return p;
  }
  return undefined;
}

export function assertCanonicalPath(
  path: unknown,
  what: string,
  code: ErrorCode = 'MANIFEST_INVALID',
  limits: DirectoryLimits = DEFAULT_LIMITS,
): string {
  if (typeof path !== 'string') throw new VouchError(code, `${what} must be a string`);
  const problem = pathProblem(path, limits);
  // Stryker disable next-line MethodExpression: the message only
  if (problem) throw new VouchError(code, `${what} ${JSON.stringify(path.slice(0, 200))}: ${problem}`);
  return path;
}

/** Characters whose UTF-16 order differs from their code point order (surrogates and U+E000..U+FFFF). */
const HIGH = /[\ud800-\uffff]/;

/**
 * Order of manifest entries: bytewise on the UTF-8 encoding, which is Unicode code point order. JavaScript's `<`
 * compares UTF-16 code units, which puts U+E000..U+FFFF after the supplementary planes; the first differing code
 * unit is remapped so surrogates sort above the BMP, without encoding either string.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  // Without such characters the two orders agree, and the engine's own comparison is several times faster.
  // Stryker disable next-line ConditionalExpression,LogicalOperator,BooleanLiteral,EqualityOperator: a fast path: the loop below gives the same order (one string without such characters is enough for that, and a === b is answered above)
  if (!HIGH.test(a) && !HIGH.test(b)) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Sort by `comparePaths`; when no path has a character where UTF-16 and UTF-8 orders differ, natively. */
export function sortByPath<T extends { path: string }>(list: T[]): T[] {
  // Stryker disable next-line ConditionalExpression,MethodExpression: the native sort is a fast path for the same order
  if (list.some((e) => HIGH.test(e.path))) return list.sort((a, b) => comparePaths(a.path, b.path));
  // Stryker disable next-line EqualityOperator,ConditionalExpression: the paths sorted are distinct (duplicates are refused before), and V8's sort only asks whether the result is negative
  return list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Sort plain path strings by `comparePaths`, natively when no path has a character where the orders differ. */
export function sortPaths(list: string[]): string[] {
  // Stryker disable next-line ConditionalExpression,MethodExpression: the native sort is a fast path for the same order
  if (list.some((p) => HIGH.test(p))) return list.sort(comparePaths);
  return list.sort();
}

/**
 * Component-wise order (each component by code point), the order Python's PurePosixPath sorts in. The OpenSSF
 * model-signing reference implementation lists its resources in this order, so vouch produces it the same way.
 */
export function compareComponentwise(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const c = comparePaths(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/** Key under which two names collide on a case-insensitive or normalising file system (macOS, Windows). */
export function collisionKey(name: string): string {
  // Stryker disable next-line ConditionalExpression: a fast path: the general rules give the same verdict
  if (ASCII.test(name)) return UPPER.test(name) ? name.toLowerCase() : name;
  return name.normalize('NFC').toLowerCase().normalize('NFC');
}
const ASCII = /^[\u0000-\u007f]*$/;
const UPPER = /[A-Z]/;
