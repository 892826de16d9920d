/** `vouch serve`, for people: where it listens, each service it runs with the URL clients are given, and its trust documents. */
import { SERVICES, type ServeSummary } from '../commands/serve.ts';

const LABELS: Record<(typeof SERVICES)[number], string> = {
  ca: 'CA',
  tlog: 'log',
  tsa: 'TSA',
  oidc: 'OIDC',
  tuf: 'TUF',
};

/** The listening summary for a person: only the services that run, each with the URL clients are given. */
export function formatServe(s: ServeSummary): string[] {
  const lines = [`vouch serve: listening on ${s.url} (${s.storage})`];
  for (const k of SERVICES) {
    const url = s.urls[k];
    if (url === undefined) continue;
    let line = `  ${LABELS[k].padEnd(5)} ${url}`;
    if (k === 'oidc' && s.issuer !== undefined && s.issuer !== url) line += `  (identities name ${s.issuer})`;
    if (k === 'tuf' && s.tuf) line += `  (pin ${s.tuf.root}, sha256 ${s.tuf.rootSha256})`;
    lines.push(line);
  }
  if (s.urls.login !== undefined) lines.push(`  login ${s.urls.login}  (people sign in here)`);
  lines.push(`  trusted root   ${s.trustedRoot}`, `  signing config ${s.signingConfig}`);
  return lines;
}
