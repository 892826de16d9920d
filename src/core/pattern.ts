/**
 * Regular expressions over signer identities and policy values, always matched against the whole value and in
 * time linear in its length. Patterns come from command lines and from policy documents fetched over the network;
 * values come from certificates anyone can obtain. JavaScript's backtracking engine takes exponential time on a
 * pattern like `(a+)+b` (a 28-character SAN held a core for 11 s); RE2 never backtracks. RE2's syntax is also the
 * one cosign's `--certificate-identity-regexp` and Fulcio's configuration take (Go's regexp package), so a pattern
 * written for them means the same here: no lookaround, no backreferences.
 */
import { RE2JS } from 're2js';

export interface PatternFlags {
  /** Letters match either case (the RegExp `i` flag, RE2's `(?i)`). */
  ignoreCase?: boolean;
  /** `.` matches a line break too (the RegExp `s` flag, RE2's `(?s)`). */
  dotAll?: boolean;
}

export class Pattern {
  readonly source: string;
  readonly #re: RE2JS;

  /** Throws a SyntaxError that gives RE2's reason when `source` is not an RE2 expression. */
  constructor(source: string, flags: PatternFlags = {}) {
    const bits = (flags.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (flags.dotAll ? RE2JS.DOTALL : 0);
    try {
      this.#re = RE2JS.compile(source, bits);
    } catch (e) {
      throw new SyntaxError((e as Error).message, { cause: e });
    }
    this.source = source;
  }

  /**
   * Whether all of `value` matches, never a part of it: `acme/app` does not match `acme/app-x`, and `a|b` does not
   * match `ab`. `^` and `$` inside the pattern stand for the ends of the value, never for line breaks in it.
   */
  test(value: string): boolean {
    return this.#re.testExact(value);
  }
}
