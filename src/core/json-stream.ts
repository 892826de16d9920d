/**
 * One JSON document read in chunks, with its one huge value split out, so a 200 MB directory bundle is never one
 * string. The document is a small "skeleton" (parsed strictly at the end, by parseStrictJson) plus the values at
 * the target key paths:
 * - `array` mode: each element of a target array is handed over on its own (a manifest entry), as its exact bytes;
 * - `string` mode: a target string is not kept; its byte range in the input is recorded (a DSSE payload, read
 *   again later), and it must contain no escape (base64 never needs one).
 * In the skeleton each target value is replaced by a JSON string holding a random marker, which no input can
 * predict: after the strict parse, the caller checks the marker sits exactly where the value must be, so a
 * duplicate key, an escaped key spelling or a target at another path cannot make the split and the parse disagree.
 *
 * Why the split is exact: the scanner tracks strings (quote, backslash) and brackets only; a cut element is parsed
 * on its own (strictly, by the consumer), and the input equals the skeleton with the marker replaced by
 * `[e1,e2,...]`, so when the skeleton and every element are valid JSON the whole document is valid JSON with the
 * same values. Anything the scanner cannot follow fails one of those parses or is refused here.
 */
import { randomBytes } from 'node:crypto';
import { type ErrorCode, VouchError } from '../errors.ts';
import { parseStrictJson } from './json.ts';

export interface JsonSplitOptions {
  /** Key paths, from the root object, of the values to split out (`['predicate', 'entries']`). */
  targets: readonly (readonly string[])[];
  mode: 'array' | 'string';
  /**
   * Array mode: one element of target `target` (index into `targets`), as the bytes of its JSON text. `shape`
   * tells a flat object (no container inside) and its number of members, so the consumer can check for duplicate
   * keys by counting (JSON.parse keeps one of duplicates) instead of scanning the text again.
   */
  onElement?: (target: number, element: Buffer, shape: ElementShape) => void;
  /**
   * Array mode: told when a target array begins, with the skeleton so far (ending in the marker) and the brackets
   * that would close it there. Returning true ends the split: the rest of the input is not looked at, and `end`
   * gives that closed skeleton, as if the document ended with the list. For a reader that needs only what comes
   * before the list now, and checks the whole document in a later pass.
   */
  onListStart?: (target: number, skeleton: string, closers: string) => boolean;
  maxSkeletonBytes: number;
  /** Array mode: the largest element accepted. */
  maxElementBytes?: number;
  maxDepth?: number;
  code: ErrorCode;
  /** Raised instead of `code` when the document is too large (a skeleton over its cap). */
  tooLargeCode?: ErrorCode;
  what: string;
}

/** What the scanner saw of an element: `flat` when it is an object with no container inside, and its members. */
export interface ElementShape {
  flat: boolean;
  members: number;
}

export interface JsonSplit {
  /** The document without its target values, each replaced by `JSON.stringify(marker)`. */
  skeleton: string;
  marker: string;
  /** Every target value found, in document order; string mode: the byte range of its content (inside quotes). */
  found: { target: number; start: number; end: number }[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// Scanner states.
const VALUE = 0; // skeleton, outside strings
const SKEL_STRING = 1; // skeleton, inside a string (a key when `keyParts` is set)
const ELEMENTS = 2; // inside a target array, between or inside elements
const ELEM_STRING = 3; // inside a string inside an element
const TARGET_STRING = 4; // inside a target string
const STOPPED = 5; // onListStart ended the split

interface Frame {
  object: boolean;
  key: string | undefined;
}

export class JsonSplitter {
  readonly #o: JsonSplitOptions;
  /** The random string that stands for each split-out value in the skeleton. */
  readonly marker = `vouch-split-${randomBytes(16).toString('hex')}`;
  readonly #markerJson: Buffer;
  readonly #frames: Frame[] = [];
  readonly #found: JsonSplit['found'] = [];
  #state = VALUE;
  #offset = 0; // input bytes before the current chunk
  #skeleton: Buffer[] = [];
  #skeletonBytes = 0;
  #expectKey = false;
  #awaitValue = true;
  /** A backslash was the last byte of the previous chunk, inside a string. */
  #escapePending = false;
  #keyParts: Buffer[] | undefined;
  #keyEscaped = false;
  #target = -1;
  #targetStart = 0;
  // Array mode.
  #depth = 0;
  #element: Buffer[] = [];
  #elementBytes = 0;
  /** Where the current element starts in the current chunk (0 when it began in an earlier one), or -1. */
  #elementFrom = -1;
  readonly #shape: ElementShape = { flat: true, members: 0 };
  /** After a comma: an element must follow, not `]`. */
  #needElement = false;
  /** Inside a flat element: the next string at depth 1 begins a member. */
  #expectMember = false;
  #done = false;
  #bsChunk: Buffer | undefined;
  #bsFrom = 0;
  #bsAt = -1;

  constructor(options: JsonSplitOptions) {
    this.#o = options;
    this.#markerJson = Buffer.from(JSON.stringify(this.marker));
  }

  #fail(message: string, code: ErrorCode = this.#o.code): never {
    throw new VouchError(code, `${this.#o.what} ${message}`);
  }

  #keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.#skeletonBytes += to - from;
    if (this.#skeletonBytes > this.#o.maxSkeletonBytes) {
      this.#fail(`is larger than ${this.#o.maxSkeletonBytes} bytes outside its split values`, this.#o.tooLargeCode);
    }
    // A copy: the caller may reuse its read buffer.
    this.#skeleton.push(Buffer.from(chunk.subarray(from, to)));
  }

