/** `vouch sign`, for people: what was signed, by whom, with which proofs, and where the bundle is. */
import { describePeCheck } from '../../artifact/dir/pe.ts';
import { thousands } from '../../core/encoding.ts';
import type { SignSummary } from '../commands/sign.ts';
import { formatPeRecord } from './pe.ts';

export function formatSign(r: SignSummary): string[] {
  const lines = [`Signed ${r.target}`, `  digest   ${r.digest}`];
  if (r.signer.type === 'key') lines.push(`  signer   key sha256:${r.signer.fingerprint}`);
  else {
    lines.push(`  signer   ${r.signer.identity} (issuer ${r.signer.issuer})`);
    if (r.localDevelopmentIdentity) {
      lines.push('           local development identity: proves nothing about a person outside this machine');
    }
  }
  lines.push(`  proofs   ${describeProofs(r)}`);
  for (const i of r.images ?? []) {
    lines.push(
      `  image    ${i.repository}@${i.digest}${i.referrer ? ` -> referrer ${i.referrer.digest} (${i.via})` : ''}`,
    );
  }
  if (r.directory) {
    const d = r.directory;
    lines.push(
      `  covers   ${thousands(d.files)} files, ${thousands(d.symlinks)} symlinks, ${thousands(d.emptyDirectories)} empty directories (${d.format} manifest)`,
    );
    if (d.cached > 0)
      lines.push(`  hashed   ${thousands(d.hashed)} files, ${thousands(d.cached)} unchanged (incremental)`);
    const x = d.excluded;
    const rules = [...x.excludeNames, ...x.excludePaths, ...x.signatureFiles].map((t) => JSON.stringify(t));
    lines.push(`  excluded ${rules.length > 0 ? rules.join(', ') : 'nothing'}; ${thousands(x.found)} found`);
    lines.push(
      `  pe       ${describePeCheck(d.peCheck)}${d.format === 'vouch' ? '' : ' (not recorded: model-signing)'}`,
    );
  }
  if (r.pe) lines.push(`  pe       ${formatPeRecord(r.pe)}`);
  if (r.bundlePath) lines.push(`  bundle   ${r.bundlePath}`);
  if (r.directory?.manifestPath) lines.push(`  manifest ${r.directory.manifestPath} (ship it with the bundle)`);
  const v = r.verifyCommands;
  if (v) {
    lines.push('Verify it as this identity with:', `  ${v.vouch}`);
    if (v.cosign) lines.push(`  ${v.cosign}`);
    if (v.trustedRoot) lines.push(`  (customers first need this instance's trusted root: ${v.trustedRoot})`);
  }
  return lines;
}

/** Which proofs the bundle carries: what lets a verifier trust when it was signed, not only by whom. */
function describeProofs(r: SignSummary): string {
  const parts: string[] = [];
  if (r.proofs.includes('transparency-log')) parts.push(`transparency log entry (index ${r.logIndex})`);
  if (r.rfc3161Timestamps > 0) {
    parts.push(r.rfc3161Timestamps === 1 ? 'RFC 3161 timestamp' : `${r.rfc3161Timestamps} RFC 3161 timestamps`);
  }
  if (parts.length === 0) return 'none: signature only (not logged, not timestamped)';
  return `${parts.join(', ')}${r.witnessedBy ? ` from ${r.witnessedBy}` : ''}`;
}
