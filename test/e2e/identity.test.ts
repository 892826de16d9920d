/**
 * End to end, one row per identity provider. The provider's fake (test/helpers/fake-*.ts: its real protocol on
 * 127.0.0.1) gives a job or workload its token the way the platform does; one `vouch serve --config` certifies them
 * all, each issuer entered the way a team would (the provider's preset where it takes a URL, else its issuer type,
 * in vouch's or Fulcio's spelling); the built CLI signs as a CI job would, from its environment alone (`vouch sign
 * FILE --instance URL`). Each row checks that
 *   - the certificate's SAN and extensions are the ones docs/identities.md's table gives for that type, written out
 *     below by hand from the fake's claims (not computed with the mapping under test);
 *   - `vouch whoami` said exactly that (identity, issuer, extensions) before signing, and `vouch sign` says it after;
 *   - `vouch verify` and the official @sigstore/verify accept the bundle for exactly that identity and issuer.
 * Then a person: `vouch login` (browser flow), whoami, a signature with the cached login although the serve also
 * runs its development issuer, logout. And a CI detected without its token fails at once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { BIN, errorCode, tempDir, vouchAsync } from '../helpers/cli.ts';
import { type FakeAwsSts, ROLE_ARN, startAwsSts } from '../helpers/fake-aws-sts.ts';
import {
  APP_AUDIENCE,
  CLIENT_ID,
  type FakeAzure,
  MANAGED_IDENTITY,
  startAzure,
  TENANT,
} from '../helpers/fake-azure.ts';
import {
  AZURE_DEVOPS_ORG,
  AZURE_EXCHANGE_AUDIENCE,
  type FakeAzurePipelines,
  startAzurePipelines,
} from '../helpers/fake-azure-pipelines.ts';
import { type FakeBuildkite, startBuildkite } from '../helpers/fake-buildkite.ts';
import { CIRCLECI_ORG, type FakeCircleCi, startCircleCi } from '../helpers/fake-circleci.ts';
import { type FakeDex, startDex } from '../helpers/fake-dex.ts';
import { type FakeGcp, RELEASE_ACCOUNT, startGcp, VM_ACCOUNT } from '../helpers/fake-gcp.ts';
import { type FakeGitHubActions, startGitHubActions } from '../helpers/fake-github-actions.ts';
import { type FakeGitLab, startGitLab } from '../helpers/fake-gitlab.ts';
import { startIssuer } from '../helpers/fake-issuer.ts';
import { type FakeKubernetes, startKubernetes } from '../helpers/fake-kubernetes.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

/** Variables of the machine running the tests that would change which provider is detected, or how. */
const CLEAN: Record<string, undefined> = Object.fromEntries(
  [
    'CI',
    'GITHUB_ACTIONS',
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    'GITLAB_CI',
    'SIGSTORE_ID_TOKEN',
    'BUILDKITE',
    'BUILDKITE_JOB_ID',
    'BUILDKITE_AGENT_ACCESS_TOKEN',
    'BUILDKITE_AGENT_ENDPOINT',
    'CIRCLECI',
    'TF_BUILD',
    'SYSTEM_OIDCREQUESTURI',
    'SYSTEM_ACCESSTOKEN',
    'AZURESUBSCRIPTION_SERVICE_CONNECTION_ID',
    'VOUCH_KUBERNETES_TOKEN_FILE',
    'GCE_METADATA_HOST',
    'GCE_METADATA_IP',
    'K_SERVICE',
    'CLOUD_RUN_JOB',
    'FUNCTION_TARGET',
    'GAE_SERVICE',
    'GOOGLE_SERVICE_ACCOUNT_NAME',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'VOUCH_GCP_IAM_CREDENTIALS_URL',
    'AWS_EXECUTION_ENV',
    'AWS_LAMBDA_FUNCTION_NAME',
    'CODEBUILD_BUILD_ID',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_ROLE_ARN',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_PROFILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_STS',
    'VOUCH_AWS_SIGNING_ALGORITHM',
    'AZURE_FEDERATED_TOKEN_FILE',
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_AUTHORITY_HOST',
    'IDENTITY_ENDPOINT',
    'IDENTITY_HEADER',
    'AZURE_POD_IDENTITY_AUTHORITY_HOST',
    'VOUCH_AZURE_AUDIENCE',
    'BROWSER',
  ].map((k) => [k, undefined]),
);

