/**
 * Evaluating a compiled policy over the signatures of one artifact. Each signature was verified on its own against
 * the trusted roots before (the verifier, with any identity accepted); here the policy decides who those verified
 * signers are worth: conditions and revocations first (a refused signature counts for nothing), then each rule,
 * counting distinct signers (./rules.ts). Pure and deterministic: the clock is an input. The result explains
 * itself: for each rule the signatures that met it, or for each signature why it did not.
 */
import { type ErrorCode, VouchError } from '../errors.ts';
import type { VerificationResult } from '../verify/types.ts';
import { signerKey } from './load.ts';
import { describeMatcher, matchValue } from './match.ts';
import { fillTerm, termsOf } from './rules.ts';
import type {
  ArtifactKind,
  ArtifactRule,
  CompiledPolicy,
  Conditions,
  PolicySigner,
  Rule,
  SourceLocation,
  ValueMatcher,
} from './types.ts';

/** One signature of the artifact after verification: what it proves, or why it proves nothing. */
export type SignatureOutcome =
  | {
      source: string;
      verified: true;
      result: VerificationResult;
      /** Names of the trusted roots it verifies against entirely. */
      roots: string[];
    }
  | { source: string; verified: false; error: { code: ErrorCode; message: string } };

export interface EvaluationContext {
  /** Epoch ms: "now", for `maxAgeDays`. */
  now: number;
  target: { kind: ArtifactKind; name: string };
  /**
   * Directories: the paths of the verified entries, to tell which path rules apply. Absent: every path rule of the
   * artifact applies (not knowing the entries never relaxes the policy).
   */
  paths?: Iterable<string>;
}

export interface SignatureReport {
  source: string;
  verified: boolean;
  /** Why it did not verify (tampered, another artifact, chain, malformed...). */
  error?: { code: ErrorCode; message: string };
  /** Who signed: `identity (issuer)` or `key sha256:...`. */
  signer?: string;
  /** The earliest time a verified log entry or timestamp proves the signature existed at (ISO 8601). */
  signedAt?: string;
  /** Why the policy's own conditions or revocations refuse it. */
  refused?: string[];
}

export interface RuleReport {
  id: string;
  /** The rule as a person reads it: `signer ci`, `allOf [2 of 2]`, `threshold [2 of 3]`. */
  rule: string;
  satisfied: boolean;
  /** Signatures that meet it (a signer rule), or that the chosen way to meet it uses (a combinator). */
  satisfiedBy?: string[];
  /** A signer rule that is not met: each signature and why it does not meet it. */
  why?: { signature: string; reasons: string[] }[];
  /** A combinator that is not met: how far it got. */
  note?: string;
  children?: RuleReport[];
  location?: SourceLocation;
  /** Directories: the path pattern whose entries this rule covers. */
  pattern?: string;
}

export interface PolicyEvaluation {
  satisfied: boolean;
  policy: { source: string; digest: string };
  /** The `artifacts` entry that applied, if any. */
  artifactRule?: string;
  /** The artifact's rule first, then each path rule that applies. */
  rules: RuleReport[];
  signatures: SignatureReport[];
}

interface Usable {
  index: number;
  source: string;
  key: string;
  result: VerificationResult;
  roots: string[];
  signedAt?: number;
}

const DAY = 86_400_000;

/** The `artifacts` entry for a target (the first that matches its kind and name), if any. */
export function artifactRuleFor(policy: CompiledPolicy, target: EvaluationContext['target']): ArtifactRule | undefined {
  return policy.artifacts.find(
    (a) => (a.kind === undefined || a.kind === target.kind) && (!a.name || a.name.re.test(target.name)),
  );
}

