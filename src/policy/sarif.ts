/**
 * A policy evaluation as a SARIF 2.1.0 log (OASIS SARIF v2.1.0, §3.13 sarifLog, §3.27 result), for code-scanning
 * dashboards: one result per rule that is not met, located at the artifact (§3.28 location, §3.4 artifactLocation),
 * with the policy line that states the rule as a related location. A met policy is a run with no results. Pure: the
 * caller prints it.
 */
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { pathUri, sarifLog } from '../core/sarif.ts';
import type { PolicyEvaluation, RuleReport } from './evaluate.ts';

export interface SarifOptions {
  /** The artifact as a URI reference (a relative path, or the image reference). */
  artifactUri: string;
  toolVersion: string;
}

const INFORMATION_URI = 'https://github.com/vouch/vouch/blob/main/docs/policy.md';

/** A failure before any policy was evaluated (a bundle that does not verify, a bad flag): one result, its code. */
export function errorToSarif(e: { code: string; message: string; hint: string }, toolVersion: string): Log {
  return sarifLog({
    toolVersion,
    informationUri: INFORMATION_URI,
    rules: [{ id: e.code, shortDescription: { text: e.hint }, defaultConfiguration: { level: 'error' } }],
    results: [{ ruleId: e.code, ruleIndex: 0, level: 'error', kind: 'fail', message: { text: e.message } }],
  });
}

export function toSarif(e: PolicyEvaluation, o: SarifOptions): Log {
  const failed: RuleReport[] = [];
  const all: RuleReport[] = [];
  const walk = (r: RuleReport) => {
    all.push(r);
    if (!r.satisfied) failed.push(r);
    for (const c of r.children ?? []) walk(c);
  };
  for (const r of e.rules) walk(r);
  const ruleIds = [...new Set(all.map((r) => r.id))];
  const policyUri = /^https?:\/\//.test(e.policy.source) ? e.policy.source : pathUri(e.policy.source);
  const rules = ruleIds.map((id): ReportingDescriptor => {
    const r = all.find((x) => x.id === id)!;
    return {
      id,
      name: id.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, ''),
      shortDescription: { text: `Policy rule ${id}: ${r.rule}${r.pattern ? ` for ${r.pattern}` : ''}` },
      defaultConfiguration: { level: 'error' },
    };
  });
  const results = failed.map((r) => {
    const result: Result = {
      ruleId: r.id,
      ruleIndex: ruleIds.indexOf(r.id),
      level: 'error',
      kind: 'fail',
      message: { text: explain(r) },
      locations: [{ physicalLocation: { artifactLocation: { uri: o.artifactUri } } }],
    };
    if (r.location) {
      result.relatedLocations = [
        {
          id: 1,
          message: { text: 'the rule in the policy' },
          physicalLocation: {
            artifactLocation: { uri: policyUri },
            region: { startLine: r.location.line, startColumn: r.location.column },
          },
        },
      ];
    }
    return result;
  });
  return sarifLog({
    toolVersion: o.toolVersion,
    informationUri: INFORMATION_URI,
    rules,
    results,
    properties: { policyDigest: e.policy.digest, satisfied: e.satisfied },
  });
}

/** One paragraph: the rule, then why each signature does not meet it (or how far the combinator got). */
export function explain(r: RuleReport): string {
  const head = `${r.rule}${r.pattern ? ` (entries under ${r.pattern})` : ''} is not met`;
  if (r.note) return `${head}: ${r.note}.`;
  const why = (r.why ?? []).map((w) => `${w.signature}: ${w.reasons.join('; ')}`).join(' | ');
  return why ? `${head}. ${why}` : `${head}.`;
}
