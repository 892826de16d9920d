/**
 * `vouch inspect`, for people: a PE file's layout, its Authenticode signatures and their anomalies; or what a bundle
 * claims, under a NOT VERIFIED banner, with the `vouch verify` command that checks it.
 */
import type { PeInspection, SignatureReport } from '../../artifact/pe/index.ts';
import { thousands } from '../../core/encoding.ts';
import type { BundleReport } from '../../workflow/inspect-bundle.ts';
import type { InspectResult } from '../commands/inspect.ts';

export function formatInspect(r: InspectResult): string[] {
  switch (r.kind) {
    case 'pe':
      return formatPe(r);
    case 'bundle':
      return formatBundle(r);
  }
}

const SIGNS: Record<BundleReport['signs'], string> = {
  file: 'a file',
  directory: 'a directory',
  image: 'an image',
  attestation: 'an attestation',
  payload: 'a DSSE payload',
};

function formatBundle(r: BundleReport): string[] {
  const lines = [
    `${r.path}: Sigstore bundle v${r.version} signing ${SIGNS[r.signs]}`,
    '  NOT VERIFIED: what the bundle says about itself; `vouch verify` (below) checks it',
  ];
  if (r.digest) lines.push(`  digest       ${r.digest}`);
  if (r.payloadType && r.signs === 'payload') lines.push(`  payload      ${r.payloadType}`);
  if (r.predicateType) lines.push(`  predicate    ${r.predicateType}`);
  for (const s of r.subjects ?? []) lines.push(`  subject      ${s.name ? `${s.name} ` : ''}${s.digests.join(' ')}`);
  const signer = r.signer;
  if (signer.type === 'key') lines.push(`  signer       key${signer.hint ? ` (hint ${signer.hint})` : ' (no hint)'}`);
  else {
    const dev = signer.localDevelopment ? ' [local development CA]' : '';
    lines.push(`  identity     ${signer.identity ?? '(none)'}`, `  issuer       ${signer.issuer ?? '(none)'}`);
    for (const [name, value] of Object.entries(signer.extensions)) {
      if (name !== 'issuer' && name !== 'issuerV1') lines.push(`    ${name}: ${value}`);
    }
    lines.push(`  certificate  by ${signer.certificateIssuer}${dev}, ${signer.notBefore} .. ${signer.notAfter}`);
    if (signer.problem) lines.push(`  problem      ${signer.problem}`);
  }
  for (const t of r.tlogEntries) {
    const time = t.integratedTime ? `, integrated ${t.integratedTime}` : '';
    lines.push(`  log entry    index ${t.logIndex} (${t.kind}${time}; ${t.proof.join(' + ')}), log ${t.logId}`);
    lines.push(`               ${trustedBy(t.trustedBy, 'log')}`);
  }
  for (const t of r.timestamps) {
    lines.push(
      `  timestamp    ${t.time ?? 'unreadable'}${t.problem ? ` (${t.problem})` : ''}; ${trustedBy(t.trustedBy, 'TSA')}`,
    );
  }
  if (r.tlogEntries.length === 0 && r.timestamps.length === 0) lines.push('  signed at    no log entry, no timestamp');
  if (r.instance) lines.push(`  instance     ${r.instance}`);
  const keyOnly = r.signer.type === 'key' && r.tlogEntries.length === 0 && r.timestamps.length === 0;
  if (keyOnly) lines.push('  trust        the key alone (no authority to trust)');
  else if (r.trustedRoots.length > 0) lines.push(`  trust        named by trusted root ${r.trustedRoots.join(', ')}`);
  else lines.push('  trust        no trusted root of your store names its authorities');
  lines.push('', 'Verify it with:', `  ${r.verifyCommand.map(shellWord).join(' ')}`);
  if (!r.verifyCommand.includes('--trusted-root')) return lines;
  const from = r.instance ? `${r.instance}/.well-known/vouch/trusted_root.json` : 'URL';
  lines.push(`  (or first: vouch trust import ${from} --name NAME)`);
  return lines;
}

function trustedBy(names: string[], what: string): string {
  return names.length > 0 ? `${what} of trusted root ${names.join(', ')}` : `${what} in no trusted root`;
}

/** A word as a POSIX shell reads it: quoted when it holds anything but plain characters. */
function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
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