export function evaluatePolicy(
  policy: CompiledPolicy,
  outcomes: readonly SignatureOutcome[],
  ctx: EvaluationContext,
): PolicyEvaluation {
  const signatures: SignatureReport[] = [];
  const usable: Usable[] = [];
  outcomes.forEach((o, index) => {
    if (!o.verified) {
      signatures.push({ source: o.source, verified: false, error: o.error });
      return;
    }
    const u: Usable = { index, source: o.source, key: keyOf(o.result), result: o.result, roots: o.roots };
    const t = signedAt(o.result);
    if (t !== undefined) u.signedAt = t;
    const report: SignatureReport = { source: o.source, verified: true, signer: label(o.result) };
    if (t !== undefined) report.signedAt = new Date(t).toISOString();
    const refused = [
      ...(policy.conditions ? conditionFailures(policy.conditions, u, ctx.now) : []),
      ...revocations(policy, u),
    ];
    if (refused.length > 0) report.refused = refused;
    else usable.push(u);
    signatures.push(report);
  });

  // Which signatures meet each policy signer, computed once per signer.
  const memo = new Map<string, { matches: Usable[]; why: { signature: string; reasons: string[] }[] }>();
  const signerMatches = (name: string) => {
    let m = memo.get(name);
    if (!m) {
      const s = policy.signers.get(name)!;
      m = { matches: [], why: [] };
      for (const o of signatures) {
        if (!o.verified) {
          m.why.push({ signature: o.source, reasons: [`did not verify (${o.error!.code}): ${o.error!.message}`] });
        } else if (o.refused) m.why.push({ signature: o.source, reasons: o.refused });
      }
      for (const u of usable) {
        const reasons = signerFailures(s, u, ctx.now);
        if (reasons.length === 0) m.matches.push(u);
        else m.why.push({ signature: u.source, reasons });
      }
      memo.set(name, m);
    }
    return m;
  };
  const candidates = (name: string) => [...new Set(signerMatches(name).matches.map((u) => u.key))];

  const report = (rule: Rule, pattern?: string): RuleReport => {
    let filled: { term: string[]; keys: string[] } | undefined;
    for (const term of termsOf(rule)) {
      const keys = fillTerm(term, candidates);
      if (keys) {
        filled = { term, keys };
        break;
      }
    }
    const out: RuleReport = { id: rule.id, rule: describeRule(rule), satisfied: filled !== undefined };
    if (rule.location) out.location = rule.location;
    if (pattern !== undefined) out.pattern = pattern;
    if (rule.kind === 'signer') {
      const m = signerMatches(rule.signer);
      if (m.matches.length > 0) out.satisfiedBy = m.matches.map((u) => u.source);
      else out.why = m.why.length > 0 ? m.why : [{ signature: '(none)', reasons: ['no signature was found'] }];
      return out;
    }
    out.children = rule.of.map((c) => report(c));
    if (filled) {
      // The signatures of the chosen signers, for the slots they fill.
      const used = new Set<string>();
      filled.term.forEach((name, i) => {
        for (const u of signerMatches(name).matches) if (u.key === filled!.keys[i]) used.add(u.source);
      });
      out.satisfiedBy = [...used];
    } else {
      const met = out.children.filter((c) => c.satisfied).length;
      out.note =
        met >= rule.threshold
          ? `${met} of ${rule.of.length} are met, but only by counting one signer more than once (${rule.threshold} distinct signers needed)`
          : `${met} of ${rule.of.length} met, ${rule.threshold} needed`;
    }
    return out;
  };

  const entry = artifactRuleFor(policy, ctx.target);
  const top = entry?.require ?? policy.require;
  // A policy made for `vouch deps` alone says nothing about who signs artifacts: refused, never read as "anyone".
  if (!top) {
    throw new VouchError(
      'POLICY_INVALID',
      `${policy.source} requires no signer for this artifact (it holds only a dependencies section)`,
      { hint: 'Add signers and a require rule to verify artifacts with it; vouch deps --policy reads it as it is.' },
    );
  }
  const rules = [report(top)];
  if (entry && ctx.target.kind === 'directory') {
    const paths = ctx.paths === undefined ? undefined : [...ctx.paths];
    for (const p of entry.paths) {
      if (paths === undefined || paths.some((x) => p.re.test(x))) rules.push(report(p.require, p.pattern));
    }
  }
  const evaluation: PolicyEvaluation = {
    satisfied: rules.every((r) => r.satisfied),
    policy: { source: policy.source, digest: policy.digest },
    rules,
    signatures,
  };
  if (entry) evaluation.artifactRule = entry.id;
  return evaluation;
}

function describeRule(rule: Rule): string {
  switch (rule.kind) {
    case 'signer':
      return `signer ${rule.signer}`;
    case 'anyOf':
      return `anyOf [1 of ${rule.of.length}]`;
    case 'allOf':
      return `allOf [${rule.of.length} of ${rule.of.length}]`;
    case 'threshold':
      return `threshold [${rule.threshold} of ${rule.of.length}]`;
  }
}

/** The distinct-signer key: two certificates of one identity, or two signatures by one key, are one signer. */
function keyOf(r: VerificationResult): string {
  return r.signer.type === 'key' ? `key:${r.signer.fingerprint}` : signerKey(r.signer.issuer, r.signer.identity);
}

function label(r: VerificationResult): string {
  return r.signer.type === 'key' ? `key sha256:${r.signer.fingerprint}` : `${r.signer.identity} (${r.signer.issuer})`;
}

/** The earliest verified time: the signature provably existed then, so it was made no later. */
function signedAt(r: VerificationResult): number | undefined {
  let t: number | undefined;
  for (const s of r.timestamps) {
    const v = Date.parse(s.time);
    if (t === undefined || v < t) t = v;
  }
  return t;
}

