/** Human-readable output of command results. `--json` bypasses this and prints the result objects as they are. */
import type { VouchError } from '../errors.ts';
import type { SignSummary } from '../workflow/sign.ts';

export function formatError(e: VouchError): string {
  const head = e.category === 'verification' ? `NOT VERIFIED (${e.code})` : `error (${e.code})`;
  return `vouch: ${head}: ${oneLine(e.message)}\n  hint: ${oneLine(e.hint)}\n`;
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
  if (r.bundlePath) lines.push(`  bundle   ${r.bundlePath}`);
  return `${lines.join('\n')}\n`;
}
