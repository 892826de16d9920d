/**
 * Microsoft Entra ID and Azure managed identity:
 *   - the token endpoint POST /{tenant}/oauth2/v2.0/token, client_credentials with a federated client assertion
 *     (client_assertion_type jwt-bearer), scope `{resource}/.default` -> `{token_type, expires_in, access_token}`;
 *     errors `{error, error_description}` with 400/401;
 *   - IMDS GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=... with `Metadata: true` ->
 *     `{access_token, expires_in, expires_on, resource, token_type}` (numbers as strings);
 * issuing v2 access tokens (`iss` {base}/{tenant}/v2.0, RS256, `aud` the application, `oid`/`sub`/`tid`/`azp`).
 */
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export const TENANT = '72f988bf-0000-4000-8000-0000000000aa';
export const APP_AUDIENCE = 'api://vouch-signing';
export const CLIENT_ID = '0c0d0e0f-0000-4000-8000-0000000000bb';
/** The Azure resource id of the VM's user-assigned managed identity. */
export const MANAGED_IDENTITY =
  '/subscriptions/0b1f6471-0000-4000-8000-0000000000cc/resourcegroups/release/providers/Microsoft.ManagedIdentity/userAssignedIdentities/signer';

export interface FakeAzure extends FakeIssuer {
  /** Federated assertions the token endpoint accepts (the AKS issuer's tokens). */
  acceptAssertion: (assertion: string) => boolean;
}

export async function startAzure(): Promise<FakeAzure> {
  // An application's token (workload identity), or a managed identity's, which names its Azure resource in
  // `xms_mirid` and says `idtyp: app` (Microsoft identity platform, access token claims reference).
  const accessToken = (resource: string, via: 'workload' | 'vm') =>
    fake.mint({
      aud: resource,
      sub: `${via}-object-id`,
      oid: `${via}-object-id`,
      tid: TENANT,
      azp: CLIENT_ID,
      appid: CLIENT_ID,
      ver: '2.0',
      ...(via === 'vm' ? { idtyp: 'app', xms_mirid: MANAGED_IDENTITY } : {}),
    });
  const fake = (await startIssuer({
    issuerPath: `/${TENANT}/v2.0`,
    jwksPath: `/${TENANT}/discovery/v2.0/keys`,
    routes: [
      async (req, res) => {
        if (req.method !== 'POST' || req.url.pathname !== `/${TENANT}/oauth2/v2.0/token`) return false;
        const form = new URLSearchParams(req.body);
        if (form.get('grant_type') !== 'client_credentials') {
          return json(res, 400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003' });
        }
        if (
          form.get('client_id') !== CLIENT_ID ||
          form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' ||
          !fake.acceptAssertion(form.get('client_assertion') ?? '')
        ) {
          return json(res, 401, {
            error: 'invalid_client',
            error_description: 'AADSTS70021: No matching federated identity record found for presented assertion.',
          });
        }
        const scope = form.get('scope') ?? '';
        if (!scope.endsWith('/.default'))
          return json(res, 400, { error: 'invalid_scope', error_description: 'AADSTS1002012' });
        const resource = scope.slice(0, -'/.default'.length);
        return json(res, 200, {
          token_type: 'Bearer',
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: await accessToken(resource, 'workload'),
        });
      },
      async (req, res) => {
        if (req.url.pathname !== '/metadata/identity/oauth2/token') return false;
        if (req.headers.metadata !== 'true') {
          return json(res, 400, {
            error: 'invalid_request',
            error_description: 'Required metadata header not specified',
          });
        }
        const resource = req.url.searchParams.get('resource');
        if (req.url.searchParams.get('api-version') !== '2018-02-01' || !resource) {
          return json(res, 400, {
            error: 'invalid_request',
            error_description: 'Required audience parameter not specified',
          });
        }
        const now = Math.floor(Date.now() / 1000);
        return json(res, 200, {
          access_token: await accessToken(resource, 'vm'),
          client_id: CLIENT_ID,
          expires_in: '3599',
          expires_on: String(now + 3599),
          ext_expires_in: '3599',
          not_before: String(now),
          resource,
          token_type: 'Bearer',
        });
      },
    ],
  })) as FakeAzure;
  fake.acceptAssertion = () => true;
  return fake;
}
