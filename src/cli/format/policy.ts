/** Policy verification for people (a tree of rules, then the signatures) and as SARIF for dashboards. */
import { describePeCheck } from '../../artifact/dir/pe.ts';
import { pathUri } from '../../core/sarif.ts';
import type { VouchError } from '../../errors.ts';
import type { RuleReport } from '../../policy/evaluate.ts';
import { errorToSarif, toSarif } from '../../policy/sarif.ts';
import type { VerifyOutcome } from '../../workflow/verify.ts';
import type { PolicyVerifyFailure, PolicyVerifyOutcome } from '../../workflow/verify-policy.ts';
import { packageVersion } from '../run.ts';
import { formatPeRecord } from './pe.ts';

/** The rule tree: each rule met or not, by which signatures, and for each signature that does not count, why. */
export function formatPolicyOutcome(r: PolicyVerifyOutcome | PolicyVerifyFailure): string[] {
  const e = r.evaluation;
  const lines = [
    r.verified ? `Verified OK: ${r.target} meets the policy` : `NOT VERIFIED: ${r.target} does not meet the policy`,
  ];
  if (r.image) lines.push(`  image      ${r.image.repository}@${r.image.digest}`);
  if (r.artifact) lines.push(`  artifact   ${r.artifact.digest}`);
  if ('pe' in r && r.pe) lines.push(`  pe         ${formatPeRecord(r.pe)}`);
  if ('peStrict' in r && r.peStrict) lines.push(`  pe strict  now: ${describePeCheck(r.peStrict)}`);
  lines.push(`  policy     ${e.policy.source} (${e.policy.digest})${e.artifactRule ? `, ${e.artifactRule}` : ''}`);
  const tree = (rule: RuleReport, depth: number) => {
    const pad = '  '.repeat(depth + 1);
    const mark = rule.satisfied ? 'met    ' : 'NOT MET';
    const at = rule.location ? ` (line ${rule.location.line})` : '';
    const pattern = rule.pattern ? ` for ${rule.pattern}` : '';
    lines.push(`${pad}[${mark}] ${rule.id}: ${rule.rule}${pattern}${at}`);
    if (rule.satisfied && rule.satisfiedBy && !rule.children) {
      for (const s of rule.satisfiedBy) lines.push(`${pad}    by ${s}`);
    }
    if (rule.note) lines.push(`${pad}    ${rule.note}`);
    for (const w of rule.why ?? []) {
      if (w.reasons.length === 1) lines.push(`${pad}    ${w.signature}: ${w.reasons[0]}`);
      else lines.push(`${pad}    ${w.signature}:`, ...w.reasons.map((r) => `${pad}      - ${r}`));
    }
    for (const c of rule.children ?? []) tree(c, depth + 1);
  };
  lines.push('  rules');
  for (const rule of e.rules) tree(rule, 1);
  lines.push('  signatures');
  for (const s of e.signatures) {
    if (!s.verified) lines.push(`    ${s.source}: did not verify (${s.error!.code}): ${s.error!.message}`);
    else {
      lines.push(`    ${s.source}: ${s.signer}${s.signedAt ? `, signed at ${s.signedAt}` : ''}`);
      for (const why of s.refused ?? []) lines.push(`      refused: ${why}`);
    }
  }
  return lines;
}

/** SARIF 2.1.0 for a policy outcome (met or not), a plain verification, or a failure without a policy. */
export function sarifOf(r: PolicyVerifyOutcome | PolicyVerifyFailure | VerifyOutcome | VouchError): object {
  if ('evaluation' in r)
    return toSarif(r.evaluation, { artifactUri: artifactUri(r.target), toolVersion: packageVersion() });
  // A failure before any policy was evaluated: one result, named by its error code.
  if ('code' in r) return errorToSarif(r, packageVersion());
  return toSarif(
    { satisfied: true, policy: { source: 'the command line', digest: '' }, rules: [], signatures: [] },
    { artifactUri: artifactUri(r.target), toolVersion: packageVersion() },
  );
}

/** A target as a SARIF artifact location: a file's path relative to here, else the target as given. */
function artifactUri(target: string): string {
  const m = /^(?:file|dir):(.*)$/.exec(target);
  if (m) return pathUri(m[1]!);
  return target.replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/g, (c) => encodeURIComponent(c));
}

/** `vouch policy check`, for people. */
export function formatPolicyCheck(r: {
  source: string;
  digest: string;
  signers: { name: string; kind: string }[];
  rules: number;
  artifacts: number;
  dependencies: boolean;
}): string[] {
  const lines = [
    `Policy OK: ${r.source} (${r.digest})`,
    `  signers    ${r.signers.map((s) => `${s.name} (${s.kind})`).join(', ')}`,
    `  rules      ${r.rules}${r.artifacts ? `, ${r.artifacts} artifact entries` : ''}`,
  ];
  if (r.dependencies) lines.push('  dependencies section present (for vouch deps)');
  return lines;
}
