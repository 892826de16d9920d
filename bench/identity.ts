/**
 * Token acquisition latency per provider, against the local fakes of test/helpers (same protocols as the real
 * services, on 127.0.0.1): what vouch itself adds to getting a token, since the real services' own latency is not
 * ours to measure. Baseline in the same run: one bare `fetch` of the same fake (a loopback HTTP round trip, the
 * floor for any provider that asks a service). First call (module loading included) and the median of the next 20.
 */
import { cpus } from 'node:os';
import { aws } from '../src/identity/aws.ts';
import { azure } from '../src/identity/azure.ts';
import { azurePipelines } from '../src/identity/azure-pipelines.ts';
import { buildkite } from '../src/identity/buildkite.ts';
import { circleci } from '../src/identity/circleci.ts';
import { gcp } from '../src/identity/gcp.ts';
import { githubActions } from '../src/identity/github-actions.ts';
import { gitlab } from '../src/identity/gitlab.ts';
import { kubernetes } from '../src/identity/kubernetes.ts';
import { type AmbientProvider, defaultContext, readLocalFile } from '../src/identity/provider.ts';
import { startAwsSts } from '../test/helpers/fake-aws-sts.ts';
import { APP_AUDIENCE, startAzure } from '../test/helpers/fake-azure.ts';
import { startAzurePipelines } from '../test/helpers/fake-azure-pipelines.ts';
import { startBuildkite } from '../test/helpers/fake-buildkite.ts';
import { startCircleCi } from '../test/helpers/fake-circleci.ts';
import { RELEASE_ACCOUNT, startGcp } from '../test/helpers/fake-gcp.ts';
import { startGitHubActions } from '../test/helpers/fake-github-actions.ts';
import { startGitLab } from '../test/helpers/fake-gitlab.ts';
import { startKubernetes } from '../test/helpers/fake-kubernetes.ts';

const RUNS = 20;

async function time(fn: () => Promise<unknown>): Promise<{ first: number; median: number }> {
  let t = performance.now();
  await fn();
  const first = performance.now() - t;
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { first, median: samples[Math.floor(samples.length / 2)]! };
}

const rows: { name: string; first: number; median: number; baseline: number }[] = [];
async function measure(name: string, provider: AmbientProvider, env: Record<string, string>, base: string) {
  const ctx = defaultContext({ env, readFile: readLocalFile });
  const saved = { ...process.env };
  Object.assign(process.env, env); // the AWS SDK and google-auth-library read the process environment
  try {
    const baseline = await time(() => fetch(`${base}/.well-known/openid-configuration`).then((r) => r.arrayBuffer()));
    const t = await time(() => provider.getToken(ctx));
    rows.push({ name, ...t, baseline: baseline.median });
  } finally {
    process.env = saved;
  }
}

const gh = await startGitHubActions();
await measure('github-actions', githubActions, gh.env, gh.base);
const gl = await startGitLab();
await measure('gitlab (environment)', gitlab, await gl.env(), gl.base);
const bk = await startBuildkite();
await measure('buildkite', buildkite, bk.env, bk.base);
const cc = await startCircleCi();
await measure('circleci (runs the CLI)', circleci, cc.env, cc.base);
const ap = await startAzurePipelines();
await measure('azure-pipelines', azurePipelines, ap.env, ap.base);
const k8s = await startKubernetes();
await measure(
  'kubernetes (file)',
  kubernetes,
  { VOUCH_KUBERNETES_TOKEN_FILE: await k8s.project('sigstore') },
  k8s.base,
);
const g = await startGcp();
await measure('gcp (metadata)', gcp, g.env(), g.base);
await measure('gcp (impersonation)', gcp, g.env(RELEASE_ACCOUNT), g.base);
const sts = await startAwsSts();
await measure('aws (STS, SDK)', aws, sts.env, sts.base);
const az = await startAzure();
await measure(
  'azure (IMDS)',
  azure,
  { AZURE_POD_IDENTITY_AUTHORITY_HOST: az.base, VOUCH_AZURE_AUDIENCE: APP_AUDIENCE },
  az.base,
);
await measure(
  'azure (workload identity)',
  azure,
  {
    AZURE_FEDERATED_TOKEN_FILE: await k8s.project('api://AzureADTokenExchange', 'azure'),
    AZURE_CLIENT_ID: '0c0d0e0f-0000-4000-8000-0000000000bb',
    AZURE_TENANT_ID: '72f988bf-0000-4000-8000-0000000000aa',
    AZURE_AUTHORITY_HOST: `${az.base}/`,
    VOUCH_AZURE_AUDIENCE: APP_AUDIENCE,
  },
  az.base,
);
for (const f of [gh, gl, bk, cc, ap, k8s, g, sts, az]) await f.close();

const ms = (n: number) => n.toFixed(2);
process.stdout.write(
  `### Token acquisition per provider, against local fakes (bench/identity.ts; ${cpus().length}x ${cpus()[0]?.model ?? 'cpu'})\n\n` +
    `| provider | first call, ms | median of ${RUNS}, ms | bare loopback fetch, ms | ratio (median / fetch) |\n|---|---|---|---|---|\n` +
    rows
      .map(
        (r) =>
          `| ${r.name} | ${ms(r.first)} | ${ms(r.median)} | ${ms(r.baseline)} | ${(r.median / r.baseline).toFixed(1)}x |`,
      )
      .join('\n') +
    '\n',
);
