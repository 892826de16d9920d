/**
 * Azure Pipelines: POST {SYSTEM_OIDCREQUESTURI}?api-version=7.1-preview.1[&serviceConnectionId=ID] with
 * `Authorization: Bearer SYSTEM_ACCESSTOKEN` answers `{"oidcToken": JWT}`; the issuer is
 * https://vstoken.dev.azure.com/{org-id} (here under the fake's origin) and the audience is always
 * api://AzureADTokenExchange.
 */
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export const AZURE_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const AZURE_DEVOPS_ORG = '0b1c2d3e-0000-4000-8000-00000000000a';

export interface FakeAzurePipelines extends FakeIssuer {
  env: Record<string, string>;
}

export async function startAzurePipelines(): Promise<FakeAzurePipelines> {
  const access = 'system-access-token';
  const fake = (await startIssuer({
    issuerPath: `/${AZURE_DEVOPS_ORG}`,
    routes: [
      async (req, res) => {
        if (
          req.method !== 'POST' ||
          req.url.pathname !== '/acme/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken'
        )
          return false;
        if (req.url.searchParams.get('api-version') !== '7.1-preview.1')
          return json(res, 400, { message: 'api-version' });
        if (req.headers.authorization !== `Bearer ${access}`) return json(res, 401, { message: 'Unauthorized' });
        return json(res, 200, {
          oidcToken: await fake.mint({
            aud: AZURE_EXCHANGE_AUDIENCE,
            sub: 'p://acme/Release Tools/app-release',
            org_id: AZURE_DEVOPS_ORG,
            prj_id: 'a1',
            def_id: '12',
            rpo_id: 'r1',
            rpo_uri: 'https://github.com/acme/app',
            rpo_ver: 'd'.repeat(40),
            rpo_ref: 'refs/heads/main',
            run_id: '345',
          }),
        });
      },
    ],
  })) as FakeAzurePipelines;
  fake.env = {
    TF_BUILD: 'True',
    SYSTEM_OIDCREQUESTURI: `${fake.base}/acme/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken`,
    SYSTEM_ACCESSTOKEN: access,
  };
  return fake;
}
