/**
 * GitLab CI: no endpoint; the job's `id_tokens:` put a JWT in SIGSTORE_ID_TOKEN at start. The fake is the GitLab
 * instance as an issuer (JWKS at /oauth/discovery/keys, as gitlab.com serves it) that mints the pipeline token.
 * `ci_config_ref_uri` names the instance's host, as GitLab writes it: the fake's own, or `host` when the fake stands
 * in for an instance at another address (gitlab.com).
 */
import { type FakeIssuer, startIssuer } from './fake-issuer.ts';

export interface FakeGitLab extends FakeIssuer {
  /** The pipeline's claims (a push to main), changeable by tests. */
  claims: Record<string, unknown>;
  /** The job's environment with a fresh token for `aud`. */
  env(aud?: string): Promise<Record<string, string>>;
}

export async function startGitLab(options: { host?: string } = {}): Promise<FakeGitLab> {
  const fake = (await startIssuer({ jwksPath: '/oauth/discovery/keys' })) as FakeGitLab;
  const host = options.host ?? new URL(fake.base).host;
  fake.claims = {
    sub: 'project_path:group/app:ref_type:branch:ref:main',
    namespace_id: '11',
    namespace_path: 'group',
    project_id: '22',
    project_path: 'group/app',
    pipeline_id: '33',
    pipeline_source: 'push',
    job_id: '44',
    ref: 'main',
    ref_type: 'branch',
    ref_protected: 'true',
    sha: 'b'.repeat(40),
    runner_id: 5,
    runner_environment: 'gitlab-hosted',
    project_visibility: 'public',
    ci_config_ref_uri: `${host}/group/app//.gitlab-ci.yml@refs/heads/main`,
    ci_config_sha: 'b'.repeat(40),
  };
  fake.env = async (aud = 'sigstore') => ({
    GITLAB_CI: 'true',
    SIGSTORE_ID_TOKEN: await fake.mint({ ...fake.claims, aud }),
  });
  return fake;
}
