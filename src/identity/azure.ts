/**
 * Azure workloads: a Microsoft Entra token for a configured application audience (the Application ID URI of the app
 * registration a `vouch serve` for that tenant accepts; VOUCH_AZURE_AUDIENCE, or the identity audience when it is not
 * `sigstore`, which Entra cannot issue for). Three sources, first present wins:
 *   - workload identity (AKS, or any federated credential): the projected token in AZURE_FEDERATED_TOKEN_FILE is the
 *     client assertion of an OAuth 2.0 client-credentials grant at
 *     {AZURE_AUTHORITY_HOST}{AZURE_TENANT_ID}/oauth2/v2.0/token for scope `{audience}/.default` (Microsoft identity
 *     platform, "client credentials flow" with a federated credential; RFC 7523 assertion). The grant is
 *     openid-client's; the assertion is the file's token, re-read each time since the kubelet rotates it;
 *   - App Service, Functions and Container Apps managed identity: GET $IDENTITY_ENDPOINT?resource=...&api-version=
 *     2019-08-01 with `X-IDENTITY-HEADER: $IDENTITY_HEADER`;
 *   - a VM's managed identity through IMDS: GET http://169.254.169.254/metadata/identity/oauth2/token
 *     ?api-version=2018-02-01&resource=... with `Metadata: true` (AZURE_POD_IDENTITY_AUTHORITY_HOST moves it, as for
 *     Microsoft's libraries). The managed-identity calls are single GETs with the shared deadline and cap.
 * AZURE_CLIENT_ID picks a user-assigned identity. The answer is an Entra access token (a JWT, `iss`
 * https://sts.windows.net/{tenant}/ or https://login.microsoftonline.com/{tenant}/v2.0).
 */

import { boundedFetch, fetchJson, isLoopback, vouchCause, withRetries } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import {
  type AmbientProvider,
  checkTokenText,
  type ProviderContext,
  SIGSTORE_AUDIENCE,
  tokenUnavailable,
} from './provider.ts';

const IMDS = 'http://169.254.169.254';
const AUTHORITY = 'https://login.microsoftonline.com/';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Azure VMs carry this chassis asset tag (Azure docs, "Detect if running in Azure VM"). */
const AZURE_ASSET_TAG = '7783-7084-3265-9085-8269-3286-77';

function audienceOf(ctx: ProviderContext): string | undefined {
  if (ctx.env.VOUCH_AZURE_AUDIENCE) return ctx.env.VOUCH_AZURE_AUDIENCE;
  return ctx.audience === SIGSTORE_AUDIENCE ? undefined : ctx.audience;
}

type Source = 'workload-identity' | 'app-service' | 'imds';

function sourceOf(ctx: ProviderContext): Source | undefined {
  const e = ctx.env;
  if (e.AZURE_FEDERATED_TOKEN_FILE && e.AZURE_CLIENT_ID && e.AZURE_TENANT_ID) return 'workload-identity';
  if (e.IDENTITY_ENDPOINT && e.IDENTITY_HEADER) return 'app-service';
  if (e.AZURE_POD_IDENTITY_AUTHORITY_HOST) return 'imds';
  return ctx.readFile('/sys/class/dmi/id/chassis_asset_tag')?.trim() === AZURE_ASSET_TAG ? 'imds' : undefined;
}

export const azure: AmbientProvider = {
  name: 'azure',
  ci: false,
  detect: (ctx) => audienceOf(ctx) !== undefined && sourceOf(ctx) !== undefined,
  async getToken(ctx) {
    const audience = audienceOf(ctx);
    if (audience === undefined) {
      throw tokenUnavailable(
        'Azure',
        'no Microsoft Entra application audience is configured',
        'Set VOUCH_AZURE_AUDIENCE to the Application ID URI (e.g. api://vouch-signing) of the app registration your `vouch serve` accepts.',
      );
    }
    const source = sourceOf(ctx) ?? 'imds';
    switch (source) {
      case 'workload-identity':
        return federated(ctx, audience);
      case 'app-service':
        return managedIdentity(ctx, appServiceUrl(ctx, audience), { 'x-identity-header': ctx.env.IDENTITY_HEADER! });
      case 'imds':
        return managedIdentity(ctx, imdsUrl(ctx, audience), { metadata: 'true' });
    }
  },
};

function imdsUrl(ctx: ProviderContext, resource: string): string {
  const base = (ctx.env.AZURE_POD_IDENTITY_AUTHORITY_HOST || IMDS).replace(/\/+$/, '');
  const q = new URLSearchParams({ 'api-version': '2018-02-01', resource });
  if (ctx.env.AZURE_CLIENT_ID) q.set('client_id', ctx.env.AZURE_CLIENT_ID);
  return `${base}/metadata/identity/oauth2/token?${q}`;
}

