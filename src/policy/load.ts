/**
 * Loading a policy document (YAML, or JSON, which is YAML too): parsed with the `yaml` package (duplicate keys
 * refused, aliases capped), checked against the published JSON Schema (docs/schemas/policy.schema.json) by ajv,
 * then compiled and checked for satisfiability. Every problem is POLICY_INVALID naming the source, line and
 * column, and the field as keys (`signers > ci > identity`). A policy that can never be met (a threshold above
 * its list, a signer required twice that only one identity can be, a signer that contradicts the policy's
 * conditions) is refused here, never at the end of a verification. Pure: the caller reads the text.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { type Document, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { ExtensionName } from '../core/x509.ts';
import { VouchError } from '../errors.ts';
import { spkiFingerprint } from '../verify/trust.ts';
import dependenciesSchema from './dependencies.schema.json' with { type: 'json' };
import { compileMatcher, describeMatcher, globPattern, matchValue, singleValue } from './match.ts';
import schema from './policy.schema.json' with { type: 'json' };
import { termsOf, walkRules } from './rules.ts';
import type {
  ArtifactRule,
  CompiledPolicy,
  Conditions,
  PolicySigner,
  Revocation,
  Rule,
  SourceLocation,
} from './types.ts';

/** Policy documents are small; a larger one is refused before it is parsed. */
export const MAX_POLICY_BYTES = 1 << 20;
/** Rules nest at most this deep. */
const MAX_DEPTH = 8;

type Path = (string | number)[];
type Raw = Record<string, unknown>;

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(doc: unknown): ErrorObject[] {
  if (!validator) {
    // strictRequired off: `not: {anyOf: [{required: [k]}]}` is how the schema says "not with k".
    const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: false });
    ajv.addSchema(dependenciesSchema);
    validator = ajv.compile(schema);
  }
  return validator(doc) ? [] : (validator.errors ?? []);
}

/** The section of the policy a consumer owns (`vouch deps` reads `dependencies`). */
export function policySection(policy: CompiledPolicy, name: 'dependencies'): unknown {
  return name === 'dependencies' ? policy.dependencies : undefined;
}

/** Parse, validate and compile a policy. `source` names it in errors (a path or URL). */
export function parsePolicy(text: string | Buffer, source: string): CompiledPolicy {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  if (bytes.length > MAX_POLICY_BYTES) {
    throw new VouchError(
      'POLICY_INVALID',
      `${source}: ${bytes.length} bytes; policies are capped at ${MAX_POLICY_BYTES}`,
    );
  }
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const str = bytes.toString('utf8');
  if (!Buffer.from(str, 'utf8').equals(bytes)) throw new VouchError('POLICY_INVALID', `${source}: not UTF-8 text`);
  const lines = new LineCounter();
  // Duplicate keys are found by duplicateKey below: the parser's own check compares every pair of keys of a mapping,
  // minutes for a hostile megabyte of keys.
  const doc = parseDocument(str, { uniqueKeys: false, prettyErrors: false, lineCounter: lines, version: '1.2' });
  const at = (offset: number | undefined): SourceLocation | undefined => {
    if (offset === undefined) return undefined;
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const fail = (message: string, path: Path = [], loc?: SourceLocation): never => {
    const where = loc ?? locate(path);
    const place = where ? `${source}:${where.line}:${where.column}` : source;
    const keys = path.length === 0 ? '' : `${path.join(' > ')}: `;
    throw new VouchError('POLICY_INVALID', `${place}: ${keys}${message}`, {
      details: { source, path: path.map(String), ...(where ? where : {}) },
    });
  };
  const locate = (path: Path): SourceLocation | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return at(node.range[0]);
    }
    // An empty document has no node at all: its start is where the mapping is missing.
    return { line: 1, column: 1 };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    fail(e.message.split('\n')[0]!, [], at(e.pos[0]));
  }
  // An unknown tag (`identity: !x value`) is only a warning to the parser, which then reads a plain string: a
  // policy has one reading, so it is refused.
  if (doc.warnings.length > 0) {
    const w = doc.warnings[0]!;
    fail(w.message.split('\n')[0]!, [], at(w.pos[0]));
  }
  const dup = duplicateKey(doc);
  if (dup) fail(dup.message, [], at(dup.offset));
  let value: unknown;
  try {
    // An alias bomb (a billion laughs) is refused rather than expanded.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail((e as Error).message);
  }
  const errors = validate(value);
  if (errors.length > 0) {
    const e = pickError(errors);
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'))
      .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    fail(schemaMessage(e), path);
  }
  return compile(value as Raw, source, digest, fail, locate);
}

