/** `vouch login`, `logout` and `whoami`, for people: who is signed in where, and what a signature would carry. */
import type { LoginSummary } from '../commands/login.ts';
import type { LogoutSummary } from '../commands/logout.ts';
import type { WhoamiSummary } from '../commands/whoami.ts';

export function formatLogin(r: LoginSummary): string[] {
  const lines = [`Logged in to ${r.instance} as ${r.identity}`, `  issuer   ${r.issuer}`];
  if (r.issuer !== r.tokenIssuer)
    lines.push(`           (signed in through ${r.tokenIssuer}; verifiers use ${r.issuer})`);
  lines.push(`  expires  ${r.expiresAt}`);
  return lines;
}

export function formatWhoami(r: WhoamiSummary): string[] {
  const lines = [
    `${r.identity}`,
    `  issuer   ${r.issuer}`,
    `  source   ${r.identitySource}`,
    `  instance ${r.instance}`,
  ];
  if (r.issuer !== r.tokenIssuer) lines.push(`  token    issued by ${r.tokenIssuer}`);
  if (r.expiresAt) lines.push(`  expires  ${r.expiresAt}`);
  return lines;
}

export function formatLogout(r: LogoutSummary): string[] {
  return [`Logged out of ${r.instance} (${r.removed} login${r.removed === 1 ? '' : 's'} removed)`];
}
