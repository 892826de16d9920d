/**
 * One realistic token per issuer type (claim names and shapes from each provider's documentation and published
 * samples), the issuer settings it needs, and the SAN and extensions the CA must put in its certificate. Shared by
 * the mapping, hostile-token and end-to-end tests and the CA benchmark, so they all speak about the same identities.
 */
import type { IdentityRules, IssuerType } from '../../src/core/identity-map.ts';

export interface TypeCase {
  type: IssuerType;
  /** Issuer path under the test IdP (Entra's must carry the tenant). */
  path: string;
  rules: Omit<IdentityRules, 'type'>;
  audience?: string;
  claims: Record<string, unknown>;
  /** The claim whose absence the type cannot map (a top-level claim name). */
  required: string;
  /** A claim that lands in the SAN, to carry a comma; and one that lands in an extension, to carry a newline. */
  sanClaim: string;
  extensionClaim: string;
  /** Signing algorithm the real provider uses. */
  alg: 'RS256' | 'ES384';
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export const TYPE_CASES: TypeCase[] = [
  {
    type: 'email',
    path: 'accounts',
    rules: {},
    claims: { sub: '110169484474386276334', email: 'alice@example.com', email_verified: true },
    required: 'email',
    sanClaim: 'email',
    extensionClaim: 'sub',
    alg: 'RS256',
  },
  {
    type: 'github-workflow',
    path: 'github',
    rules: {},
    claims: {
      sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
      repository: 'octo-org/octo-repo',
      repository_id: '74',
      repository_owner: 'octo-org',
      repository_owner_id: '65',
      repository_visibility: 'private',
      actor: 'octocat',
      workflow: 'Release',
      workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
      workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      job_workflow_ref: 'octo-org/shared/.github/workflows/build.yml@refs/tags/v2',
      job_workflow_sha: 'ffeeddccbbaa99887766554433221100ffeeddcc',
      ref: 'refs/heads/main',
      ref_type: 'branch',
      sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      event_name: 'push',
      run_id: '9876543210',
      run_attempt: '2',
      runner_environment: 'github-hosted',
      environment: 'production',
    },
    required: 'job_workflow_ref',
    sanClaim: 'job_workflow_ref',
    extensionClaim: 'workflow',
    alg: 'RS256',
  },
  {
    type: 'gitlab-pipeline',
    path: 'gitlab',
    rules: {},
    claims: {
      sub: 'project_path:acme/app:ref_type:tag:ref:v1.4.2',
      namespace_id: '72',
      namespace_path: 'acme',
      project_id: '20',
      project_path: 'acme/app',
      project_visibility: 'internal',
      pipeline_id: '1212',
      pipeline_source: 'push',
      job_id: '4242',
      ref: 'v1.4.2',
      ref_type: 'tag',
      ref_protected: 'true',
      runner_id: 1,
      runner_environment: 'self-hosted',
      sha: '0123456789abcdef0123456789abcdef01234567',
      ci_config_ref_uri: 'gitlab.acme.test/acme/app//.gitlab-ci.yml@refs/tags/v1.4.2',
      ci_config_sha: '0123456789abcdef0123456789abcdef01234567',
    },
    required: 'ci_config_ref_uri',
    sanClaim: 'ci_config_ref_uri',
    extensionClaim: 'pipeline_source',
    alg: 'RS256',
  },
  {
    type: 'buildkite-job',
    path: 'buildkite',
    rules: {},
    claims: {
      sub: 'organization:acme:pipeline:release:ref:refs/heads/main:commit:9f3182061f1e2cca4702c368cbc039b7dc9d4485:step:build',
      organization_slug: 'acme',
      pipeline_slug: 'release',
      build_number: 42,
      build_branch: 'main',
      build_commit: '9f3182061f1e2cca4702c368cbc039b7dc9d4485',
      build_source: 'webhook',
      step_key: 'build',
      job_id: '0184990a-477b-4fa8-9968-496074483cee',
      agent_id: '0184990a-4782-42b5-afc1-16715b10b8ff',
      runner_environment: 'buildkite-hosted',
    },
    required: 'organization_slug',
    sanClaim: 'pipeline_slug',
    extensionClaim: 'build_source',
    alg: 'RS256',
  },
  {
    type: 'circleci-job',
    path: 'org/bb1a5a3c-5ff0-4b8f-aa2b-0d5d1c2b7e41',
    rules: {},
    claims: {
      sub: 'org/bb1a5a3c-5ff0-4b8f-aa2b-0d5d1c2b7e41/project/5a2c87e6-0c0b-4d59-8f4e-7d6e41d2b0f2/user/c3f9',
      'oidc.circleci.com/project-id': '5a2c87e6-0c0b-4d59-8f4e-7d6e41d2b0f2',
      'oidc.circleci.com/org-id': 'bb1a5a3c-5ff0-4b8f-aa2b-0d5d1c2b7e41',
      'oidc.circleci.com/pipeline-id': '1d4c2b6e-8a31-4f0e-9d8e-2f6a3c5b7e90',
      'oidc.circleci.com/pipeline-definition-id': '8c0e2d3f-6b14-4a5e-9c7d-1e2f3a4b5c6d',
      'oidc.circleci.com/workflow-id': '6e0a9c1f-2b3d-4e5f-8a9b-0c1d2e3f4a5b',
      'oidc.circleci.com/job-id': '7f1b0d2e-3c4e-5f60-9bac-1d2e3f405162',
      'oidc.circleci.com/vcs-origin': 'github.com/acme/app',
      'oidc.circleci.com/vcs-ref': 'refs/heads/main',
      'oidc.circleci.com/ssh-rerun': false,
      'oidc.circleci.com/context-ids': ['a1', 'b2'],
    },
    required: 'oidc.circleci.com/project-id',
    sanClaim: 'oidc.circleci.com/pipeline-definition-id',
    extensionClaim: 'oidc.circleci.com/vcs-ref',
    alg: 'RS256',
  },
  {
    type: 'kubernetes',
    path: 'clusters/prod-eu',
    rules: {},
    claims: {
      sub: 'system:serviceaccount:release:signer',
      'kubernetes.io': {
        namespace: 'release',
        pod: { name: 'signer-7c9f', uid: '49ad3572-b3dd-43a6-8d77-5858d3660275' },
        serviceaccount: { name: 'signer', uid: 'f5720c1d-e152-4356-a897-11b07aff165d' },
      },
    },
    required: 'kubernetes.io',
    sanClaim: 'kubernetes.io',
    extensionClaim: 'sub',
    alg: 'RS256',
  },
  {
    type: 'spiffe',
    path: 'spire',
    rules: { spiffeTrustDomain: 'prod.acme.test' },
    claims: { sub: 'spiffe://prod.acme.test/ns/release/sa/signer' },
    required: 'sub',
    sanClaim: 'sub',
    extensionClaim: 'sub',
    alg: 'RS256',
  },
  {
    type: 'uri',
    path: 'uri-idp',
    rules: { subjectDomain: 'http://127.0.0.1' },
    claims: { sub: 'http://127.0.0.1/services/release-bot' },
    required: 'sub',
    sanClaim: 'sub',
    extensionClaim: 'sub',
    alg: 'RS256',
  },
  {
    type: 'username',
    path: 'username-idp',
    rules: { subjectDomain: '127.0.0.1' },
    claims: { sub: 'release-bot' },
    required: 'sub',
    sanClaim: 'sub',
    extensionClaim: 'sub',
    alg: 'RS256',
  },
  {
    type: 'aws-iam',
    path: 'aws',
    rules: {},
    claims: {
      sub: 'arn:aws:iam::123456789012:role/ReleaseSigner',
      jti: 'b7c1e1a2-7c55-4b8f-9d0e-3a2b1c0d9e8f',
      'https://sts.amazonaws.com/': {
        aws_account: '123456789012',
        source_region: 'eu-west-1',
        org_id: 'o-a1b2c3d4e5',
        ou_path: 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/',
        principal_tags: { team: 'release', env: 'prod' },
      },
    },
    required: 'sub',
    sanClaim: 'sub',
    extensionClaim: 'https://sts.amazonaws.com/',
    alg: 'ES384',
  },
  {
    type: 'azure-pipelines',
    path: '5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
    audience: 'api://AzureADTokenExchange',
    rules: {},
    claims: {
      sub: 'p://acme/Release Tools/app-release',
      org_id: '5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      prj_id: '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9',
      def_id: '17',
      rpo_id: '9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9',
      rpo_uri: 'https://dev.azure.com/acme/Release%20Tools/_git/app',
      rpo_ver: '3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09',
      rpo_ref: 'refs/heads/main',
      run_id: '20512',
    },
    required: 'def_id',
    sanClaim: 'def_id',
    extensionClaim: 'rpo_ref',
    alg: 'RS256',
  },
  {
    type: 'entra',
    path: `${TENANT}/v2.0`,
    audience: 'api://vouch-signing',
    rules: {},
    claims: {
      sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      tid: TENANT,
      oid: '00000000-0000-0000-66f3-3332eca7ea81',
      azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
      idtyp: 'app',
      xms_mirid:
        '/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/release/providers/Microsoft.ManagedIdentity/userAssignedIdentities/signer',
    },
    required: 'oid',
    sanClaim: 'xms_mirid',
    extensionClaim: 'azp',
    alg: 'RS256',
  },
];

export function typeCase(type: IssuerType): TypeCase {
  return TYPE_CASES.find((c) => c.type === type)!;
}