/**
 * The first key that repeats in a mapping, or that is not a plain string or number (a `? [complex]` key, an empty
 * key): one set per mapping, linear in the size of the document.
 */
function duplicateKey(doc: Document): { message: string; offset: number | undefined } | undefined {
  let found: { message: string; offset: number | undefined } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const k = pair.key;
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          const node = (isScalar(k) ? k : pair.value) as { range?: [number, number, number] } | null;
          found = { message: 'a key must be a plain string', offset: node?.range?.[0] ?? map.range?.[0] };
          return visit.BREAK;
        }
        const name = String(k.value);
        if (seen.has(name)) {
          found = { message: `duplicate key ${name.slice(0, 64)}`, offset: k.range?.[0] };
          return visit.BREAK;
        }
        seen.add(name);
      }
      return undefined;
    },
  });
  return found;
}

/**
 * The most telling of ajv's errors: inside a `oneOf`, the branch whose shape the value has (a wrong type says
 * little when another branch took that type).
 */
function pickError(errors: ErrorObject[]): ErrorObject {
  const rank = (e: ErrorObject) =>
    e.keyword === 'oneOf' || e.keyword === 'if' ? 0 : e.keyword === 'type' ? 1 : e.keyword === 'required' ? 2 : 3;
  let best = errors[0]!;
  for (const e of errors)
    if (rank(e) > rank(best) || (rank(e) === rank(best) && e.instancePath.length > best.instancePath.length)) best = e;
  if (best.keyword === 'not' || (best.keyword === 'required' && best.schemaPath.includes('/oneOf/'))) {
    // A signer or revocation that mixes or lacks its kinds: say what the kinds are.
    if (best.schemaPath.startsWith('#/definitions/signer/')) {
      return {
        ...best,
        keyword: 'x-kind',
        message: 'a signer is keyless (identity and issuer) or a key (key or fingerprint), not both',
      };
    }
    if (best.schemaPath.startsWith('#/definitions/revocation/')) {
      return {
        ...best,
        keyword: 'x-kind',
        message: 'a revocation names an identity or a key (key or fingerprint), not both',
      };
    }
  }
  return best;
}

function schemaMessage(e: ErrorObject): string {
  if (e.keyword === 'x-kind') return e.message!;
  if (e.keyword === 'additionalProperties')
    return `unknown key ${(e.params as { additionalProperty: string }).additionalProperty}`;
  const key = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (key !== undefined) return `the key ${key} ${e.message}`;
  if (e.keyword === 'enum')
    return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  if (e.keyword === 'const') return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
  return e.message ?? 'is invalid';
}

type Fail = (message: string, path?: Path, loc?: SourceLocation) => never;

