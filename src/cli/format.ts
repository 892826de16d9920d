/** Human-readable output of command results. `--json` bypasses this and prints the result objects as they are. */

import type { PeRecord } from '../artifact/pe/index.ts';
import { thousands } from '../core/encoding.ts';
import type { VouchError } from '../errors.ts';
import type { SignSummary } from '../workflow/sign.ts';

/** At most this many differences of a directory are listed under its error line (all of them are in --json). */
const MAX_LISTED = 50;

export function formatError(e: VouchError, describe?: (d: never) => string): string {
  const head = e.category === 'verification' ? `NOT VERIFIED (${e.code})` : `error (${e.code})`;
  let out = `vouch: ${head}: ${oneLine(e.message)}\n  hint: ${oneLine(e.hint)}\n`;
  if (e.code === 'DIRECTORY_MISMATCH' && Array.isArray(e.details) && describe) {
    for (const d of e.details.slice(0, MAX_LISTED)) out += `  ${oneLine(describe(d as never))}\n`;
    if (e.details.length > MAX_LISTED) out += `  ... and ${e.details.length - MAX_LISTED} more (see --json)\n`;
  }
  return out;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?');
}

export function formatSign(r: SignSummary): string {
  const lines = [`Signed ${r.target}`, `  digest   ${r.digest}`];
  lines.push(
    r.signer.type === 'key'
      ? `  signer   key sha256:${r.signer.fingerprint}`
      : `  signer   ${r.signer.identity} (issuer ${r.signer.issuer})`,
  );
  if ('localDevelopmentIdentity' in r && r.localDevelopmentIdentity) {
    lines.push('           local development identity: proves nothing about a person outside this machine');
  }
  if (r.logIndex !== undefined) lines.push(`  log      index ${r.logIndex}`);
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
  }
  if (r.pe) lines.push(`  pe       ${formatPeRecord(r.pe)}`);
  if (r.bundlePath) lines.push(`  bundle   ${r.bundlePath}`);
  if (r.directory?.manifestPath) lines.push(`  manifest ${r.directory.manifestPath} (ship it with the bundle)`);
  if ('verifyCommands' in r) {
    const v = r.verifyCommands as { vouch: string; cosign?: string; trustedRoot?: string };
    lines.push('Verify it as this identity with:', `  ${v.vouch}`);
    if (v.cosign) lines.push(`  ${v.cosign}`);
    if (v.trustedRoot) lines.push(`  (customers first need this instance's trusted root: ${v.trustedRoot})`);
  }
  return `${lines.join('\n')}\n`;
}

/** One line for a checked PE file: its kind, its Authenticode state, its anomalies and an allowed failure. */
export function formatPeRecord(pe: PeRecord): string {
  const auth = pe.authenticode === 'unsigned' ? 'no Authenticode signature' : `Authenticode ${pe.authenticode}`;
  const anomalies =
    pe.anomalies.length === 0 ? 'no anomaly' : pe.anomalies.map((a) => `${a.code} at ${a.offset}`).join(', ');
  return `${pe.format}, ${auth}, ${anomalies}${pe.allowed ? ` (ALLOWED by --allow-pe-anomaly: ${pe.allowed})` : ''}`;
}
