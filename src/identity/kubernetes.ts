/**
 * Kubernetes pods (GKE, EKS, AKS, any cluster): a projected service-account token file (Kubernetes docs,
 * "Configure Service Accounts for Pods", serviceAccountToken volume projection) whose audience the pod spec sets.
 * The kubelet refreshes the file before it expires, so it is read each time. Files looked at, first match wins:
 *   1. VOUCH_KUBERNETES_TOKEN_FILE (a path the deployment chose),
 *   2. /var/run/sigstore/cosign/oidc-token (where cosign's filesystem provider reads, so existing specs work),
 *   3. AZURE_FEDERATED_TOKEN_FILE (AKS workload identity) and AWS_WEB_IDENTITY_TOKEN_FILE (EKS IRSA).
 * A file counts only if its token's audience includes the one asked for: the AKS and EKS files are usually minted for
 * `api://AzureADTokenExchange` or `sts.amazonaws.com`, and are then left to the azure and aws providers.
 */
import type { VouchError } from '../errors.ts';
import { type AmbientProvider, type ProviderContext, tokenUnavailable } from './provider.ts';
import { decodeIdentityToken } from './token.ts';

export const COSIGN_TOKEN_FILE = '/var/run/sigstore/cosign/oidc-token';

function candidates(ctx: ProviderContext): string[] {
  const e = ctx.env;
  return [
    e.VOUCH_KUBERNETES_TOKEN_FILE,
    COSIGN_TOKEN_FILE,
    e.AZURE_FEDERATED_TOKEN_FILE,
    e.AWS_WEB_IDENTITY_TOKEN_FILE,
  ].filter((p): p is string => typeof p === 'string' && p !== '');
}

/** The first candidate file holding a token for `ctx.audience`, with the reasons the others were passed over. */
function find(ctx: ProviderContext): { token?: string; passed: string[] } {
  const passed: string[] = [];
  for (const path of candidates(ctx)) {
    const text = ctx.readFile(path)?.trim();
    if (text === undefined || text === '') continue;
    try {
      const claims = decodeIdentityToken(text);
      if (claims.audience.includes(ctx.audience)) return { token: text, passed };
      passed.push(`${path} is for audience ${claims.audience.join(', ').slice(0, 100)}`);
    } catch (e) {
      passed.push(`${path}: ${(e as VouchError).message}`);
    }
  }
  return { passed };
}

export const kubernetes: AmbientProvider = {
  name: 'kubernetes',
  ci: false,
  detect: (ctx) => find(ctx).token !== undefined,
  async getToken(ctx) {
    const { token, passed } = find(ctx);
    if (token !== undefined) return token;
    throw tokenUnavailable(
      'Kubernetes',
      passed.length > 0
        ? `no projected token has audience ${ctx.audience} (${passed.join('; ')})`
        : 'no projected service-account token file was found',
      `Project a token with audience ${ctx.audience} (serviceAccountToken: {audience: ${ctx.audience}, expirationSeconds: 600}) at ${COSIGN_TOKEN_FILE} or at VOUCH_KUBERNETES_TOKEN_FILE.`,
    );
  },
};
