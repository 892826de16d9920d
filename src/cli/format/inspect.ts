/** `vouch inspect`, for people: a PE file's layout, its Authenticode signatures and their anomalies. */
import type { PeInspection, SignatureReport } from '../../artifact/pe/index.ts';
import { thousands } from '../../core/encoding.ts';
import type { InspectResult } from '../commands/inspect.ts';

export function formatInspect(r: InspectResult): string[] {
  switch (r.kind) {
    case 'pe':
      return formatPe(r);
  }
}

function formatPe(r: PeInspection): string[] {
  const lines = [`${r.path}: ${r.format} ${r.machine}, ${thousands(r.size)} bytes, ${r.sections.length} sections`];
  const t = r.certificateTable;
  if (!t) lines.push('  authenticode  not signed (no certificate table)');
  else {
    lines.push(
      `  cert table    offset ${t.offset}, ${thousands(t.size)} bytes, ${r.entries.length} ${r.entries.length === 1 ? 'entry' : 'entries'}`,
    );
    if (r.authenticode.signatures.length === 0) lines.push('  authenticode  no PKCS#7 signature entry');
  }
  for (const s of r.authenticode.signatures) lines.push(...formatSignature(s));
  if (r.anomalies.length === 0) lines.push('  anomalies     none');
  for (const a of r.anomalies) {
    lines.push(
      `  ${a.severity === 'refuse' ? 'ANOMALY' : 'note   '}       ${a.code} at offset ${a.offset} (${thousands(a.length)} bytes): ${a.message}`,
    );
  }
  return lines;
}

function formatSignature(s: SignatureReport): string[] {
  const digest =
    s.signedDigest === undefined
      ? 'image digest unknown'
      : `${s.digestAlgorithm} image digest ${s.digestMatches ? 'OK' : 'MISMATCH'} (${s.imageDigest})`;
  const out = [`  signature ${s.path.padEnd(4)}${digest}; PKCS#7 signature ${s.signatureValid ? 'valid' : 'INVALID'}`];
  if (s.signer) out.push(`    signer      ${s.signer.subject} (serial ${s.signer.serial}, until ${s.signer.notAfter})`);
  if (s.chain.length > 0) {
    const status =
      s.chainStatus === 'not-checked'
        ? 'not checked (no --authenticode-roots)'
        : s.chainStatus === 'verified'
          ? 'chains to --authenticode-roots'
          : 'does NOT chain to --authenticode-roots';
    out.push(`    chain       ${s.chain.map((c) => c.subject).join(' <- ')}: ${status}`);
  }
  for (const ts of s.timestamps) {
    const kind = ts.kind === 'rfc3161' ? 'RFC 3161' : 'countersignature';
    const by = ts.signer ? ` by ${ts.signer.subject}` : '';
    const chain =
      ts.chain === 'not-checked' ? '' : ts.chain === 'verified' ? ', chains to the roots' : ', does NOT chain';
    out.push(`    timestamp   ${ts.time ?? 'unknown time'} (${kind}${by}): ${ts.valid ? 'valid' : 'INVALID'}${chain}`);
  }
  if (s.timestamps.length === 0) out.push('    timestamp   none');
  for (const p of s.problems) out.push(`    problem     ${p}`);
  return out;
}
