/**
 * GitHub Actions: the runner's token service mints a token for the audience asked (GitHub docs, "About security
 * hardening with OpenID Connect": GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with `Authorization: bearer
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{"value": JWT}`). Both variables exist only in jobs granted
 * `permissions: id-token: write`. The service fails now and then (sigstore/cosign#2991), so transient failures
 * (unreachable, 5xx, 429) are tried three times; a refusal (other 4xx) is final.
 */

import { fetchJson, withRetries } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { type AmbientProvider, checkTokenText, tokenUnavailable, truthy } from './provider.ts';

export const githubActions: AmbientProvider = {
  name: 'github-actions',
  ci: true,
  detect: (ctx) => truthy(ctx.env.GITHUB_ACTIONS),
  async getToken(ctx) {
    const { ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer } = ctx.env;
    if (!requestUrl || !bearer) {
      throw tokenUnavailable(
        'GitHub Actions',
        'the job has no OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN are not set)',
        'Grant the job `permissions: id-token: write` (and `contents: read`) in the workflow. Pull requests from forks get no token.',
      );
    }
    let url: URL;
    try {
      url = new URL(requestUrl);
    } catch (e) {
      throw new VouchError('TOKEN_INVALID', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', { cause: e });
    }
    url.searchParams.set('audience', ctx.audience);
    return withRetries(ctx, async () => {
      const body = await fetchJson(url.href, 'the GitHub Actions token service', {
        headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
        timeoutMs: ctx.timeoutMs,
      });
      return checkTokenText((body as { value?: unknown } | null)?.value, 'the GitHub Actions token service');
    });
  },
};