interface Fakes {
  github: FakeGitHubActions;
  gitlabCom: FakeGitLab;
  gitlabSelf: FakeGitLab;
  buildkite: FakeBuildkite;
  circleci: FakeCircleCi;
  azurePipelines: FakeAzurePipelines;
  kubernetes: FakeKubernetes;
  gcp: FakeGcp;
  aws: FakeAwsSts;
  azure: FakeAzure;
}

/** One provider: the job's environment, and what its certificate must say (docs/identities.md). */
interface Row {
  /** The job's or workload's environment, as the platform sets it. */
  env: Record<string, string>;
  identity: string;
  issuer: string;
  /** The identity extensions by name, besides issuerV1/issuer (the row's issuer, in every certificate). */
  extensions: Record<string, string>;
}

const sha = (c: string) => c.repeat(40);

/** The rows, by the `identitySource` each must be signed through. */
const ROWS: { name: string; source: string; row: (f: Fakes) => Promise<Row> }[] = [
  {
    name: 'GitHub Actions (github-workflow, a reusable workflow, a tag, an environment)',
    source: 'github-actions',
    row: async ({ github }) => {
      const identity = 'https://github.com/octo-org/shared/.github/workflows/build.yml@refs/tags/v2';
      return {
        env: { ...github.env, CI: 'true' },
        identity,
        issuer: github.issuer,
        extensions: {
          githubWorkflowTrigger: 'push',
          githubWorkflowSha: sha('1'),
          githubWorkflowName: 'Release',
          githubWorkflowRepository: 'octo-org/app',
          githubWorkflowRef: 'refs/tags/v1.2.3',
          buildSignerURI: identity,
          buildSignerDigest: sha('3'),
          runnerEnvironment: 'github-hosted',
          sourceRepositoryURI: 'https://github.com/octo-org/app',
          sourceRepositoryDigest: sha('1'),
          sourceRepositoryRef: 'refs/tags/v1.2.3',
          sourceRepositoryIdentifier: '101',
          sourceRepositoryOwnerURI: 'https://github.com/octo-org',
          sourceRepositoryOwnerIdentifier: '202',
          buildConfigURI: 'https://github.com/octo-org/app/.github/workflows/release.yml@refs/tags/v1.2.3',
          buildConfigDigest: sha('2'),
          buildTrigger: 'push',
          runInvocationURI: 'https://github.com/octo-org/app/actions/runs/9001/attempts/2',
          sourceRepositoryVisibilityAtSigning: 'private',
          deploymentEnvironment: 'production',
          subject: 'repo:octo-org/app:environment:production',
        },
      };
    },
  },
  {
    name: 'GitLab CI, gitlab.com (gitlab-pipeline, a branch)',
    source: 'gitlab',
    row: async ({ gitlabCom }) => {
      const identity = 'https://gitlab.com/group/app//.gitlab-ci.yml@refs/heads/main';
      return {
        env: { ...(await gitlabCom.env()), CI: 'true' },
        identity,
        issuer: gitlabCom.issuer,
        extensions: {
          buildSignerURI: identity,
          buildSignerDigest: sha('5'),
          runnerEnvironment: 'gitlab-hosted',
          sourceRepositoryURI: 'https://gitlab.com/group/app',
          sourceRepositoryDigest: sha('b'),
          sourceRepositoryRef: 'refs/heads/main',
          sourceRepositoryIdentifier: '22',
          sourceRepositoryOwnerURI: 'https://gitlab.com/group',
          sourceRepositoryOwnerIdentifier: '11',
          buildConfigURI: identity,
          buildConfigDigest: sha('5'),
          buildTrigger: 'push',
          runInvocationURI: 'https://gitlab.com/group/app/-/jobs/44',
          sourceRepositoryVisibilityAtSigning: 'public',
          subject: 'project_path:group/app:ref_type:branch:ref:main',
        },
      };
    },
  },
  {
    name: 'GitLab CI, self-managed (the gitlab preset with its URL, a tag)',
    source: 'gitlab',
    row: async ({ gitlabSelf }) => {
      const url = gitlabSelf.issuer;
      const identity = `https://${new URL(url).host}/platform/signer//.gitlab-ci.yml@refs/tags/v3.1.0`;
      return {
        env: { ...(await gitlabSelf.env()), CI: 'true' },
        identity,
        issuer: url,
        extensions: {
          buildSignerURI: identity,
          buildSignerDigest: sha('7'),
          runnerEnvironment: 'self-hosted',
          sourceRepositoryURI: `${url}/platform/signer`,
          sourceRepositoryDigest: sha('6'),
          sourceRepositoryRef: 'refs/tags/v3.1.0',
          sourceRepositoryIdentifier: '8',
          sourceRepositoryOwnerURI: `${url}/platform`,
          sourceRepositoryOwnerIdentifier: '7',
          buildConfigURI: identity,
          buildConfigDigest: sha('7'),
          buildTrigger: 'web',
          runInvocationURI: `${url}/platform/signer/-/jobs/99`,
          sourceRepositoryVisibilityAtSigning: 'internal',
          subject: 'project_path:platform/signer:ref_type:tag:ref:v3.1.0',
        },
      };
    },
  },
  {
    name: 'Buildkite (buildkite-job, in Fulcio’s ci-provider spelling)',
    source: 'buildkite',
    row: async ({ buildkite }) => ({
      env: { ...buildkite.env, CI: 'true' },
      identity: 'https://buildkite.com/acme/app',
      issuer: buildkite.issuer,
      extensions: {
        runnerEnvironment: 'buildkite-hosted',
        sourceRepositoryDigest: sha('c'),
        buildTrigger: 'webhook',
        runInvocationURI: 'https://buildkite.com/acme/app/builds/7#0190-job',
        subject: 'organization:acme:pipeline:app:ref:refs/heads/main:commit:cafe:step:release',
      },
    }),
  },
  {
    name: 'CircleCI (circleci-job, through the job’s circleci CLI)',
    source: 'circleci',
    row: async ({ circleci }) => {
      const identity = 'https://circleci.com/api/v2/projects/5e6f/pipeline-definitions/3a4b';
      return {
        env: { ...circleci.env, CI: 'true' },
        identity,
        issuer: circleci.issuer,
        extensions: {
          buildSignerURI: identity,
          runnerEnvironment: '""',
          sourceRepositoryURI: 'github.com/acme/app',
          sourceRepositoryRef: 'refs/heads/main',
          buildConfigURI: 'https://circleci.com/api/v2/pipeline/9c0d/config',
          runInvocationURI: 'https://app.circleci.com//workflow/6c7d/job/1e2f',
          subject: `org/${CIRCLECI_ORG}/project/5e6f/user/7a8b`,
        },
      };
    },
  },
  {
    name: 'Azure Pipelines (azure-pipelines, a project name with a space)',
    source: 'azure-pipelines',
    row: async ({ azurePipelines }) => {
      const identity = 'https://dev.azure.com/acme/Release%20Tools/_build?definitionId=12';
      return {
        env: azurePipelines.env,
        identity,
        issuer: azurePipelines.issuer,
        extensions: {
          buildSignerURI: identity,
          sourceRepositoryURI: 'https://github.com/acme/app',
          sourceRepositoryDigest: sha('d'),
          sourceRepositoryRef: 'refs/heads/main',
          sourceRepositoryIdentifier: 'r1',
          runInvocationURI: 'https://dev.azure.com/acme/Release%20Tools/_build/results?buildId=345',
          azureDevOpsOrganizationId: AZURE_DEVOPS_ORG,
          azureDevOpsProjectId: 'a1',
          azureDevOpsPipelineId: '12',
          subject: 'p://acme/Release Tools/app-release',
        },
      };
    },
  },
  {
    name: 'Kubernetes (a projected token file, the kubernetes preset)',
    source: 'kubernetes',
    row: async ({ kubernetes }) => ({
      env: { VOUCH_KUBERNETES_TOKEN_FILE: await kubernetes.project('sigstore', 'sigstore-token') },
      identity: 'https://kubernetes.io/namespaces/release/serviceaccounts/signer',
      issuer: kubernetes.issuer,
      extensions: { subject: 'system:serviceaccount:release:signer' },
    }),
  },
  {
    name: 'Google Cloud, metadata server (email)',
    source: 'gcp',
    row: async ({ gcp }) => ({
      env: gcp.env(),
      identity: VM_ACCOUNT,
      issuer: gcp.issuer,
      extensions: { subject: '1122334455' },
    }),
  },
  {
    name: 'Google Cloud, service-account impersonation (email)',
    source: 'gcp',
    row: async ({ gcp }) => ({
      env: gcp.env(RELEASE_ACCOUNT),
      identity: RELEASE_ACCOUNT,
      issuer: gcp.issuer,
      extensions: { subject: '5544332211' },
    }),
  },
  {
    name: 'AWS, STS GetWebIdentityToken through the SDK (aws-iam, the aws preset)',
    source: 'aws',
    row: async ({ aws }) => ({
      env: aws.env,
      identity: ROLE_ARN,
      issuer: aws.issuer,
      extensions: {
        awsAccount: '123456789012',
        awsOrganizationId: 'o-abc123',
        awsPrincipalTags: '{"team":"release"}',
        subject: ROLE_ARN,
      },
    }),
  },
  {
    name: 'Azure, workload identity file exchanged at Entra (entra, an application)',
    source: 'azure',
    row: async ({ azure, kubernetes }) => ({
      env: {
        AZURE_FEDERATED_TOKEN_FILE: await kubernetes.project(AZURE_EXCHANGE_AUDIENCE, 'azure-identity-token'),
        AZURE_CLIENT_ID: CLIENT_ID,
        AZURE_TENANT_ID: TENANT,
        AZURE_AUTHORITY_HOST: `${azure.base}/`,
        VOUCH_AZURE_AUDIENCE: APP_AUDIENCE,
      },
      identity: `https://login.microsoftonline.com/${TENANT}/applications/${CLIENT_ID}`,
      issuer: azure.issuer,
      extensions: {
        entraTenantId: TENANT,
        entraObjectId: 'workload-object-id',
        entraApplicationId: CLIENT_ID,
        subject: 'workload-object-id',
      },
    }),
  },
  {
    name: 'Azure, managed identity through IMDS (entra, a managed identity)',
    source: 'azure',
    row: async ({ azure }) => ({
      env: { AZURE_POD_IDENTITY_AUTHORITY_HOST: azure.base, VOUCH_AZURE_AUDIENCE: APP_AUDIENCE },
      identity: `https://management.azure.com${MANAGED_IDENTITY}`,
      issuer: azure.issuer,
      extensions: {
        entraTenantId: TENANT,
        entraObjectId: 'vm-object-id',
        entraApplicationId: CLIENT_ID,
        subject: 'vm-object-id',
      },
    }),
  },
];

