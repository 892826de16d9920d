/**
 * Verification policy, checked when built: either keys (key-pair signatures) or identities (keyless), never both
 * and never neither; identities match exactly unless a regular expression is asked for, and expressions are
 * always anchored so `acme/app` cannot match `acme/app-x` (sigstore-go NewPolicy, cosign --certificate-identity).
 */
import { Pattern, type PatternFlags } from '../core/pattern.ts';
import { VouchError } from '../errors.ts';
import type { IdentityPolicy, Matcher, Policy, PublicKeyInput } from './types.ts';

export interface IdentityOptions {
  /** Exact SAN (e-mail, URI or username) of the signer. */
  identity?: string;
  /** Regular expression over the SAN, anchored for you. */
  identityRegexp?: string;
  /** Exact OIDC issuer. Required for keyless unless issuerRegexp is given. */
  issuer?: string;
  issuerRegexp?: string;
}

export interface PolicyOptions {
  identities?: IdentityOptions[];
  keys?: PublicKeyInput[];
  tlogThreshold?: number;
  timestampThreshold?: number;
}

function bad(msg: string): never {
  throw new VouchError('POLICY_INVALID', msg);
}

/**
 * Compile a user pattern, matched against whole values only (core/pattern.ts: RE2 syntax, linear time). A pattern
 * that is not an expression by itself (`a)|(.*`, which would have closed an anchoring group) is refused.
 */
export function anchoredPattern(source: string, flags?: PatternFlags): Pattern {
  try {
    return new Pattern(source, flags);
  } catch (e) {
    throw new VouchError('POLICY_INVALID', `invalid regular expression (RE2 syntax): ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * A hand-made RegExp as a Pattern: its source, with the flags that keep their meaning over one whole value
 * (case-insensitive, dotAll). The others are dropped: `m` would let ^ and $ match at line breaks inside one SAN
 * (unanchoring it), `g` and `y` only make RegExp.test stateful, `u` and `v` are how RE2 always reads a pattern.
 */
function fromRegExp(re: RegExp): Pattern {
  return anchoredPattern(re.source, { ignoreCase: re.flags.includes('i'), dotAll: re.flags.includes('s') });
}

function matcher(exact: string | undefined, regexp: string | undefined, what: string): Matcher {
  if (exact !== undefined && regexp !== undefined) bad(`give either ${what} or ${what} regexp, not both`);
  if (exact !== undefined) {
    if (exact === '') bad(`${what} is empty`);
    return { exact };
  }
  // Stryker disable next-line ConditionalExpression: without a regexp the pattern compiled is `undefined`, refused with the same POLICY_INVALID
  if (regexp !== undefined) {
    if (regexp === '') bad(`${what} regexp is empty`);
    return { regexp: anchoredPattern(regexp) };
  }
  return bad(`${what} is required`);
}

export function buildPolicy(options: PolicyOptions): Policy {
  const hasKeys = options.keys !== undefined;
  const hasIds = options.identities !== undefined;
  if (hasKeys === hasIds) bad('give either keys or identities (exactly one)');
  const threshold = (v: number | undefined, what: string) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0 || v > 32)) bad(`${what} must be an integer 0..32`);
  };
  threshold(options.tlogThreshold, 'tlogThreshold');
  threshold(options.timestampThreshold, 'timestampThreshold');
  const policy: Policy = {};
  if (hasKeys) {
    if (options.keys!.length === 0) bad('the list of keys is empty');
    policy.keys = [...options.keys!];
  } else {
    if (options.identities!.length === 0) bad('the list of identities is empty');
    policy.identities = options.identities!.map(
      (id): IdentityPolicy => ({
        subject: matcher(id.identity, id.identityRegexp, 'identity'),
        issuer: matcher(id.issuer, id.issuerRegexp, 'issuer'),
      }),
    );
  }
  if (options.tlogThreshold !== undefined) policy.tlogThreshold = options.tlogThreshold;
  if (options.timestampThreshold !== undefined) policy.timestampThreshold = options.timestampThreshold;
  return policy;
}

/**
 * Re-check a Policy value that did not come from buildPolicy (library callers may build it by hand): the same
 * invariants, and a hand-made RegExp is compiled here as an RE2 Pattern (POLICY_INVALID when it is not one).
 */
export function checkPolicy(p: Policy): Policy {
  const hasKeys = p.keys !== undefined;
  const hasIds = p.identities !== undefined;
  if (hasKeys === hasIds) bad('give either keys or identities (exactly one)');
  if (hasKeys && p.keys!.length === 0) bad('the list of keys is empty');
  if (hasIds && p.identities!.length === 0) bad('the list of identities is empty');
  const valid = (m: Matcher | undefined) =>
    m !== undefined &&
    (('exact' in m && typeof m.exact === 'string' && m.exact !== '') ||
      ('regexp' in m && (m.regexp instanceof Pattern || m.regexp instanceof RegExp)));
  for (const id of p.identities ?? []) {
    if (!valid(id.subject) || !valid(id.issuer)) bad('every identity needs a subject and an issuer matcher');
    try {
      pattern(id.subject);
      pattern(id.issuer);
    } catch (e) {
      // A hand-made RegExp whose getters throw: never a verdict on the bundle.
      if (e instanceof VouchError) throw e;
      throw new VouchError('INTERNAL', `unreadable matcher: ${(e as Error)?.message}`, { cause: e });
    }
  }
  return p;
}

const compiled = new WeakMap<RegExp, Pattern>();

/** The Pattern of a matcher (undefined for an exact one); a RegExp is compiled once. */
function pattern(m: Matcher): Pattern | undefined {
  if (!('regexp' in m)) return undefined;
  if (m.regexp instanceof Pattern) return m.regexp;
  let re = compiled.get(m.regexp);
  // Stryker disable next-line ConditionalExpression: a cache; compiling the expression again gives the same one
  if (!re) {
    re = fromRegExp(m.regexp);
    // Stryker disable next-line CallExpression: a cache; compiling the expression again gives the same one
    compiled.set(m.regexp, re);
  }
  return re;
}

/** Whether `value` meets the matcher: equal to the exact value, or all of it matched by the pattern. */
export function matches(m: Matcher, value: string): boolean {
  if ('exact' in m) return m.exact === value;
  return pattern(m)!.test(value);
}
