/**
 * SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), the one writer of vouch's code-scanning output:
 * a run of the `vouch` tool, one rule per stable error code (its hint as the description), one result per finding,
 * located by a path relative to the working folder (`%SRCROOT%`), as GitHub code scanning expects. The shapes are
 * the schema's own (@types/sarif).
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { Log, ReportingDescriptor, Result } from 'sarif';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

export interface SarifRule {
  id: string;
  description: string;
}

export interface SarifFinding {
  ruleId: string;
  level: 'error' | 'warning' | 'note';
  message: string;
  /** A file path (made relative to the working folder when inside it). */
  location: string;
  /** Accepted by a documented exception: the reason. */
  suppression?: string;
}

function uriOf(path: string, cwd: string): string {
  const rel = isAbsolute(path) ? relative(cwd, path) : path;
  const inside = !rel.startsWith('..') && !isAbsolute(rel);
  return encodeURI((inside ? rel : path).split(sep).join('/'));
}

export function sarifLog(input: { rules: SarifRule[]; results: SarifFinding[]; cwd?: string }): Log {
  const cwd = input.cwd ?? process.cwd();
  const rules: ReportingDescriptor[] = input.rules.map((r) => ({
    id: r.id,
    shortDescription: { text: r.description },
  }));
  const results: Result[] = input.results.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: input.rules.findIndex((r) => r.id === f.ruleId),
    level: f.level,
    message: { text: f.message },
    locations: [{ physicalLocation: { artifactLocation: { uri: uriOf(f.location, cwd), uriBaseId: '%SRCROOT%' } } }],
    ...(f.suppression !== undefined ? { suppressions: [{ kind: 'external', justification: f.suppression }] } : {}),
  }));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'vouch', rules } }, results }],
  };
}
