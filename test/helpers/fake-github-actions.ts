/**
 * GitHub Actions' token service: GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=AUD with `Authorization: bearer T`
 * answers `{"count":..., "value": JWT}` (RS256, claims of a push to main). `failFirst` answers that many 503s first
 * (the flakes cosign retries around).
 */
import { type FakeIssuer, json, startIssuer } from './fake-issuer.ts';

export interface FakeGitHubActions extends FakeIssuer {
  env: Record<string, string>;
  claims: Record<string, unknown>;
  /** Number of 503 answers still to give before a token. */
  failFirst: number;
}

const PATH = '/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/idtoken';

export async function startGitHubActions(): Promise<FakeGitHubActions> {
  const bearer = 'runner-request-token';
  const fake = (await startIssuer({
    routes: [
      async (req, res) => {
        if (req.url.pathname !== PATH) return false;
        if (fake.failFirst > 0) {
          fake.failFirst--;
          return json(res, 503, { message: 'Service Unavailable' });
        }
        if (req.headers.authorization !== `Bearer ${bearer}`) return json(res, 401, { message: 'Unauthorized' });
        const aud = req.url.searchParams.get('audience') ?? `https://github.com/octo-org`;
        return json(res, 200, { count: 1, value: await fake.mint({ ...fake.claims, aud }) });
      },
    ],
  })) as FakeGitHubActions;
  fake.failFirst = 0;
  fake.claims = {
    sub: 'repo:octo-org/app:ref:refs/heads/main',
    repository: 'octo-org/app',
    repository_id: '101',
    repository_owner: 'octo-org',
    repository_owner_id: '202',
    repository_visibility: 'public',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    sha: 'a'.repeat(40),
    workflow: 'release',
    workflow_ref: 'octo-org/app/.github/workflows/release.yml@refs/heads/main',
    workflow_sha: 'a'.repeat(40),
    job_workflow_ref: 'octo-org/app/.github/workflows/release.yml@refs/heads/main',
    job_workflow_sha: 'a'.repeat(40),
    event_name: 'push',
    run_id: '9001',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    actor: 'octocat',
  };
  fake.env = {
    GITHUB_ACTIONS: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: `${fake.base}${PATH}?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer,
  };
  return fake;
}
