/**
 * The `dependencies` section of a vouch policy file: which packages must have provenance, which builders, refs and
 * triggers a package's provenance may name, a minimum release age (a cooldown that lets the community catch a
 * compromised release before you install it), and exceptions, each with a reason and an expiry date. Its JSON
 * Schema is src/deps/policy.schema.json (published as docs/policy-dependencies.schema.json), checked by ajv.
 *
 * The section is evaluated on verified evidence only (certificate extensions and the verified SLSA predicate),
 * never on unsigned registry metadata.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { readCapped } from '../core/read.ts';
import { VouchError } from '../errors.ts';
import schema from './policy.schema.json' with { type: 'json' };
import type { PackageEvidence, Problem } from './types.ts';

export interface DepsPolicyException {
  package: string;
  codes: string[];
  reason: string;
  expires: string;
}

export interface DepsPolicy {
  requireSignatures?: boolean;
  requireProvenance?: string[];
  allowedBuilders?: string[];
  tagsOnly?: boolean;
  forbiddenTriggers?: string[];
  minimumReleaseAge?: string;
  exceptions?: DepsPolicyException[];
}

let validator: ReturnType<Ajv['compile']> | undefined;

function schemaMessage(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'dependencies' : `dependencies${e.instancePath.replaceAll('/', ' > ')}`;
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown key ${(e.params as { additionalProperty: string }).additionalProperty}`;
  }
  return `${where} ${e.message}`;
}

/** Check a `dependencies` section (already parsed) against its schema. */
export function parseDepsPolicy(value: unknown, source = 'policy'): DepsPolicy {
  validator ??= new Ajv({ strict: true, allErrors: false }).compile(schema);
  if (!validator(value)) {
    throw new VouchError('POLICY_INVALID', `${source}: ${schemaMessage(validator.errors![0]!)}`, {
      hint: 'See docs/policy-dependencies.schema.json and README (vouch deps).',
    });
  }
  const p = value as DepsPolicy;
  for (const e of p.exceptions ?? []) {
    if (Number.isNaN(Date.parse(`${e.expires}T00:00:00Z`))) {
      throw new VouchError('POLICY_INVALID', `${source}: exception for ${e.package}: ${e.expires} is not a date`);
    }
  }
  return p;
}

/**
 * Read a policy file (YAML or JSON) and take its `dependencies` section. The one place that reads the file: the
 * project-wide policy loader replaces it when it lands, keeping parseDepsPolicy for the section.
 */
export async function loadDepsPolicy(path: string): Promise<DepsPolicy> {
  const text = (await readCapped(path, { maxBytes: 4 << 20, code: 'POLICY_INVALID', what: path })).toString('utf8');
  const doc = parseDocument(text, { uniqueKeys: true, merge: false });
  if (doc.errors.length > 0)
    throw new VouchError('POLICY_INVALID', `${path}: ${doc.errors[0]!.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new VouchError('POLICY_INVALID', `${path}: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || !('dependencies' in value)) {
    throw new VouchError('POLICY_INVALID', `${path}: no dependencies section`);
  }
  return parseDepsPolicy((value as { dependencies: unknown }).dependencies, path);
}

/** `left-pad`, `@acme/*`, `*`. */
export function matchesPackage(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function releaseAgeMs(age: string): number {
  return Number(age.slice(0, -1)) * UNIT_MS[age.slice(-1) as keyof typeof UNIT_MS];
}

/** The problems the policy finds in one package's verified evidence. */
export function evaluatePolicy(e: PackageEvidence, policy: DepsPolicy, now: Date): Problem[] {
  const id = `${e.name}@${e.version}`;
  const out: Problem[] = [];
  const problem = (code: Problem['code'], message: string) => out.push({ code, package: id, message });
  if (policy.requireSignatures && (e.signatures === 'unchecked' || e.signatures === 'missing')) {
    problem(
      'REGISTRY_SIGNATURE_MISSING',
      e.signatures === 'unchecked'
        ? `the registry ${e.registry} publishes no signing keys, and the policy requires signatures`
        : 'the version carries no registry signature, and the policy requires one',
    );
  }
  if (policy.requireProvenance?.some((p) => matchesPackage(p, e.name)) && e.provenance !== 'verified') {
    problem(
      'PROVENANCE_REQUIRED',
      e.provenance === 'unavailable' ? 'the registry serves no attestation for it' : `provenance is ${e.provenance}`,
    );
  }
  const id0 = e.provenance === 'verified' ? e.identity : undefined;
  if (id0) {
    if (policy.allowedBuilders && !policy.allowedBuilders.includes(id0.builder ?? '')) {
      problem('BUILDER_NOT_ALLOWED', `built by ${id0.builder ?? 'an unnamed builder'}`);
    }
    if (policy.tagsOnly && !(id0.ref ?? '').startsWith('refs/tags/')) {
      problem('SOURCE_REF_NOT_ALLOWED', `built from ${id0.ref ?? 'an unnamed ref'}, not a tag`);
    }
    if (id0.trigger !== undefined && policy.forbiddenTriggers?.includes(id0.trigger)) {
      problem('BUILD_TRIGGER_NOT_ALLOWED', `built by a ${id0.trigger} workflow run`);
    }
  }
  if (policy.minimumReleaseAge !== undefined) {
    const published = e.publishedAt === undefined ? Number.NaN : Date.parse(e.publishedAt);
    const age = now.getTime() - published;
    if (Number.isNaN(published) || age < releaseAgeMs(policy.minimumReleaseAge)) {
      problem(
        'RELEASE_TOO_RECENT',
        Number.isNaN(published)
          ? 'the registry gives no publish time'
          : `published ${e.publishedAt}, less than ${policy.minimumReleaseAge} ago`,
      );
    }
  }
  return out;
}

/**
 * Mark the problems an exception accepts (`excepted`); return the exceptions past their date, which accept nothing.
 * An exception applies through the whole of its expiry day (UTC).
 */
export function applyExceptions(problems: Problem[], policy: DepsPolicy, now: Date): DepsPolicyException[] {
  const expired: DepsPolicyException[] = [];
  const live: DepsPolicyException[] = [];
  for (const x of policy.exceptions ?? []) {
    if (Date.parse(`${x.expires}T00:00:00Z`) + UNIT_MS.d <= now.getTime()) expired.push(x);
    else live.push(x);
  }
  for (const p of problems) {
    const name = p.package.slice(0, p.package.lastIndexOf('@'));
    const x = live.find((e) => (e.package === p.package || e.package === name) && e.codes.includes(p.code));
    if (x) p.excepted = { reason: x.reason, expires: x.expires };
  }
  return expired;
}
