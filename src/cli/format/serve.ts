/** `vouch serve`, for people: where it listens, where its trust documents are, and each service's URL. */
import type { ServeSummary } from '../commands/serve.ts';

export function formatServe(s: ServeSummary): string[] {
  return [
    `vouch serve: listening on ${s.url} (${s.storage})`,
    `  trusted root   ${s.trustedRoot}`,
    `  signing config ${s.signingConfig}`,
    `  CA ${s.urls.ca}  log ${s.urls.tlog}  TSA ${s.urls.tsa}  OIDC ${s.urls.oidc}`,
  ];
}
