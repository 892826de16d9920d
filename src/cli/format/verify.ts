/** `vouch verify`, for people: "Verified OK", what was verified (its digest first), who signed, and when. */
import { describePeCheck } from '../../artifact/dir/pe.ts';
import { describeDirectory, describeExclusions } from '../../artifact/dir/verify.ts';
import type { VerifyOutcome } from '../../workflow/verify.ts';
import { formatPeRecord } from './pe.ts';

export function formatVerify(r: VerifyOutcome): string[] {
  const lines = [
    r.directory ? `Verified OK: ${r.target}: ${describeDirectory(r.directory)}` : `Verified OK: ${r.target}`,
  ];
  if (r.directory) {
    const d = r.directory;
    lines.push(`  excluded   ${describeExclusions(d.excluded)}`);
    lines.push(
      `  pe check   ${d.peCheck ? `at signing: ${describePeCheck(d.peCheck)}` : 'not recorded by the signer'}`,
    );
    if (d.peStrict) lines.push(`  pe strict  now: ${describePeCheck(d.peStrict)}`);
  }
  // An image is verified by digest: that (not the tag, which may move) is what to deploy, so it comes first.
  if (r.image) {
    lines.push(`  image      ${r.image.repository}@${r.image.digest}`);
    if (r.image.viaIndex) lines.push(`  signed as  index ${r.image.viaIndex}, which lists it`);
  }
  if (r.file) {
    lines.push(
      `  file       ${JSON.stringify(r.file.path)} of the signed directory (manifest ${r.file.manifestDigest})`,
    );
  }
  if (r.artifact) lines.push(`  artifact   ${r.artifact.digest}`);
  // An attestation says something about the artifact (provenance, an SBOM...): which statement it is matters.
  const predicateType = (r.statement?.payload as { predicateType?: unknown } | undefined)?.predicateType;
  if (typeof predicateType === 'string') lines.push(`  predicate  ${predicateType}`);
  if (r.signer.type === 'key') lines.push(`  signer     key sha256:${r.signer.fingerprint}`);
  else {
    const dev = r.signer.localDevelopmentIdentity ? ' [local development identity]' : '';
    lines.push(`  identity   ${r.signer.identity}${dev}`, `  issuer     ${r.signer.issuer}`);
  }
  for (const t of r.tlogEntries) {
    lines.push(`  log entry  index ${t.logIndex}${t.integratedTime ? ` integrated ${t.integratedTime}` : ''}`);
  }
  for (const t of r.timestamps) {
    lines.push(`  signed at  ${t.time} (${t.source === 'tsa' ? 'timestamp authority' : 'log'})`);
  }
  if (r.tlogEntries.length === 0 && r.timestamps.length === 0)
    lines.push('  signed at  unknown (no timestamp in bundle)');
  if (r.pe) lines.push(`  pe         ${formatPeRecord(r.pe)}`);
  return lines;
}
