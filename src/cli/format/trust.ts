/** `vouch trust show | import`, for people: each root's name, kind, and the authorities it trusts. */
import type { TrustSummary } from '../../instance/truststore.ts';

export function formatTrustShow(summaries: TrustSummary[]): string[] {
  const lines: string[] = [];
  for (const s of summaries) {
    lines.push(`${s.name} (${s.source}${s.localDevelopment ? ', local development identities only' : ''})`);
    for (const ca of s.certificateAuthorities) {
      const local = ca.localDevelopment ? ' (local development identities only)' : '';
      lines.push(`  CA   ${ca.subject}${validity(ca)}${local}`);
    }
    for (const log of s.tlogs) lines.push(`  log  ${log.logId}${log.baseUrl ? ` ${log.baseUrl}` : ''}${validity(log)}`);
    for (const tsa of s.timestampAuthorities) lines.push(`  TSA  ${tsa.subject}${validity(tsa)}`);
    if (s.localIssuers.length > 0) lines.push(`  local development issuers: ${s.localIssuers.join(', ')}`);
  }
  return lines;
}

export function formatTrustImport(s: TrustSummary & { sha256?: string; from?: string }): string[] {
  const from = s.from ? ` from ${s.from}` : '';
  return [`Imported${from}`, ...(s.sha256 ? [`  SHA-256 ${s.sha256}`] : []), ...formatTrustShow([s])];
}

function validity(v: { validFrom?: string; validTo?: string }): string {
  if (!v.validFrom && !v.validTo) return '';
  return `  [${v.validFrom ?? '...'} .. ${v.validTo ?? 'now'}]`;
}