const iso = (t: number) => new Date(t).toISOString();

function claim(u: Usable, primary: string, fallback: string): string | undefined {
  if (u.result.signer.type !== 'certificate') return undefined;
  const e = u.result.signer.extensions;
  return e[primary] ?? e[fallback];
}

function mismatch(what: string, value: string | undefined, m: ValueMatcher): string {
  return value === undefined
    ? `${what} is absent (required: ${describeMatcher(m)})`
    : `${what} is ${JSON.stringify(value)}, not ${describeMatcher(m)}`;
}

function conditionFailures(c: Conditions, u: Usable, now: number): string[] {
  const out: string[] = [];
  const claims: [keyof Conditions & ('trigger' | 'ref' | 'runner'), string, string][] = [
    ['trigger', 'buildTrigger', 'githubWorkflowTrigger'],
    ['ref', 'sourceRepositoryRef', 'githubWorkflowRef'],
    ['runner', 'runnerEnvironment', 'runnerEnvironment'],
  ];
  for (const [k, primary, fallback] of claims) {
    const m = c[k];
    if (!m) continue;
    if (u.result.signer.type === 'key') out.push(`condition ${k}: a key signature has no certificate claims`);
    else {
      const v = claim(u, primary, fallback);
      if (!matchValue(m, v)) out.push(`condition ${k}: ${mismatch(primary, v, m)}`);
    }
  }
  if (c.signedAfter !== undefined || c.signedBefore !== undefined || c.maxAgeDays !== undefined) {
    const t = u.signedAt;
    if (t === undefined) out.push('no verified signing time (no log entry or timestamp), required by a time condition');
    else {
      if (c.signedAfter !== undefined && t < c.signedAfter)
        out.push(`signed at ${iso(t)}, before ${iso(c.signedAfter)}`);
      if (c.signedBefore !== undefined && t > c.signedBefore)
        out.push(`signed at ${iso(t)}, after ${iso(c.signedBefore)}`);
      if (c.maxAgeDays !== undefined && now - t > c.maxAgeDays * DAY) {
        out.push(`signed at ${iso(t)}, more than ${c.maxAgeDays} days ago`);
      }
    }
  }
  return out;
}

function revocations(policy: CompiledPolicy, u: Usable): string[] {
  const out: string[] = [];
  const s = u.result.signer;
  for (const r of policy.revoked) {
    const hit =
      r.fingerprint !== undefined
        ? s.type === 'key' && s.fingerprint === r.fingerprint
        : s.type === 'certificate' &&
          matchValue(r.identity!, s.identity) &&
          (!r.issuer || matchValue(r.issuer, s.issuer));
    if (!hit) continue;
    // Made at or after the revocation, or not provably before it: refused.
    if (u.signedAt === undefined) {
      out.push(
        `revoked since ${iso(r.since)}${r.reason ? ` (${r.reason})` : ''}, and no verified time shows it was signed before`,
      );
    } else if (u.signedAt >= r.since) {
      out.push(`revoked since ${iso(r.since)}${r.reason ? ` (${r.reason})` : ''}; signed at ${iso(u.signedAt)}`);
    }
  }
  return out;
}

/** Why verified signature `u` does not meet policy signer `s` (empty: it does). */
function signerFailures(s: PolicySigner, u: Usable, now: number): string[] {
  const signer = u.result.signer;
  const out: string[] = [];
  if (s.kind === 'key') {
    if (signer.type !== 'key') return ['signed with a certificate (keyless), not a key'];
    if (signer.fingerprint !== s.fingerprint) out.push(`key sha256:${signer.fingerprint}, not sha256:${s.fingerprint}`);
  } else {
    if (signer.type !== 'certificate') return ['signed with a key, not a certificate (keyless)'];
    if (!matchValue(s.identity, signer.identity)) out.push(mismatch('identity', signer.identity, s.identity));
    if (!matchValue(s.issuer, signer.issuer)) out.push(mismatch('issuer', signer.issuer, s.issuer));
    for (const e of s.extensions) {
      const v = signer.extensions[e.name];
      if (!matchValue(e.matcher, v)) out.push(mismatch(`extension ${e.name}`, v, e.matcher));
    }
  }
  if (s.roots && !s.roots.some((r) => u.roots.includes(r))) {
    out.push(
      `verifies against ${u.roots.length > 0 ? u.roots.join(', ') : 'no named root'}, not ${s.roots.join(' or ')}`,
    );
  }
  if (s.conditions) out.push(...conditionFailures(s.conditions, u, now));
  return out;
}
