/**
 * Buildkite's agent API: POST /v3/jobs/{job}/oidc/tokens with `Authorization: Token T` and `{"audience":...}`
 * answers `{"token": JWT}` (RS256, JWKS at /.well-known/jwks); errors are `{"message": ...}` with 4xx.
 */
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export interface FakeBuildkite extends FakeIssuer {
  env: Record<string, string>;
}

export async function startBuildkite(): Promise<FakeBuildkite> {
  const access = 'agent-access-token';
  const job = '0190-job';
  const fake = (await startIssuer({
    jwksPath: '/.well-known/jwks',
    routes: [
      async (req, res) => {
        if (req.method !== 'POST' || req.url.pathname !== `/v3/jobs/${job}/oidc/tokens`) return false;
        if (req.headers.authorization !== `Token ${access}`) return json(res, 401, { message: 'Unauthorized' });
        const { audience } = JSON.parse(req.body || '{}') as { audience?: string };
        const token = await fake.mint({
          aud: audience ?? fake.base,
          sub: 'organization:acme:pipeline:app:ref:refs/heads/main:commit:cafe:step:release',
          organization_slug: 'acme',
          pipeline_slug: 'app',
          build_number: 7,
          build_branch: 'main',
          build_commit: 'c'.repeat(40),
          build_source: 'webhook',
          step_key: 'release',
          job_id: job,
          agent_id: '0190-agent',
          runner_environment: 'buildkite-hosted',
        });
        return json(res, 201, { token });
      },
    ],
  })) as FakeBuildkite;
  fake.env = {
    BUILDKITE: 'true',
    BUILDKITE_JOB_ID: job,
    BUILDKITE_AGENT_ACCESS_TOKEN: access,
    BUILDKITE_AGENT_ENDPOINT: `${fake.base}/v3`,
  };
  return fake;
}
