/**
 * Azure Pipelines: the job's OIDC endpoint mints a token (Azure DevOps REST, Distributedtask "Oidctoken - Create"):
 * POST $SYSTEM_OIDCREQUESTURI?api-version=7.1-preview.1[&serviceConnectionId=ID] with `Authorization: Bearer
 * $SYSTEM_ACCESSTOKEN`, answer `{"oidcToken": JWT}`. The audience is fixed by Azure DevOps
 * (`api://AzureADTokenExchange`); a CA that accepts these tokens is configured with that audience. SYSTEM_ACCESSTOKEN
 * is not in a script's environment unless the step maps it (`env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }`).
 */

import { fetchJson, withRetries } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { type AmbientProvider, checkTokenText, tokenUnavailable, truthy } from './provider.ts';

export const azurePipelines: AmbientProvider = {
  name: 'azure-pipelines',
  ci: true,
  detect: (ctx) => truthy(ctx.env.TF_BUILD),
  async getToken(ctx) {
    const { SYSTEM_OIDCREQUESTURI: requestUri, SYSTEM_ACCESSTOKEN: access } = ctx.env;
    if (!requestUri || !access) {
      throw tokenUnavailable(
        'Azure Pipelines',
        `the step has no ${requestUri ? 'SYSTEM_ACCESSTOKEN' : 'SYSTEM_OIDCREQUESTURI'}`,
        'Map the job token into the step: `env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }` (SYSTEM_OIDCREQUESTURI is set by the agent, version 3.x or later).',
      );
    }
    let url: URL;
    try {
      url = new URL(requestUri);
    } catch (e) {
      throw new VouchError('TOKEN_INVALID', 'SYSTEM_OIDCREQUESTURI is not a URL', { cause: e });
    }
    url.searchParams.set('api-version', '7.1-preview.1');
    // A service connection's federated identity, when the step runs under one (AzureCLI@2 and kin set it).
    const connection = ctx.env.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID;
    if (connection) url.searchParams.set('serviceConnectionId', connection);
    return withRetries(ctx, async () => {
      const body = await fetchJson(url.href, 'the Azure Pipelines OIDC endpoint', {
        method: 'POST',
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json', accept: 'application/json' },
        body: '{}',
        timeoutMs: ctx.timeoutMs,
      });
      return checkTokenText((body as { oidcToken?: unknown } | null)?.oidcToken, 'the Azure Pipelines OIDC endpoint');
    });
  },
};
