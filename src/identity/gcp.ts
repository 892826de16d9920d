/**
 * Google Cloud. Two ways to a Google-signed ID token (`iss` https://accounts.google.com, RS256):
 *   - the metadata server of the VM, GKE pod (workload identity), Cloud Run or Cloud Functions instance: GET
 *     http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity
 *     ?audience=AUD&format=full with `Metadata-Flavor: Google` (Google Cloud docs, "Verifying the identity of
 *     instances"); `format=full` adds the project, zone and instance. GCE_METADATA_HOST / GCE_METADATA_IP move it,
 *     as in Google's own libraries. It is one GET, written here with the shared deadline and byte cap because
 *     gcp-metadata waits without a deadline once it believes it runs on Google Cloud;
 *   - service-account impersonation, when GOOGLE_SERVICE_ACCOUNT_NAME names the account (the variable cosign and `id`
 *     read): the IAM Credentials API `generateIdToken` with `includeEmail: true` (without the `email` claim, an
 *     email-type CA cannot certify the account), authenticated by Application Default Credentials. That part is
 *     google-auth-library's (ADC discovery, user and service-account credentials, refresh), routed through the shared
 *     bounded fetch, under one deadline for the whole round. VOUCH_GCP_IAM_CREDENTIALS_URL moves the API (Private Service Connect, tests).
 */

import { boundedFetch, deadlineIn, httpRequest, vouchCause, withinDeadline, withRetries } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { type AmbientProvider, checkTokenText, type ProviderContext, tokenUnavailable } from './provider.ts';

const METADATA_HOST = 'metadata.google.internal';
const DMI_PRODUCT = '/sys/class/dmi/id/product_name';

/** Google Cloud runtimes say so in their environment; Compute Engine VMs (and GKE nodes) in their DMI product. */
function onGoogleCloud(ctx: ProviderContext): boolean {
  const e = ctx.env;
  if (e.GCE_METADATA_HOST || e.GCE_METADATA_IP) return true;
  if (e.K_SERVICE || e.CLOUD_RUN_JOB || e.FUNCTION_TARGET || e.GAE_SERVICE) return true;
  const product = ctx.readFile(DMI_PRODUCT)?.trim();
  return product === 'Google' || product === 'Google Compute Engine';
}

export const gcp: AmbientProvider = {
  name: 'gcp',
  ci: false,
  detect: (ctx) => Boolean(ctx.env.GOOGLE_SERVICE_ACCOUNT_NAME) || onGoogleCloud(ctx),
  async getToken(ctx) {
    const account = ctx.env.GOOGLE_SERVICE_ACCOUNT_NAME;
    // ADC reaches the metadata server through gcp-metadata, whose requests neither take vouch's fetch nor end at its
    // deadline (its probe gives up after about 3 s, its token fetch when gaxios does): the whole round is bounded.
    if (account) {
      return withinDeadline('Google Cloud IAM (impersonation)', deadlineIn(ctx.timeoutMs), () =>
        impersonate(ctx, account),
      );
    }
    if (!onGoogleCloud(ctx)) {
      throw tokenUnavailable(
        'Google Cloud',
        'this is not a Google Cloud runtime and GOOGLE_SERVICE_ACCOUNT_NAME is not set',
        'Set GOOGLE_SERVICE_ACCOUNT_NAME to a service account you may impersonate (roles/iam.serviceAccountOpenIdTokenCreator), with Application Default Credentials (`gcloud auth application-default login`).',
      );
    }
    return metadataIdentity(ctx);
  },
};

function metadataBase(env: NodeJS.ProcessEnv): string {
  const host = env.GCE_METADATA_HOST || env.GCE_METADATA_IP || METADATA_HOST;
  return `http://${host}/computeMetadata/v1`;
}

async function metadataIdentity(ctx: ProviderContext): Promise<string> {
  const params = new URLSearchParams({ audience: ctx.audience, format: 'full' });
  const url = `${metadataBase(ctx.env)}/instance/service-accounts/default/identity?${params}`;
  return withRetries(ctx, async () => {
    const { body, headers } = await httpRequest(url, 'the Google Cloud metadata server', {
      headers: { 'metadata-flavor': 'Google' },
      timeoutMs: ctx.timeoutMs,
    });
    // The metadata server marks its answers; anything else (a proxy, a captive portal) is not it.
    if (headers.get('metadata-flavor') !== 'Google') {
      throw new VouchError('SERVICE_ERROR', 'the Google Cloud metadata server answer lacks Metadata-Flavor: Google');
    }
    return checkTokenText(body.toString('utf8'), 'the Google Cloud metadata server');
  });
}

async function impersonate(ctx: ProviderContext, account: string): Promise<string> {
  if (!/^[^@\s/]+@[^@\s/]+$/.test(account) && !/^\d+$/.test(account)) {
    throw new VouchError('TOKEN_INVALID', 'GOOGLE_SERVICE_ACCOUNT_NAME is not a service account email or id');
  }
  // A CommonJS package: its module.exports is the namespace's `default`, both under Node and in the CLI bundle
  // (esbuild gives a lazily loaded CommonJS chunk a default export only, so named imports would be undefined there).
  const { GoogleAuth, Impersonated } = (await import('google-auth-library')).default;
  const transporterOptions = {
    fetchImplementation: boundedFetch('Google Cloud IAM', { timeoutMs: ctx.timeoutMs }),
    timeout: ctx.timeoutMs,
  };
  const endpoint = ctx.env.VOUCH_GCP_IAM_CREDENTIALS_URL?.replace(/\/+$/, '');
  try {
    // The account is named as `projects/-/serviceAccounts/EMAIL` (IAM Credentials API: "-" is the wildcard, the
    // project is the account's own), so no project id is needed. Given one, ADC does not go looking for it: that
    // search runs `gcloud config config-helper` (a Python start, ~3.5 s where gcloud is installed) and then asks the
    // metadata server, for a value nothing here reads. Which credentials ADC picks is unchanged.
    const auth = new GoogleAuth({
      projectId: '-',
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      clientOptions: { transporterOptions },
    });
    const source = await auth.getClient();
    const target = new Impersonated({
      sourceClient: source,
      targetPrincipal: account,
      targetScopes: ['https://www.googleapis.com/auth/cloud-platform'],
      delegates: [],
      transporterOptions,
      ...(endpoint ? { endpoint } : {}),
    });
    return checkTokenText(
      await target.fetchIdToken(ctx.audience, { includeEmail: true }),
      'the IAM Credentials API (generateIdToken)',
    );
  } catch (e) {
    if (e instanceof VouchError) throw e;
    const inner = vouchCause(e);
    if (inner) throw inner;
    const status = (e as { status?: number; response?: { status?: number } }).response?.status;
    const message = (e as Error).message?.split('\n')[0]?.slice(0, 200) ?? String(e);
    if (status === 401 || status === 403 || /default credentials/i.test(message)) {
      throw new VouchError('TOKEN_INVALID', `cannot impersonate ${account}: ${message}`, {
        cause: e,
        hint: 'Grant roles/iam.serviceAccountOpenIdTokenCreator on the service account to the credentials in use (`gcloud auth application-default login`, or the runtime account).',
      });
    }
    throw new VouchError(
      status === undefined ? 'SERVICE_UNAVAILABLE' : 'SERVICE_ERROR',
      `Google Cloud IAM: ${message}`,
      {
        cause: e,
      },
    );
  }
}
