/**
 * `vouch deps`, for people: a summary line, then one line per problem with its code (src/cli/terminal.ts escapes what
 * registries and lockfiles put in names); and the report as SARIF 2.1.0 for code scanning.
 */

import type { Log } from 'sarif';
import { pathUri, sarifLog } from '../../core/sarif.ts';
import type { DepsReport, Problem } from '../../deps/types.ts';
import type { LockResult } from '../../deps/verify.ts';
import { ERROR_CODES } from '../../errors.ts';

const MAX_LISTED = 200;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function problemLines(problems: Problem[]): string[] {
  const width = Math.min(48, Math.max(...problems.map((p) => p.package.length), 0));
  const codeWidth = Math.max(...problems.map((p) => p.code.length), 0);
  return problems.slice(0, MAX_LISTED).map((p) => {
    const what = p.file !== undefined ? `${p.file}: ${p.message}` : p.message;
    return `    ${p.package.padEnd(width)}  ${p.code.padEnd(codeWidth)}  ${what}`;
  });
}

export function formatDepsReport(r: DepsReport): string[] {
  const s = r.summary;
  const parts = [`${s.integrityOk} integrity OK`, `${s.registrySigned} registry-signed`];
  if (s.signaturesUnchecked > 0) parts.push(`${s.signaturesUnchecked} unchecked (registry without keys)`);
  parts.push(`${s.withProvenance} with provenance (${s.fromOwnRepository} from their own repository)`);
  const lines = [`  ${plural(s.packages, 'package')}: ${parts.join(', ')}`];
  const notes: string[] = [];
  if (s.installedChecked > 0) notes.push(`${s.installedChecked} installed in node_modules and compared file by file`);
  if (s.provenanceUnavailable > 0) notes.push(`${s.provenanceUnavailable} with provenance the registry does not serve`);
  if (s.skipped > 0) notes.push(`${s.skipped} not from a registry, skipped`);
  if (notes.length > 0) lines.push(`  ${notes.join('; ')}`);
  const live = r.problems.filter((p) => !p.excepted);
  const accepted = r.problems.filter((p) => p.excepted);
  if (live.length > 0) {
    lines.push(`  ${plural(live.length, 'problem')}:`);
    lines.push(...problemLines(live));
    if (live.length > MAX_LISTED) lines.push(`    ... and ${live.length - MAX_LISTED} more (see --json)`);
  }
  if (accepted.length > 0) {
    lines.push(`  ${plural(accepted.length, 'problem')} accepted by policy exceptions:`);
    lines.push(
      ...problemLines(accepted).map(
        (l, i) => `${l}  (${accepted[i]!.excepted!.reason}, until ${accepted[i]!.excepted!.expires})`,
      ),
    );
  }
  for (const x of r.expiredExceptions) lines.push(`  policy exception for ${x.package} expired ${x.expires}`);
  lines.push(`  ${plural(r.requests, 'request')}, ${r.cacheHits} from the cache`);
  return lines;
}

export function formatDepsLock(r: LockResult): string[] {
  const lines = [
    r.written
      ? `Wrote ${r.path}: ${r.added.length} added, ${r.updated.length} updated, ${r.kept.length} kept, ${r.removed.length} removed`
      : `Did not write ${r.path}: a registry could not be checked`,
  ];
  if (r.differing.length > 0) {
    lines.push(
      `  ${plural(r.differing.length, 'package')} differ from the lock (accept with --update NAME): ${r.differing.join(', ')}`,
    );
  }
  const live = r.report.problems.filter((p) => !p.excepted);
  if (live.length > 0) {
    lines.push(`  ${plural(live.length, 'problem')}:`);
    lines.push(...problemLines(live));
  }
  return lines;
}

/** The report as SARIF 2.1.0: one rule per problem code, one result per problem, located in the lockfile. */
export function depsSarif(r: DepsReport): Log {
  const codes = [...new Set(r.problems.map((p) => p.code))].sort();
  return sarifLog({
    rules: codes.map((code) => ({ id: code, shortDescription: { text: ERROR_CODES[code][1] } })),
    results: r.problems.map((p) => ({
      ruleId: p.code,
      ruleIndex: codes.indexOf(p.code),
      level: p.excepted ? 'note' : ERROR_CODES[p.code][0] === 'verification' ? 'error' : 'warning',
      message: { text: `${p.package}: ${p.file !== undefined ? `${p.file}: ` : ''}${p.message}` },
      locations: [
        { physicalLocation: { artifactLocation: { uri: pathUri(p.file ?? r.lockfile.path), uriBaseId: '%SRCROOT%' } } },
      ],
      // An accepted problem stays visible, marked as accepted by the documented exception (§3.35 suppression).
      ...(p.excepted ? { suppressions: [{ kind: 'external' as const, justification: p.excepted.reason }] } : {}),
    })),
  });
}