function compile(
  raw: Raw,
  source: string,
  digest: string,
  fail: Fail,
  locate: (p: Path) => SourceLocation | undefined,
): CompiledPolicy {
  const loc = (p: Path) => locate(p);
  const time = (v: unknown, path: Path): number => {
    const s = v as string;
    const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : /[Zz]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`);
    if (!Number.isFinite(t)) fail(`${s} is not a valid date`, path);
    return t;
  };
  const matcher = (v: unknown, path: Path) => {
    try {
      return compileMatcher(v);
    } catch (e) {
      return fail((e as Error).message, path);
    }
  };
  const conditions = (c: Raw | undefined, path: Path): Conditions | undefined => {
    if (!c) return undefined;
    const out: Conditions = {};
    for (const k of ['trigger', 'ref', 'runner'] as const) if (c[k] !== undefined) out[k] = matcher(c[k], [...path, k]);
    if (c.signedAfter !== undefined) out.signedAfter = time(c.signedAfter, [...path, 'signedAfter']);
    if (c.signedBefore !== undefined) out.signedBefore = time(c.signedBefore, [...path, 'signedBefore']);
    if (out.signedAfter !== undefined && out.signedBefore !== undefined && out.signedAfter >= out.signedBefore) {
      fail('signedAfter is not before signedBefore: no signature can be both', path);
    }
    if (c.maxAgeDays !== undefined) out.maxAgeDays = c.maxAgeDays as number;
    return out;
  };
  const fingerprintOf = (pem: string, path: Path): string => {
    try {
      const key = createPublicKey(pem);
      if (key.type !== 'public') fail('is not a public key', path);
      return spkiFingerprint(key.export({ format: 'der', type: 'spki' }));
    } catch (e) {
      if (e instanceof VouchError) throw e;
      return fail('is not a public key (SPKI PEM)', path);
    }
  };
  const policyConditions = conditions(raw.conditions as Raw | undefined, ['conditions']);

  const signers = new Map<string, PolicySigner>();
  for (const [name, s] of Object.entries((raw.signers ?? {}) as Record<string, Raw>)) {
    const path = ['signers', name];
    const base = {
      name,
      ...(s.roots ? { roots: s.roots as string[] } : {}),
      ...(s.conditions ? { conditions: conditions(s.conditions as Raw, [...path, 'conditions'])! } : {}),
      ...(loc(path) ? { location: loc(path)! } : {}),
    };
    let signer: PolicySigner;
    if (s.identity !== undefined) {
      signer = {
        ...base,
        kind: 'keyless',
        identity: matcher(s.identity, [...path, 'identity']),
        issuer: matcher(s.issuer, [...path, 'issuer']),
        extensions: Object.entries((s.extensions ?? {}) as Raw).map(([n, m]) => ({
          name: n as ExtensionName,
          matcher: matcher(m, [...path, 'extensions', n]),
        })),
      };
    } else if (s.key !== undefined) {
      signer = {
        ...base,
        kind: 'key',
        pem: s.key as string,
        fingerprint: fingerprintOf(s.key as string, [...path, 'key']),
      };
    } else {
      signer = { ...base, kind: 'key', fingerprint: (s.fingerprint as string).replace(/^sha256:/, '') };
    }
    checkSigner(signer, policyConditions, (m) => fail(m, path));
    signers.set(name, signer);
  }

  const used = new Set<string>();
  const rule = (r: unknown, id: string, path: Path, depth: number): Rule => {
    if (depth > MAX_DEPTH) fail(`rules nest more than ${MAX_DEPTH} deep`, path);
    const location = loc(path);
    const at = location ? { location } : {};
    if (typeof r === 'string') {
      if (!signers.has(r)) fail(`no signer is named ${r}`, path);
      used.add(r);
      return { kind: 'signer', id, signer: r, ...at };
    }
    const o = r as Raw;
    const form = o.anyOf ? 'anyOf' : o.allOf ? 'allOf' : 'threshold';
    const list = (form === 'threshold' ? o.of : o[form]) as unknown[];
    const listKey = form === 'threshold' ? 'of' : form;
    const of = list.map((c, i) => rule(c, `${id}.${listKey}[${i}]`, [...path, listKey, i], depth + 1));
    const threshold = form === 'anyOf' ? 1 : form === 'allOf' ? of.length : (o.threshold as number);
    if (threshold > of.length) {
      fail(`threshold ${threshold} is more than the ${of.length} rules listed: it can never be met`, [
        ...path,
        'threshold',
      ]);
    }
    return { kind: form, id, threshold, of, ...at };
  };
  // The schema asks for signers and require together, or a dependencies section; one without the other is a mistake.
  if ((raw.signers === undefined) !== (raw.require === undefined)) {
    fail(raw.require === undefined ? 'signers are named but no rule requires them' : 'a rule needs signers', [
      raw.require === undefined ? 'signers' : 'require',
    ]);
  }
  const require = raw.require === undefined ? undefined : rule(raw.require, 'require', ['require'], 0);

  const revoked: Revocation[] = ((raw.revoked ?? []) as Raw[]).map((r, i) => {
    const path = ['revoked', i];
    const out: Revocation = { since: time(r.since, [...path, 'since']) };
    if (r.identity !== undefined) out.identity = matcher(r.identity, [...path, 'identity']);
    if (r.issuer !== undefined) out.issuer = matcher(r.issuer, [...path, 'issuer']);
    if (r.key !== undefined) out.fingerprint = fingerprintOf(r.key as string, [...path, 'key']);
    if (r.fingerprint !== undefined) out.fingerprint = (r.fingerprint as string).replace(/^sha256:/, '');
    if (r.reason !== undefined) out.reason = r.reason as string;
    const l = loc(path);
    if (l) out.location = l;
    return out;
  });

  const artifacts: ArtifactRule[] = ((raw.artifacts ?? []) as Raw[]).map((a, i) => {
    const path = ['artifacts', i];
    const id = `artifacts[${i}]`;
    const out: ArtifactRule = { id, paths: [] };
    if (a.kind !== undefined) out.kind = a.kind as ArtifactRule['kind'] & string;
    if (a.name !== undefined) out.name = { source: a.name as string, re: globPattern(a.name as string) };
    if (a.require !== undefined) out.require = rule(a.require, `${id}.require`, [...path, 'require'], 0);
    out.paths = ((a.paths ?? []) as Raw[]).map((p, j) => {
      const pp = [...path, 'paths', j];
      const l = loc(pp);
      return {
        id: `${id}.paths[${j}]`,
        pattern: p.pattern as string,
        re: globPattern(p.pattern as string),
        require: rule(p.require, `${id}.paths[${j}].require`, [...pp, 'require'], 0),
        ...(l ? { location: l } : {}),
      };
    });
    const l = loc(path);
    if (l) out.location = l;
    return out;
  });

  for (const name of signers.keys()) {
    if (!used.has(name)) fail(`signer ${name} is not used by any rule (a typo in a rule?)`, ['signers', name]);
  }

  // Every rule must be satisfiable by some set of distinct signers: its terms are computed now (and capped), and a
  // rule none of whose terms can be filled is a contradiction.
  const rules: { rule: Rule; path: Path }[] = require ? [{ rule: require, path: ['require'] }] : [];
  artifacts.forEach((a, i) => {
    if (a.require) rules.push({ rule: a.require, path: ['artifacts', i, 'require'] });
    a.paths.forEach((p, j) => {
      rules.push({ rule: p.require, path: ['artifacts', i, 'paths', j, 'require'] });
    });
  });
  for (const { rule: r, path } of rules) {
    let terms: string[][];
    try {
      terms = termsOf(r);
    } catch (e) {
      return fail((e as Error).message, path);
    }
    if (!terms.some((t) => termPossible(t, signers))) {
      fail(
        'can never be met: every way to meet it needs one signer twice (an exact identity, or a key, counts once)',
        path,
      );
    }
    for (const sub of walkRules(r)) termsOf(sub);
  }

  const policy: CompiledPolicy = { source, digest, signers, ...(require && { require }), revoked, artifacts };
  if (policyConditions) policy.conditions = policyConditions;
  if (raw.dependencies !== undefined) policy.dependencies = raw.dependencies;
  return policy;
}

/**
 * Contradictions within one signer: a key cannot meet conditions on certificate claims, and an exact extension value
 * that a condition on the same claim refuses can never be met.
 */
function checkSigner(s: PolicySigner, global: Conditions | undefined, fail: (m: string) => never): void {
  for (const c of [global, s.conditions]) {
    if (!c) continue;
    const claims = (['trigger', 'ref', 'runner'] as const).filter((k) => c[k] !== undefined);
    if (s.kind === 'key' && claims.length > 0) {
      fail(`a key signer has no certificate claims, so the condition on ${claims.join(', ')} can never be met`);
    }
    if (s.kind !== 'keyless') continue;
    const pinned: Record<'trigger' | 'ref' | 'runner', ExtensionName> = {
      trigger: 'buildTrigger',
      ref: 'sourceRepositoryRef',
      runner: 'runnerEnvironment',
    };
    for (const k of claims) {
      const ext = s.extensions.find((e) => e.name === pinned[k]);
      const v = ext ? singleValue(ext.matcher) : undefined;
      if (v !== undefined && !matchValue(c[k]!, v)) {
        fail(
          `extension ${pinned[k]} must be ${JSON.stringify(v)}, which the condition ${k} ${describeMatcher(c[k]!)} refuses`,
        );
      }
    }
  }
  const after = Math.max(global?.signedAfter ?? -Infinity, s.conditions?.signedAfter ?? -Infinity);
  const before = Math.min(global?.signedBefore ?? Infinity, s.conditions?.signedBefore ?? Infinity);
  if (after >= before) fail('its time window and the policy time window do not overlap');
}

/** The one signer a policy signer can be, when it can be only one: an exact identity and issuer, or a key. */
export function uniqueSignerKey(s: PolicySigner): string | undefined {
  if (s.kind === 'key') return `key:${s.fingerprint}`;
  const identity = singleValue(s.identity);
  const issuer = singleValue(s.issuer);
  return identity !== undefined && issuer !== undefined ? signerKey(issuer, identity) : undefined;
}

/** The key distinct signers are counted by: issuer and identity (keyless), or the key's fingerprint. */
export function signerKey(issuer: string, identity: string): string {
  return `id:${issuer}\n${identity}`;
}

function termPossible(term: string[], signers: Map<string, PolicySigner>): boolean {
  // A slot whose signer can be many identities may take a fresh one; slots that can each be only one signer need
  // that signer to differ from slot to slot.
  const unique = term.map((name) => uniqueSignerKey(signers.get(name)!)).filter((k) => k !== undefined);
  return new Set(unique).size === unique.length;
}
