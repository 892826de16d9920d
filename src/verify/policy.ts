/**
 * Verification policy, checked when built: either keys (key-pair signatures) or identities (keyless), never both
 * and never neither; identities match exactly unless a regular expression is asked for, and expressions are
 * always anchored so `acme/app` cannot match `acme/app-x` (sigstore-go NewPolicy, cosign --certificate-identity).
 */
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
 * Compile a user pattern anchored at both ends; the group keeps `a|b` from escaping the anchors. The pattern is
 * compiled on its own first: a pattern that is not a regular expression by itself (`a)|(.*`, which would close the
 * group and open another outside the anchors) is refused, and one that is stays inside the group.
 */
export function anchoredRegExp(source: string): RegExp {
  try {
    new RegExp(source, 'u');
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (e) {
    throw new VouchError('POLICY_INVALID', `invalid regular expression: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Flags of a hand-made RegExp that keep their meaning once it is anchored again: case-insensitive, dotAll and the
 * Unicode modes. Everything else is dropped: `m` would let ^ and $ match at line breaks inside one SAN (unanchoring
 * it), `g` and `y` would make test() stateful through lastIndex.
 */
const KEPT_FLAGS = /[^isuv]/g;

function matcher(exact: string | undefined, regexp: string | undefined, what: string): Matcher {
  if (exact !== undefined && regexp !== undefined) bad(`give either ${what} or ${what} regexp, not both`);
  if (exact !== undefined) {
    if (exact === '') bad(`${what} is empty`);
    return { exact };
  }
  if (regexp !== undefined) {
    if (regexp === '') bad(`${what} regexp is empty`);
    return { regexp: anchoredRegExp(regexp) };
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
 * invariants, and regexps must be anchored by us, so hand-made ones are re-anchored from their source.
 */
export function checkPolicy(p: Policy): Policy {
  const hasKeys = p.keys !== undefined;
  const hasIds = p.identities !== undefined;
  if (hasKeys === hasIds) bad('give either keys or identities (exactly one)');
  if (hasKeys && p.keys!.length === 0) bad('the list of keys is empty');
  if (hasIds && p.identities!.length === 0) bad('the list of identities is empty');
  const valid = (m: Matcher | undefined) =>
    m !== undefined &&
    (('exact' in m && typeof m.exact === 'string' && m.exact !== '') || ('regexp' in m && m.regexp instanceof RegExp));
  for (const id of p.identities ?? []) {
    if (!valid(id.subject) || !valid(id.issuer)) bad('every identity needs a subject and an issuer matcher');
  }
  return p;
}

const anchoredCache = new WeakMap<RegExp, RegExp>();

export function matches(m: Matcher, value: string): boolean {
  if ('exact' in m) return m.exact === value;
  // Always wrap again: a hand-made RegExp may look anchored ("^(?:a)|(?:b)$") without being so; double anchoring
  // is harmless. Its source compiled on its own, so it cannot close the group.
  let re = anchoredCache.get(m.regexp);
  // Stryker disable next-line ConditionalExpression: a cache; computing the value again gives the same one
  if (!re) {
    re = new RegExp(`^(?:${m.regexp.source})$`, m.regexp.flags.replace(KEPT_FLAGS, ''));
    anchoredCache.set(m.regexp, re);
  }
  return re.test(value);
}