/** sigstore-js matches a string identity as an unanchored regular expression: give it an anchored, escaped one. */
function exactly(s: string): RegExp {
  return new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

describe('identities end to end through vouch serve --config', () => {
  const tmp = tempDir('vouch-e2e-identity-');
  const at = (p: string) => join(tmp.path, p);
  let f: Fakes;
  let dex: FakeDex;
  let child: ChildProcess | undefined;
  let url = '';

  before(async () => {
    const [github, gitlabCom, gitlabSelf, buildkite, circleci, azurePipelines, kubernetes, gcp, aws, azure] =
      await Promise.all([
        startGitHubActions(),
        startGitLab({ host: 'gitlab.com' }),
        startGitLab(),
        startBuildkite(),
        startCircleCi(),
        startAzurePipelines(),
        startKubernetes(),
        startGcp(),
        startAwsSts(),
        startAzure(),
      ]);
    f = { github, gitlabCom, gitlabSelf, buildkite, circleci, azurePipelines, kubernetes, gcp, aws, azure };
    dex = await startDex();
    // Claims with distinct values where the table maps distinct claims, so a mapping that swaps two is caught.
    github.claims = {
      sub: 'repo:octo-org/app:environment:production',
      repository: 'octo-org/app',
      repository_id: '101',
      repository_owner: 'octo-org',
      repository_owner_id: '202',
      repository_visibility: 'private',
      actor: 'octocat',
      workflow: 'Release',
      workflow_ref: 'octo-org/app/.github/workflows/release.yml@refs/tags/v1.2.3',
      workflow_sha: sha('2'),
      job_workflow_ref: 'octo-org/shared/.github/workflows/build.yml@refs/tags/v2',
      job_workflow_sha: sha('3'),
      ref: 'refs/tags/v1.2.3',
      ref_type: 'tag',
      sha: sha('1'),
      event_name: 'push',
      run_id: '9001',
      run_attempt: '2',
      runner_environment: 'github-hosted',
      environment: 'production',
    };
    gitlabCom.claims.ci_config_sha = sha('5');
    const selfHost = new URL(gitlabSelf.base).host;
    gitlabSelf.claims = {
      ...gitlabSelf.claims,
      sub: 'project_path:platform/signer:ref_type:tag:ref:v3.1.0',
      namespace_id: '7',
      namespace_path: 'platform',
      project_id: '8',
      project_path: 'platform/signer',
      pipeline_source: 'web',
      job_id: '99',
      ref: 'v3.1.0',
      ref_type: 'tag',
      sha: sha('6'),
      runner_environment: 'self-hosted',
      project_visibility: 'internal',
      ci_config_ref_uri: `${selfHost}/platform/signer//.gitlab-ci.yml@refs/tags/v3.1.0`,
      ci_config_sha: sha('7'),
    };
    // The team's configuration: presets where they take the issuer, else the issuer type (the presets of GitHub,
    // gitlab.com, Buildkite, CircleCI, Azure Pipelines, Google and Microsoft name the real services' URLs).
    writeFileSync(
      at('serve.yaml'),
      stringify({
        'allow-insecure-loopback-issuers': true,
        presets: [
          { name: 'gitlab', url: gitlabSelf.issuer },
          { name: 'kubernetes', issuer: kubernetes.issuer },
          { name: 'aws', issuer: aws.issuer },
        ],
        'oidc-issuers': {
          [github.issuer]: { type: 'github-workflow' },
          [gitlabCom.issuer]: { type: 'gitlab-pipeline', 'base-url': 'https://gitlab.com' },
          [buildkite.issuer]: {
            'issuer-url': buildkite.issuer,
            'client-id': 'sigstore',
            type: 'ci-provider',
            'ci-provider': 'buildkite-job',
          },
          [circleci.issuer]: { type: 'circleci-job' },
          [azurePipelines.issuer]: { type: 'azure-pipelines', audience: AZURE_EXCHANGE_AUDIENCE },
          [gcp.issuer]: { type: 'email' },
          [azure.issuer]: { type: 'entra', audience: APP_AUDIENCE },
          [dex.issuer]: { type: 'email' },
        },
      }),
    );
    // Default services: on loopback that includes the development issuer at /oidc, which a person's cached login
    // must win over.
    child = spawn(
      process.execPath,
      [BIN, 'serve', '--config', at('serve.yaml'), '--data', at('serve'), '--port', '0', '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const started = child;
    let err = '';
    started.stderr!.on('data', (d) => {
      err += d;
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      started.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
      });
      started.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    mkdirSync(at('gcloud'));
    writeFileSync(at('app.exe'), 'MZ release built on a VM');
    // A "browser" (BROWSER is honoured as xdg-open does) that follows the sign-in URL back to the loopback listener.
    writeFileSync(
      at('browser.mjs'),
      `#!${process.execPath}\nconst r = await fetch(process.argv[2], { redirect: 'manual' });\nawait fetch(r.headers.get('location'));\n`,
    );
    chmodSync(at('browser.mjs'), 0o755);
  });

  after(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    await Promise.all([...Object.values(f ?? {}).map((x) => x.close()), dex?.close()]);
    tmp.dispose();
  });

  const trustedRoot = () => at('serve/trusted_root.json');

  /** The environment of a job: the machine's cleaned of any provider, then what the platform sets. */
  const jobEnv = (home: string, env: Record<string, string>) => ({
    ...CLEAN,
    // No Application Default Credentials file of the machine's user: Google rows authenticate as the workload.
    CLOUDSDK_CONFIG: at('gcloud'),
    VOUCH_HOME: at(home),
    ...env,
  });

  async function verifyBoth(file: string, bundle: string, identity: string, issuer: string) {
    const r = await vouchAsync(
      [
        'verify',
        file,
        '--bundle',
        bundle,
        '--trusted-root',
        trustedRoot(),
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        '--json',
      ],
      { env: { VOUCH_HOME: at('customer') } },
    );
    assert.equal(r.status, 0, r.stderr);
    const verdict = sigstoreJsVerify({
      trustedRootJson: readFileSync(trustedRoot(), 'utf8'),
      ctlogThreshold: 0,
      bundleJson: readFileSync(bundle, 'utf8'),
      artifact: readFileSync(file),
      identity: exactly(identity),
      issuer,
    });
    assert.deepEqual(verdict, { ok: true });
    return (r.json() as { signer: { identity: string; issuer: string; extensions: Record<string, string> } }).signer;
  }

  for (const [n, spec] of ROWS.entries()) {
    it(`${spec.name}: whoami, sign, then vouch verify and @sigstore/verify, as docs/identities.md maps it`, async () => {
      const row = await spec.row(f);
      const env = jobEnv(`home-${n}`, row.env);
      const expected = { identity: row.identity, issuer: row.issuer };
      const extensions = { ...row.extensions, issuerV1: row.issuer, issuer: row.issuer };

      const who = await vouchAsync(['whoami', '--instance', url, '--json'], { env });
      assert.equal(who.status, 0, who.stderr);
      const w = who.json() as { identitySource: string; identity: string; issuer: string; extensions: object };
      assert.deepEqual(
        { source: w.identitySource, identity: w.identity, issuer: w.issuer, extensions: w.extensions },
        { source: spec.source, ...expected, extensions },
      );

      const file = at(`artifact-${n}.bin`);
      writeFileSync(file, `release ${n}`);
      const signed = await vouchAsync(['sign', file, '--instance', url, '--json'], { env });
      assert.equal(signed.status, 0, signed.stderr);
      const s = signed.json() as {
        identitySource: string;
        identity: string;
        issuer: string;
        certificate: { extensions: Record<string, string> };
        bundle: string;
      };
      assert.deepEqual(
        { source: s.identitySource, identity: s.identity, issuer: s.issuer, extensions: s.certificate.extensions },
        { source: spec.source, ...expected, extensions },
      );

      const signer = await verifyBoth(file, `${file}.sigstore.json`, row.identity, row.issuer);
      assert.deepEqual(
        { identity: signer.identity, issuer: signer.issuer, extensions: signer.extensions },
        { ...expected, extensions },
      );
    });
  }

  it('the printed verify command is the one that verifies', async () => {
    const r = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('gcp.json')], {
      env: jobEnv('home-gcp', f.gcp.env()),
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.trim().startsWith('vouch verify '))!;
    assert.ok(line, r.stdout);
    assert.ok(line.includes(`--certificate-identity ${VM_ACCOUNT}`), line);
    const args = line.trim().split(/\s+/).slice(1);
    const v = await vouchAsync([...args, '--trusted-root', trustedRoot()], { env: { VOUCH_HOME: at('customer') } });
    assert.equal(v.status, 0, v.stderr);
  });

  it('a person: vouch login (browser flow), whoami, sign with the cached login over the dev issuer, logout', async () => {
    const env = jobEnv('home-alice', { BROWSER: at('browser.mjs') });
    // Before logging in, this serve's development issuer is what a person here would sign with.
    const before = await vouchAsync(['whoami', '--instance', url, '--json'], { env });
    assert.equal(before.status, 0, before.stderr);
    assert.equal((before.json() as { identitySource: string }).identitySource, 'local-issuer');

    const login = await vouchAsync(['login', '--instance', url, '--oidc-issuer', dex.issuer, '--json'], { env });
    assert.equal(login.status, 0, login.stderr);
    const l = login.json() as { identity: string; issuer: string; flow: string };
    assert.deepEqual([l.identity, l.issuer, l.flow], ['alice@example.com', dex.issuer, 'browser']);
    const [file] = readdirSync(at('home-alice/logins'));
    assert.equal(statSync(at(`home-alice/logins/${file}`)).mode & 0o777, 0o600);

    const who = await vouchAsync(['whoami', '--instance', url, '--json'], { env });
    assert.equal(who.status, 0, who.stderr);
    const w = who.json() as { identitySource: string; identity: string; issuer: string };
    assert.deepEqual([w.identitySource, w.identity, w.issuer], ['cached-login', 'alice@example.com', dex.issuer]);

    writeFileSync(at('alice.bin'), 'signed by a person');
    const sign = await vouchAsync(['sign', at('alice.bin'), '--instance', url, '--json'], { env });
    assert.equal(sign.status, 0, sign.stderr);
    const s = sign.json() as { identitySource: string; identity: string; issuer: string };
    assert.deepEqual([s.identitySource, s.identity, s.issuer], ['cached-login', 'alice@example.com', dex.issuer]);
    await verifyBoth(at('alice.bin'), at('alice.bin.sigstore.json'), 'alice@example.com', dex.issuer);

    const out = await vouchAsync(['logout', '--instance', url, '--json'], { env });
    assert.equal(out.status, 0, out.stderr);
    assert.equal((out.json() as { removed: number }).removed, 1);
    const afterLogout = await vouchAsync(['whoami', '--instance', url, '--json'], { env });
    assert.equal((afterLogout.json() as { identitySource: string }).identitySource, 'local-issuer');
  });

  it('a login at an issuer this CA does not accept is refused and not kept', async () => {
    const elsewhere = await startDex();
    try {
      const env = jobEnv('home-bob', { BROWSER: at('browser.mjs') });
      const login = await vouchAsync(['login', '--instance', url, '--oidc-issuer', elsewhere.issuer], { env });
      assert.deepEqual([login.status, errorCode(login.stderr)], [2, 'TOKEN_INVALID'], login.stderr);
      assert.deepEqual(existsSync(at('home-bob/logins')) ? readdirSync(at('home-bob/logins')) : [], []);
    } finally {
      await elsewhere.close();
    }
  });

  it('whoami refuses a token where signing would, for the same reason', async () => {
    const stranger = await startIssuer();
    try {
      const rows: [string, string][] = [
        [
          'an issuer this CA does not list',
          await stranger.mint({ aud: 'sigstore', sub: '1', email: 'a@example.com', email_verified: true }),
        ],
        [
          'a listed issuer, another audience',
          await f.gcp.mint({ aud: 'https://example.com', sub: '1', email: VM_ACCOUNT, email_verified: true }),
        ],
        ['a GitHub token without the claims the type maps', await f.github.mint({ aud: 'sigstore', sub: 'repo:a/b' })],
      ];
      for (const [name, token] of rows) {
        const env = jobEnv('home-refused', {});
        const who = await vouchAsync(['whoami', '--instance', url, '--identity-token', token], { env });
        assert.deepEqual([who.status, errorCode(who.stderr)], [2, 'TOKEN_INVALID'], `whoami: ${name}: ${who.stderr}`);
        const sign = await vouchAsync(
          ['sign', at('app.exe'), '--instance', url, '--identity-token', token, '--bundle', at('refused.json')],
          { env },
        );
        assert.deepEqual([sign.status, errorCode(sign.stderr)], [2, 'TOKEN_INVALID'], `sign: ${name}: ${sign.stderr}`);
      }
    } finally {
      await stranger.close();
    }
  });

  it('in CI, a detected provider without its token fails at once, never waiting for a person', async () => {
    const start = performance.now();
    const r = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('ci.json')], {
      env: jobEnv('home-ci', { CI: 'true', GITHUB_ACTIONS: 'true' }),
    });
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'TOKEN_INVALID');
    assert.match(r.stderr, /id-token: write/);
    // A CLI start is ~0.2 s here; a device flow would wait minutes.
    assert.ok(performance.now() - start < 5000);
  });
});