function appServiceUrl(ctx: ProviderContext, resource: string): string {
  let url: URL;
  try {
    url = new URL(ctx.env.IDENTITY_ENDPOINT!);
  } catch (e) {
    throw new VouchError('TOKEN_INVALID', 'IDENTITY_ENDPOINT is not a URL', { cause: e });
  }
  url.searchParams.set('api-version', '2019-08-01');
  url.searchParams.set('resource', resource);
  if (ctx.env.AZURE_CLIENT_ID) url.searchParams.set('client_id', ctx.env.AZURE_CLIENT_ID);
  return url.href;
}

async function managedIdentity(ctx: ProviderContext, url: string, headers: Record<string, string>): Promise<string> {
  return withRetries(ctx, async () => {
    let body: unknown;
    try {
      body = await fetchJson(url, 'the Azure managed identity endpoint', { headers, timeoutMs: ctx.timeoutMs });
    } catch (e) {
      // 400 "Identity not found": the VM or app has no managed identity (or not the one AZURE_CLIENT_ID names).
      const status = ((e as VouchError).details as { status?: number } | undefined)?.status;
      if (status === 400 || status === 404) {
        throw tokenUnavailable(
          'Azure',
          `the managed identity endpoint refused: ${(e as Error).message}`,
          'Assign a managed identity to the VM or app (and set AZURE_CLIENT_ID for a user-assigned one).',
        );
      }
      throw e;
    }
    return checkTokenText(
      (body as { access_token?: unknown } | null)?.access_token,
      'the Azure managed identity endpoint',
    );
  });
}

async function federated(ctx: ProviderContext, audience: string): Promise<string> {
  const e = ctx.env;
  const assertion = ctx.readFile(e.AZURE_FEDERATED_TOKEN_FILE!)?.trim();
  if (!assertion) {
    throw tokenUnavailable(
      'Azure workload identity',
      `AZURE_FEDERATED_TOKEN_FILE (${e.AZURE_FEDERATED_TOKEN_FILE!.slice(0, 200)}) is missing or empty`,
      'Label the pod azure.workload.identity/use: "true" and give its service account the client-id annotation.',
    );
  }
  const tenant = e.AZURE_TENANT_ID!;
  if (!/^[A-Za-z0-9.-]{1,100}$/.test(tenant))
    throw new VouchError('TOKEN_INVALID', 'AZURE_TENANT_ID is not a tenant id');
  const authority = new URL(e.AZURE_AUTHORITY_HOST || AUTHORITY);
  const base = authority.href.endsWith('/') ? authority.href : `${authority.href}/`;
  const client = await import('openid-client');
  const clientId = e.AZURE_CLIENT_ID!;
  // RFC 7523 section 2.2: the federated token is the client's authentication, sent as client_assertion.
  const assertionAuth: import('openid-client').ClientAuth = (_as, _client, body) => {
    body.set('client_id', clientId);
    body.set('client_assertion_type', ASSERTION_TYPE);
    body.set('client_assertion', assertion);
  };
  const config = new client.Configuration(
    { issuer: `${base}${tenant}/v2.0`, token_endpoint: `${base}${tenant}/oauth2/v2.0/token` },
    clientId,
    undefined,
    assertionAuth,
  );
  config.timeout = Math.ceil(ctx.timeoutMs / 1000);
  config[client.customFetch] = boundedFetch('Microsoft Entra ID', { timeoutMs: ctx.timeoutMs });
  if (isLoopback(authority)) client.allowInsecureRequests(config);
  try {
    const tokens = await client.clientCredentialsGrant(config, { scope: `${audience}/.default` });
    return checkTokenText(tokens.access_token, 'Microsoft Entra ID');
  } catch (err) {
    const ours = vouchCause(err);
    if (ours) throw ours;
    const error = (err as { error?: string }).error;
    const description = (err as { error_description?: string }).error_description ?? (err as Error).message;
    if (error !== undefined) {
      throw new VouchError(
        'TOKEN_INVALID',
        `Microsoft Entra ID refused the federated token: ${error}: ${String(description).slice(0, 200)}`,
        {
          cause: err,
          hint: 'Check the federated credential of the app registration (issuer, subject system:serviceaccount:NS:SA) and the audience.',
        },
      );
    }
    throw new VouchError('SERVICE_ERROR', `Microsoft Entra ID: ${String(description).slice(0, 200)}`, { cause: err });
  }
}
