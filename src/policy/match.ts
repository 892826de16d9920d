/**
 * Value matchers of the policy language: exact by default; regular expressions and globs are opt-in and always
 * anchored at both ends, so `acme/app` never matches `acme/app-x` and `refs/tags/v*` never matches
 * `refs/tags/v1/../../heads/x`.
 */
import type { Pattern } from '../core/pattern.ts';
import { anchoredPattern } from '../verify/policy.ts';
import type { ValueMatcher } from './types.ts';

/**
 * A glob as a pattern over the whole value: `**` any run of characters, `*` any run without `/`, `?` one character
 * but `/`; every other character stands for itself. Matched by RE2 like every pattern: a glob of many stars costs
 * linear time, where a backtracking engine would take a power of the value's length.
 */
export function globPattern(glob: string): Pattern {
  return anchoredPattern(globSource(glob), { dotAll: true });
}

/** The regular expression of a glob (RE2 syntax, to be matched with dotAll against a whole value). */
export function globSource(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += escapePattern(c);
  }
  return re;
}

/** `text` as a regular expression that matches exactly it. */
export function escapePattern(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Whether a glob has no wildcard (then it is an exact value, written as a glob). */
export function isLiteralGlob(glob: string): boolean {
  return !/[*?]/.test(glob);
}

/** Compile a matcher of the document (a bare string, or an object with one of exact/regexp/glob/oneOf/noneOf). */
export function compileMatcher(m: unknown): ValueMatcher {
  if (typeof m === 'string') return { kind: 'exact', value: m };
  const o = m as Record<string, unknown>;
  if (typeof o.exact === 'string') return { kind: 'exact', value: o.exact };
  if (typeof o.regexp === 'string') return { kind: 'regexp', source: o.regexp, re: anchoredPattern(o.regexp) };
  if (typeof o.glob === 'string') return { kind: 'glob', source: o.glob, re: globPattern(o.glob) };
  if (Array.isArray(o.oneOf)) return { kind: 'oneOf', values: o.oneOf as string[] };
  return { kind: 'noneOf', values: o.noneOf as string[] };
}

/** Whether `value` (undefined: absent) meets `m`. An absent value meets nothing, `noneOf` included. */
export function matchValue(m: ValueMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (m.kind) {
    case 'exact':
      return m.value === value;
    case 'regexp':
    case 'glob':
      return m.re.test(value);
    case 'oneOf':
      return m.values.includes(value);
    case 'noneOf':
      return !m.values.includes(value);
  }
}

/** The matcher as a person reads it: `"x"`, `/re/`, `glob g`, `one of [a, b]`, `none of [a]`. */
export function describeMatcher(m: ValueMatcher): string {
  switch (m.kind) {
    case 'exact':
      return JSON.stringify(m.value);
    case 'regexp':
      return `/${m.source}/ (anchored)`;
    case 'glob':
      return `glob ${JSON.stringify(m.source)}`;
    case 'oneOf':
      return `one of ${JSON.stringify(m.values)}`;
    case 'noneOf':
      return `none of ${JSON.stringify(m.values)}`;
  }
}

/** The one value a matcher accepts, when it accepts exactly one. */
export function singleValue(m: ValueMatcher): string | undefined {
  if (m.kind === 'exact') return m.value;
  if (m.kind === 'oneOf' && m.values.length === 1) return m.values[0];
  if (m.kind === 'glob' && isLiteralGlob(m.source)) return m.source;
  return undefined;
}
