/**
 * Buildkite: the agent API mints a token for the running job (Buildkite agent API, as `buildkite-agent oidc
 * request-token` uses it): POST $BUILDKITE_AGENT_ENDPOINT/jobs/$BUILDKITE_JOB_ID/oidc/tokens with `Authorization:
 * Token $BUILDKITE_AGENT_ACCESS_TOKEN` and `{"audience": AUD}`, answer `{"token": JWT}`. The endpoint defaults to
 * https://agent.buildkite.com/v3; agents behind a proxy set BUILDKITE_AGENT_ENDPOINT.
 */
import { fetchJson, withRetries } from '../core/http.ts';
import { type AmbientProvider, checkTokenText, tokenUnavailable, truthy } from './provider.ts';

const DEFAULT_ENDPOINT = 'https://agent.buildkite.com/v3';

export const buildkite: AmbientProvider = {
  name: 'buildkite',
  ci: true,
  detect: (ctx) => truthy(ctx.env.BUILDKITE),
  async getToken(ctx) {
    const { BUILDKITE_JOB_ID: job, BUILDKITE_AGENT_ACCESS_TOKEN: access } = ctx.env;
    if (!job || !access) {
      throw tokenUnavailable(
        'Buildkite',
        `the step has no ${job ? 'BUILDKITE_AGENT_ACCESS_TOKEN' : 'BUILDKITE_JOB_ID'}`,
        'Run vouch in a Buildkite command step (the agent sets BUILDKITE_JOB_ID and BUILDKITE_AGENT_ACCESS_TOKEN); a plugin or container must pass both through.',
      );
    }
    const endpoint = (ctx.env.BUILDKITE_AGENT_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
    const url = `${endpoint}/jobs/${encodeURIComponent(job)}/oidc/tokens`;
    return withRetries(ctx, async () => {
      const body = await fetchJson(url, 'the Buildkite agent API', {
        method: 'POST',
        headers: { authorization: `Token ${access}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ audience: ctx.audience }),
        timeoutMs: ctx.timeoutMs,
      });
      return checkTokenText((body as { token?: unknown } | null)?.token, 'the Buildkite agent API');
    });
  },
};