  /** The target index whose path the value starting now is at, or -1. */
  #targetHere(): number {
    const f = this.#frames;
    const targets = this.#o.targets;
    for (let t = 0; t < targets.length; t++) {
      const path = targets[t]!;
      if (path.length !== f.length) continue;
      let k = 0;
      while (k < path.length && f[k]!.object && f[k]!.key === path[k]) k++;
      if (k === path.length) return t;
    }
    return -1;
  }

  /**
   * The end of the string starting at `i` (index of its closing quote), or -1 when it runs past the chunk. Sets
   * `#escapePending` when the chunk ends right after a backslash; `onEscape` is told when one is seen. A plain
   * loop: keys and entry strings are short, and a native search per string costs more than scanning it.
   */
  #stringEnd(chunk: Buffer, i: number, onEscape?: () => void): number {
    const n = chunk.length;
    if (this.#escapePending) {
      this.#escapePending = false;
      i++; // the escaped byte (a quote or backslash never ends the string here)
    }
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (c === QUOTE) return i;
      if (c === BACKSLASH) {
        onEscape?.();
        if (i + 1 >= n) {
          this.#escapePending = true;
          return -1;
        }
        i++;
      }
    }
    return -1;
  }

  /**
   * The next backslash at or after `i` in `chunk`, or -1. Remembered per chunk: most strings have none, and
   * searching the rest of a 1 MiB chunk for each of its thousands of strings would be quadratic.
   */
  #backslashFrom(chunk: Buffer, i: number): number {
    if (this.#bsChunk !== chunk || (this.#bsAt >= 0 && this.#bsAt < i) || (this.#bsAt < 0 && this.#bsFrom > i)) {
      this.#bsChunk = chunk;
      this.#bsFrom = i;
      this.#bsAt = chunk.indexOf(BACKSLASH, i);
    }
    return this.#bsAt;
  }

  push(chunk: Buffer): void {
    if (this.#done) this.#fail('has data after its end');
    if (this.#state === STOPPED) {
      this.#offset += chunk.length;
      return;
    }
    const n = chunk.length;
    this.#bsChunk = undefined; // the caller may refill the same buffer
    let i = 0;
    let keepFrom = this.#state === VALUE || this.#state === SKEL_STRING ? 0 : -1;
    while (i < n) {
      switch (this.#state) {
        case SKEL_STRING: {
          const e = this.#stringEnd(chunk, i, () => {
            this.#keyEscaped = true;
          });
          const end = e < 0 ? n : e;
          if (this.#keyParts) this.#keyParts.push(Buffer.from(chunk.subarray(i, end)));
          if (e < 0) {
            i = n;
            break;
          }
          i = e + 1;
          this.#state = VALUE;
          if (this.#keyParts) {
            const raw = Buffer.concat(this.#keyParts).toString('utf8');
            this.#keyParts = undefined;
            let key = raw;
            if (this.#keyEscaped) {
              try {
                key = JSON.parse(`"${raw}"`) as string;
              } catch {
                this.#fail('is not valid JSON (a key)');
              }
            }
            this.#frames[this.#frames.length - 1]!.key = key;
          }
          break;
        }
        case VALUE: {
          const c = chunk[i]!;
          if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
            i++;
            break;
          }
          const top = this.#frames[this.#frames.length - 1];
          if (c === QUOTE && top?.object && this.#expectKey) {
            this.#expectKey = false;
            this.#keyParts = [];
            this.#keyEscaped = false;
            this.#state = SKEL_STRING;
            i++;
            break;
          }
          if (c === 0x3a /* : */) {
            this.#awaitValue = true;
            i++;
            break;
          }
          if (c === 0x2c /* , */) {
            if (top?.object) this.#expectKey = true;
            else this.#awaitValue = true;
            i++;
            break;
          }
          if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
            this.#frames.pop();
            this.#awaitValue = false;
            this.#expectKey = false;
            i++;
            break;
          }
          // A value starts: a string, a container or a literal.
          // A value of another type at a target path stays in the skeleton, where the caller finds it is not
          // the marker and names the problem as it would for a document parsed whole.
          const t = this.#awaitValue && c === (this.#o.mode === 'array' ? 0x5b : QUOTE) ? this.#targetHere() : -1;
          this.#awaitValue = false;
          if (t >= 0) {
            this.#keep(chunk, keepFrom, i);
            this.#skeletonBytes += this.#markerJson.length;
            this.#skeleton.push(this.#markerJson);
            keepFrom = -1;
            this.#target = t;
            i++;
            if (this.#o.mode === 'array' && this.#o.onListStart) {
              const closers = this.#frames
                .map((f) => (f.object ? '}' : ']'))
                .reverse()
                .join('');
              const soFar = Buffer.concat(this.#skeleton, this.#skeletonBytes).toString('utf8');
              if (this.#o.onListStart(t, soFar, closers)) {
                this.#found.push({ target: t, start: this.#offset + i - 1, end: -1 });
                this.#skeleton = [Buffer.from(soFar), Buffer.from(closers)];
                this.#skeletonBytes += closers.length;
                this.#state = STOPPED;
                this.#offset += n;
                return;
              }
            }
            if (this.#o.mode === 'array') {
              this.#state = ELEMENTS;
              this.#depth = 0;
              this.#elementFrom = -1;
              this.#needElement = false;
              this.#found.push({ target: t, start: this.#offset + i - 1, end: -1 });
            } else {
              this.#state = TARGET_STRING;
              this.#targetStart = this.#offset + i;
            }
            break;
          }
          if (c === QUOTE) {
            this.#state = SKEL_STRING;
            i++;
            break;
          }
          if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
            this.#frames.push({ object: c === 0x7b, key: undefined });
            if (this.#frames.length > (this.#o.maxDepth ?? 64)) this.#fail('is nested too deeply');
            this.#expectKey = c === 0x7b;
            this.#awaitValue = c === 0x5b;
            i++;
            break;
          }
          i++; // a literal's byte (number, true, false, null); its syntax is the strict parser's job
          break;
        }
        case TARGET_STRING: {
          const q = chunk.indexOf(QUOTE, i);
          const b = this.#backslashFrom(chunk, i);
          if (b >= 0 && (q < 0 || b < q)) {
            this.#fail(
              'has an escape sequence in a value too large to hold; it is written without escapes',
              'BUNDLE_UNSUPPORTED',
            );
          }
          if (q < 0) {
            i = n;
            break;
          }
          this.#found.push({ target: this.#target, start: this.#targetStart, end: this.#offset + q });
          i = q + 1;
          keepFrom = i;
          this.#state = VALUE;
          break;
        }
        case ELEM_STRING: {
          const e = this.#stringEnd(chunk, i);
          if (e < 0) {
            i = n;
            break;
          }
          i = e + 1;
          this.#state = ELEMENTS;
          break;
        }
        case ELEMENTS: {
          // To the next byte that matters at this depth; an element's bytes are cut out when it ends.
          let c = 0;
          for (; i < n; i++) {
            c = chunk[i]!;
            if (c === QUOTE || c === 0x7b || c === 0x5b || c === 0x7d || c === 0x5d || c === 0x2c) break;
            if (this.#elementFrom < 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
              this.#elementFrom = i; // a literal: not an object
              this.#shape.flat = false;
            }
          }
          if (i >= n) break;
          if (this.#depth === 0 && (c === 0x2c || c === 0x5d)) {
            if (this.#elementFrom >= 0) this.#emit(chunk, i);
            else if (c === 0x2c || this.#needElement) this.#fail('is not valid JSON (an empty array element)');
            i++;
            if (c === 0x2c) this.#needElement = true;
            else {
              this.#state = VALUE;
              keepFrom = i;
              this.#found[this.#found.length - 1]!.end = this.#offset + i;
              this.#target = -1;
            }
            break;
          }
          if (this.#elementFrom < 0) {
            this.#elementFrom = i;
            this.#shape.flat = c === 0x7b;
            this.#shape.members = 0;
          }
          if (c === QUOTE) {
            if (this.#depth === 1 && this.#expectMember) {
              this.#shape.members++;
              this.#expectMember = false;
            }
            // The string, scanned here: most end in the same chunk, and a state change per string costs more.
            let k = i + 1;
            while (k < n) {
              const d = chunk[k]!;
              if (d === QUOTE) break;
              k += d === BACKSLASH ? 2 : 1;
            }
            if (k < n) {
              i = k + 1;
              break;
            }
            // It runs past the chunk; a backslash as the last byte escapes the next chunk's first.
            this.#escapePending = k > n;
            this.#state = ELEM_STRING;
            i = n;
            break;
          } else if (c === 0x2c) {
            if (this.#depth === 1) this.#expectMember = true;
          } else if (c === 0x7b || c === 0x5b) {
            if (this.#depth > 0) this.#shape.flat = false;
            if (this.#depth === 0) this.#expectMember = true;
            this.#depth++;
            if (this.#depth + this.#frames.length > (this.#o.maxDepth ?? 64)) this.#fail('is nested too deeply');
          } else if (c === 0x7d || c === 0x5d) {
            this.#depth--;
            if (this.#depth < 0) this.#fail('is not valid JSON (unbalanced brackets)');
          }
          i++;
          break;
        }
      }
    }
    if (this.#elementFrom >= 0) {
      // An element continues in the next chunk: keep a copy of its bytes so far (the caller may reuse `chunk`).
      this.#grow(n - this.#elementFrom);
      this.#element.push(Buffer.from(chunk.subarray(this.#elementFrom, n)));
      this.#elementFrom = 0;
    }
    if (keepFrom >= 0 && (this.#state === VALUE || this.#state === SKEL_STRING)) this.#keep(chunk, keepFrom, n);
    this.#offset += n;
  }

  #grow(bytes: number): void {
    this.#elementBytes += bytes;
    if (this.#elementBytes > (this.#o.maxElementBytes ?? 1 << 20)) this.#fail('has an array element that is too large');
  }

  /**
   * Hand over the element ending before `end`. Within one chunk it is a view of the caller's chunk, valid only
   * during the callback.
   */
  #emit(chunk: Buffer, end: number): void {
    this.#grow(end - this.#elementFrom);
    const tail = chunk.subarray(this.#elementFrom, end);
    const parts = this.#element;
    const bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail], this.#elementBytes);
    this.#element = [];
    this.#elementBytes = 0;
    this.#elementFrom = -1;
    this.#needElement = false;
    this.#o.onElement?.(this.#target, bytes, this.#shape);
  }

  /** The skeleton and where the targets were; fails when the document ended inside a string or a target. */
  end(): JsonSplit {
    if ((this.#state !== VALUE && this.#state !== STOPPED) || this.#escapePending) this.#fail('is truncated');
    this.#done = true;
    const skeleton = Buffer.concat(this.#skeleton, this.#skeletonBytes).toString('utf8');
    this.#skeleton = [];
    return { skeleton, marker: this.marker, found: this.#found };
  }
}

/**
 * One split-out element parsed as strictly as parseStrictJson would parse it inside the whole document: a flat
 * object whose member count matches the key tokens the scanner saw has no duplicate key (JSON.parse keeps one of
 * duplicates, so it would have fewer), which spares the second scan of the text for the common case.
 */
export function parseElement(bytes: Buffer, shape: ElementShape, code: ErrorCode, what: string): unknown {
  const text = bytes.toString('utf8');
  if (shape.flat) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new VouchError(code, `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === shape.members) return v;
  }
  return parseStrictJson(text, { code, what });
}
