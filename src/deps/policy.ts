/**
 * The `dependencies` section of a vouch policy document (docs/policy.md): which packages must have provenance, which
 * builders, refs and triggers a package's provenance may name, a minimum release age (a cooldown that lets the
 * community catch a compromised release before you install it), and exceptions, each with a reason and an expiry
 * date. One document, one loader, one schema: the policy loader (src/policy/load.ts) reads the file and checks the
 * section against src/policy/dependencies.schema.json (published as docs/schemas/dependencies.schema.json), which
 * `parseDepsPolicy` also applies to a section given as a value (the library).
 *
 * The section is evaluated on verified evidence only (certificate extensions and the verified SLSA predicate),
 * never on unsigned registry metadata.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { VouchError } from '../errors.ts';
import { readPolicySource } from '../instance/policies.ts';
import schema from '../policy/dependencies.schema.json' with { type: 'json' };
import { parsePolicy, policySection } from '../policy/load.ts';
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
      hint: 'See docs/schemas/dependencies.schema.json and docs/dependencies.md.',
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
 * The `dependencies` section of a policy document (a path, or a URL pinned by digest: src/instance/policies.ts),
 * read and checked by the policy loader. A policy without the section is POLICY_INVALID: `--policy` was given for it.
 */
export async function loadDepsPolicy(ref: string, o: { digest?: string } = {}): Promise<DepsPolicy> {
  const p = await readPolicySource(ref, o.digest !== undefined ? { digest: o.digest } : {});
  const section = policySection(parsePolicy(p.text, p.source), 'dependencies');
  if (section === undefined) throw new VouchError('POLICY_INVALID', `${p.source}: no dependencies section`);
  return parseDepsPolicy(section, p.source);
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
