/** `vouch trust show | import | export`: the trust store (src/instance/truststore.ts) as command functions. */
import { readCappedText } from '../../core/read.ts';
import { vouchHome } from '../../instance/home.ts';
import {
  exportTrustedRoot,
  importTrustedRoot,
  listTrustStore,
  MAX_TRUSTED_ROOT_BYTES,
  summarize,
  type TrustSummary,
} from '../../instance/truststore.ts';

export interface TrustOptions {
  home?: string;
}

export function trustShow(o: TrustOptions = {}): TrustSummary[] {
  return listTrustStore(o.home ?? vouchHome()).map(summarize);
}

export async function trustImport(
  file: string,
  o: TrustOptions & { name: string; force?: boolean; localIssuer?: string[] },
): Promise<TrustSummary> {
  const text = await readCappedText(file, { maxBytes: MAX_TRUSTED_ROOT_BYTES, code: 'TRUST_ROOT_INVALID' });
  return summarize(
    importTrustedRoot(o.home ?? vouchHome(), text, o.name, {
      ...(o.force !== undefined ? { force: o.force } : {}),
      ...(o.localIssuer !== undefined ? { localIssuers: o.localIssuer } : {}),
    }),
  );
}

/** The stored document, as imported (to stdout, or a file with the CLI's --out). */
export function trustExport(name: string, o: TrustOptions = {}): string {
  return exportTrustedRoot(o.home ?? vouchHome(), name);
}

/** Human-readable `trust show`. */
export function formatTrustShow(summaries: TrustSummary[]): string {
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
  return `${lines.join('\n')}\n`;
}

function validity(v: { validFrom?: string; validTo?: string }): string {
  if (!v.validFrom && !v.validTo) return '';
  return `  [${v.validFrom ?? '...'} .. ${v.validTo ?? 'now'}]`;
}
