/**
 * Google Cloud: the metadata server (requires and answers `Metadata-Flavor: Google`; identity as text/plain JWT with
 * `format=full` claims; access tokens as JSON) and the IAM Credentials API (`POST
 * /v1/projects/-/serviceAccounts/{email}:generateIdToken` with a bearer access token, `{"audience","includeEmail"}`
 * -> `{"token"}`). One server, standing in for metadata.google.internal, iamcredentials.googleapis.com and, as the
 * issuer of the tokens, accounts.google.com (RS256).
 */
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export const VM_ACCOUNT = 'vm-runner@acme-prod.iam.gserviceaccount.com';
export const RELEASE_ACCOUNT = 'release-signer@acme-prod.iam.gserviceaccount.com';

export interface FakeGcp extends FakeIssuer {
  /** The workload's environment (GCE_METADATA_HOST), plus impersonation when `account` is given. */
  env(account?: string): Record<string, string>;
}

export async function startGcp(): Promise<FakeGcp> {
  const accessToken = 'ya29.fake-access-token';
  const flavor = { 'metadata-flavor': 'Google' };
  const idToken = (email: string, aud: string, full: boolean, withEmail: boolean) =>
    fake.mint({
      aud,
      azp: '1122334455',
      sub: email === VM_ACCOUNT ? '1122334455' : '5544332211',
      ...(withEmail ? { email, email_verified: true } : {}),
      ...(full
        ? {
            google: {
              compute_engine: {
                project_id: 'acme-prod',
                project_number: 123456,
                zone: 'europe-west1-b',
                instance_id: '77',
                instance_name: 'builder',
              },
            },
          }
        : {}),
    });
  const fake = (await startIssuer({
    jwksPath: '/oauth2/v3/certs',
    routes: [
      async (req, res) => {
        const p = req.url.pathname;
        if (!p.startsWith('/computeMetadata/')) return false;
        if (req.headers['metadata-flavor'] !== 'Google') {
          res.writeHead(403, { 'content-type': 'text/html', ...flavor }).end('Missing Metadata-Flavor:Google header.');
          return true;
        }
        if (p === '/computeMetadata/v1/instance' || p === '/computeMetadata/v1/project/project-id') {
          res.writeHead(200, { 'content-type': 'text/plain', ...flavor }).end('acme-prod');
          return true;
        }
        if (p === '/computeMetadata/v1/instance/service-accounts/default/identity') {
          const aud = req.url.searchParams.get('audience');
          if (!aud) {
            res
              .writeHead(400, { 'content-type': 'text/plain', ...flavor })
              .end('non-empty audience parameter required');
            return true;
          }
          const full = req.url.searchParams.get('format') === 'full';
          res
            .writeHead(200, { 'content-type': 'text/plain', ...flavor })
            .end(await idToken(VM_ACCOUNT, aud, full, true));
          return true;
        }
        if (p === '/computeMetadata/v1/instance/service-accounts/default/token') {
          return json(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' }, flavor);
        }
        if (p === '/computeMetadata/v1/instance/service-accounts/default/email') {
          res.writeHead(200, { 'content-type': 'text/plain', ...flavor }).end(VM_ACCOUNT);
          return true;
        }
        res.writeHead(404, { 'content-type': 'text/plain', ...flavor }).end('Not Found');
        return true;
      },
      async (req, res) => {
        const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateIdToken$/.exec(req.url.pathname);
        if (req.method !== 'POST' || !m) return false;
        if (req.headers.authorization !== `Bearer ${accessToken}`) {
          return json(res, 401, {
            error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' },
          });
        }
        const email = decodeURIComponent(m[1]!);
        if (email !== RELEASE_ACCOUNT) {
          return json(res, 403, {
            error: {
              code: 403,
              message: `Permission 'iam.serviceAccounts.getOpenIdToken' denied`,
              status: 'PERMISSION_DENIED',
            },
          });
        }
        const body = JSON.parse(req.body) as { audience?: string; includeEmail?: boolean };
        if (!body.audience)
          return json(res, 400, { error: { code: 400, message: 'audience required', status: 'INVALID_ARGUMENT' } });
        return json(res, 200, { token: await idToken(email, body.audience, false, body.includeEmail === true) });
      },
    ],
  })) as FakeGcp;
  const host = new URL(fake.base).host;
  fake.env = (account) => ({
    GCE_METADATA_HOST: host,
    ...(account ? { GOOGLE_SERVICE_ACCOUNT_NAME: account, VOUCH_GCP_IAM_CREDENTIALS_URL: fake.base } : {}),
  });
  return fake;
}
