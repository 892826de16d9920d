/**
 * Each ambient provider against a local fake of its platform's real protocol (test/helpers/fake-*.ts): the token
 * it returns is the platform's, for the audience asked; a platform that is detected but gives no token fails with
 * TOKEN_INVALID at once (no request made), and transient failures are retried where the provider retries.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { aws } from '../../src/identity/aws.ts';
import { azure } from '../../src/identity/azure.ts';
import { azurePipelines } from '../../src/identity/azure-pipelines.ts';
import { buildkite } from '../../src/identity/buildkite.ts';
import { circleci } from '../../src/identity/circleci.ts';
import { gcp } from '../../src/identity/gcp.ts';
import { githubActions } from '../../src/identity/github-actions.ts';
import { gitlab } from '../../src/identity/gitlab.ts';
import { kubernetes } from '../../src/identity/kubernetes.ts';
import { defaultContext, type ProviderContext } from '../../src/identity/provider.ts';
import { type DripServer, dripServer } from '../helpers/drip.ts';
import { startAwsSts } from '../helpers/fake-aws-sts.ts';
import { APP_AUDIENCE, CLIENT_ID, startAzure, TENANT } from '../helpers/fake-azure.ts';
import { AZURE_EXCHANGE_AUDIENCE, startAzurePipelines } from '../helpers/fake-azure-pipelines.ts';
import { startBuildkite } from '../helpers/fake-buildkite.ts';
import { startCircleCi } from '../helpers/fake-circleci.ts';
import { RELEASE_ACCOUNT, startGcp, VM_ACCOUNT } from '../helpers/fake-gcp.ts';
import { startGitHubActions } from '../helpers/fake-github-actions.ts';
import { startGitLab } from '../helpers/fake-gitlab.ts';
import { startKubernetes } from '../helpers/fake-kubernetes.ts';
import { rejectsWith } from '../keyless/helpers.ts';

const noFiles = () => undefined;
function ctx(env: Record<string, string>, over: Partial<ProviderContext> = {}): ProviderContext {
  const sleeps: number[] = [];
  return defaultContext({
    env,
    readFile: noFiles,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    timeoutMs: 5000,
    ...over,
  });
}

describe('GitHub Actions', () => {
  let gh: Awaited<ReturnType<typeof startGitHubActions>>;
  before(async () => {
    gh = await startGitHubActions();
  });
  after(() => gh.close());
  it('is detected by GITHUB_ACTIONS and returns the runner token for audience sigstore', async () => {
    const c = ctx(gh.env);
    assert.equal(githubActions.detect(c), true);
    const token = await githubActions.getToken(c);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, gh.issuer);
    assert.equal(claims.aud, 'sigstore');
    assert.equal(decodeProtectedHeader(token).alg, 'RS256');
  });
  it('retries transient 503s, then succeeds', async () => {
    gh.failFirst = 2;
    const sleeps: number[] = [];
    const token = await githubActions.getToken(ctx(gh.env, { sleep: async (ms) => void sleeps.push(ms) }));
    assert.equal(decodeJwt(token).sub, 'repo:octo-org/app:ref:refs/heads/main');
    assert.deepEqual(sleeps, [500, 1000]);
  });
  it('gives up after three tries', async () => {
    gh.failFirst = 5;
    await rejectsWith(githubActions.getToken(ctx(gh.env)), 'SERVICE_ERROR');
    gh.failFirst = 0;
  });
  it('a refused request token is not retried', async () => {
    const before = gh.requests.length;
    await rejectsWith(
      githubActions.getToken(ctx({ ...gh.env, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' })),
      'SERVICE_ERROR',
    );
    assert.equal(gh.requests.length - before, 1);
  });
  it('without id-token: write: TOKEN_INVALID naming the permission, no request', async () => {
    const before = gh.requests.length;
    const e = await rejectsWith(githubActions.getToken(ctx({ GITHUB_ACTIONS: 'true' })), 'TOKEN_INVALID');
    assert.match(e.hint, /id-token: write/);
    assert.equal(gh.requests.length, before);
  });
});

describe('GitLab CI', () => {
  it('reads <AUD>_ID_TOKEN; without it, names the id_tokens declaration', async () => {
    const gl = await startGitLab();
    try {
      const env = await gl.env();
      assert.equal(gitlab.detect(ctx(env)), true);
      assert.equal(await gitlab.getToken(ctx(env)), env.SIGSTORE_ID_TOKEN);
      const e = await rejectsWith(gitlab.getToken(ctx({ GITLAB_CI: 'true' })), 'TOKEN_INVALID');
      assert.match(e.hint, /id_tokens/);
      await rejectsWith(gitlab.getToken(ctx({ GITLAB_CI: 'true', SIGSTORE_ID_TOKEN: 'not a jwt' })), 'SERVICE_ERROR');
    } finally {
      await gl.close();
    }
  });
});

describe('Buildkite', () => {
  it('POSTs to the agent API with the job token and audience', async () => {
    const bk = await startBuildkite();
    try {
      const token = await buildkite.getToken(ctx(bk.env));
      const claims = decodeJwt(token);
      assert.equal(claims.aud, 'sigstore');
      assert.equal(claims.organization_slug, 'acme');
      const req = bk.requests.at(-1)!;
      assert.equal(req.headers.authorization, `Token ${bk.env.BUILDKITE_AGENT_ACCESS_TOKEN}`);
      assert.deepEqual(JSON.parse(req.body), { audience: 'sigstore' });
      await rejectsWith(buildkite.getToken(ctx({ ...bk.env, BUILDKITE_AGENT_ACCESS_TOKEN: 'x' })), 'SERVICE_ERROR');
      await rejectsWith(buildkite.getToken(ctx({ BUILDKITE: 'true', BUILDKITE_JOB_ID: 'j' })), 'TOKEN_INVALID');
    } finally {
      await bk.close();
    }
  });
});

describe('CircleCI', () => {
  it('runs `circleci run oidc get --claims {"aud":"sigstore"}`', async () => {
    const cc = await startCircleCi();
    try {
      const claims = decodeJwt(await circleci.getToken(ctx(cc.env)));
      assert.equal(claims.aud, 'sigstore');
      assert.equal(claims.iss, cc.issuer);
    } finally {
      await cc.close();
    }
  });
  it('a CLI that fails, or no CLI: TOKEN_INVALID', async () => {
    const cc = await startCircleCi({ fail: true });
    try {
      await rejectsWith(circleci.getToken(ctx(cc.env)), 'TOKEN_INVALID');
      await rejectsWith(circleci.getToken(ctx({ CIRCLECI: 'true', PATH: '/nonexistent' })), 'TOKEN_INVALID');
    } finally {
      await cc.close();
    }
  });
});

describe('Azure Pipelines', () => {
  it('POSTs to SYSTEM_OIDCREQUESTURI with the job token; without it names the mapping', async () => {
    const ap = await startAzurePipelines();
    try {
      const claims = decodeJwt(await azurePipelines.getToken(ctx(ap.env)));
      assert.equal(claims.aud, AZURE_EXCHANGE_AUDIENCE);
      assert.equal(claims.sub, 'p://acme/Release Tools/app-release');
      const e = await rejectsWith(
        azurePipelines.getToken(ctx({ TF_BUILD: 'True', SYSTEM_OIDCREQUESTURI: ap.env.SYSTEM_OIDCREQUESTURI! })),
        'TOKEN_INVALID',
      );
      assert.match(e.hint, /System\.AccessToken/);
    } finally {
      await ap.close();
    }
  });
});

describe('Kubernetes projected tokens', () => {
  it('takes the first file whose audience is the one asked, passing over STS and Entra exchange tokens', async () => {
    const k8s = await startKubernetes();
    try {
      const irsa = await k8s.project('sts.amazonaws.com', 'irsa');
      const sigstore = await k8s.project('sigstore', 'sigstore');
      const { readLocalFile } = await import('../../src/identity/provider.ts');
      const only = ctx({ AWS_WEB_IDENTITY_TOKEN_FILE: irsa }, { readFile: readLocalFile });
      assert.equal(kubernetes.detect(only), false);
      const e = await rejectsWith(kubernetes.getToken(only), 'TOKEN_INVALID');
      assert.match(e.message, /sts\.amazonaws\.com/);
      const both = ctx(
        { AWS_WEB_IDENTITY_TOKEN_FILE: irsa, VOUCH_KUBERNETES_TOKEN_FILE: sigstore },
        { readFile: readLocalFile },
      );
      assert.equal(kubernetes.detect(both), true);
      assert.equal(decodeJwt(await kubernetes.getToken(both)).sub, 'system:serviceaccount:release:signer');
    } finally {
      await k8s.close();
    }
  });
});

describe('Google Cloud', () => {
  let g: Awaited<ReturnType<typeof startGcp>>;
  before(async () => {
    g = await startGcp();
  });
  after(() => g.close());
  it('metadata server: format=full identity with Metadata-Flavor', async () => {
    const c = ctx(g.env());
    assert.equal(gcp.detect(c), true);
    const claims = decodeJwt(await gcp.getToken(c));
    assert.equal(claims.email, VM_ACCOUNT);
    assert.equal(claims.aud, 'sigstore');
    assert.ok((claims.google as { compute_engine?: unknown }).compute_engine);
    const req = g.requests.find((r) => r.url.pathname.endsWith('/identity'))!;
    assert.equal(req.headers['metadata-flavor'], 'Google');
    assert.equal(req.url.searchParams.get('format'), 'full');
  });
  it('detected on a Compute Engine VM by its DMI product name', () => {
    const c = ctx(
      {},
      { readFile: (p) => (p === '/sys/class/dmi/id/product_name' ? 'Google Compute Engine\n' : undefined) },
    );
    assert.equal(gcp.detect(c), true);
    assert.equal(gcp.detect(ctx({})), false);
  });
  it('impersonation: generateIdToken with includeEmail, authenticated by ADC (here the metadata server)', async () => {
    const saved = { ...process.env };
    // A `gcloud` first on PATH that leaves a mark when run, and no ADC file: what ADC does is all we see.
    const tmp = mkdtempSync(join(tmpdir(), 'vouch-gcloud-'));
    writeFileSync(join(tmp, 'gcloud'), `#!/bin/sh\ntouch ${join(tmp, 'ran')}\n`, { mode: 0o755 });
    Object.assign(process.env, g.env(RELEASE_ACCOUNT), {
      PATH: `${tmp}${delimiter}${process.env.PATH ?? ''}`,
      CLOUDSDK_CONFIG: tmp,
    });
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    try {
      const first = g.requests.length;
      const claims = decodeJwt(await gcp.getToken(ctx(g.env(RELEASE_ACCOUNT))));
      assert.equal(claims.email, RELEASE_ACCOUNT);
      // The source credentials (the VM's account) and the impersonation: no project id is looked up, neither with
      // gcloud (a process start of seconds) nor at the metadata server, since generateIdToken needs none.
      assert.equal(existsSync(join(tmp, 'ran')), false, 'gcloud was run');
      // (The first request is ADC's check that a metadata server is there, made once per process.)
      assert.deepEqual(
        g.requests.slice(first).map((r) => r.url.pathname),
        [
          '/computeMetadata/v1/instance',
          '/computeMetadata/v1/instance/service-accounts/default/token',
          `/v1/projects/-/serviceAccounts/${RELEASE_ACCOUNT}:generateIdToken`,
        ],
      );
      const req = g.requests.find((r) => r.url.pathname.endsWith(':generateIdToken'))!;
      assert.deepEqual(
        { audience: JSON.parse(req.body).audience, includeEmail: JSON.parse(req.body).includeEmail },
        { audience: 'sigstore', includeEmail: true },
      );
      const e = await rejectsWith(gcp.getToken(ctx(g.env('other@acme-prod.iam.gserviceaccount.com'))), 'TOKEN_INVALID');
      assert.match(e.hint, /serviceAccountOpenIdTokenCreator/);
    } finally {
      process.env = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('Google Cloud impersonation: one deadline over ADC and IAM', () => {
  // ADC's metadata probe and its token fetch go through gcp-metadata, which takes neither vouch's fetch nor its
  // deadline: a metadata server that drips held the round ~3.7 s past a 1.5 s deadline.
  const DEADLINE_MS = 1500;
  for (const [name, probe] of [
    ['the metadata server drips even its probe', false],
    ['the metadata server answers its probe, then drips the token', true],
  ] as const) {
    it(name, async () => {
      const drip = await dripServer(
        (r) =>
          probe && r.path === '/computeMetadata/v1/instance'
            ? { status: 200, headers: { 'metadata-flavor': 'Google' }, body: 'x' }
            : { drip: 'body' },
        { intervalMs: 100 },
      );
      const tmp = mkdtempSync(join(tmpdir(), 'vouch-gcp-'));
      const env = {
        GCE_METADATA_HOST: `127.0.0.1:${drip.port}`,
        GOOGLE_SERVICE_ACCOUNT_NAME: RELEASE_ACCOUNT,
        VOUCH_GCP_IAM_CREDENTIALS_URL: drip.url,
        CLOUDSDK_CONFIG: tmp,
        PATH: join(tmp, 'no-gcloud'),
      };
      const saved = { ...process.env };
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      Object.assign(process.env, env);
      const started = Date.now();
      try {
        await rejectsWith(gcp.getToken(ctx(env, { timeoutMs: DEADLINE_MS })), 'SERVICE_UNAVAILABLE');
        const took = Date.now() - started;
        assert.ok(took < DEADLINE_MS + 1500, `took ${took} ms`);
      } finally {
        process.env = saved;
        await drip.close();
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});

describe('AWS STS GetWebIdentityToken', () => {
  it('signs the request with SigV4 (the SDK) and returns the ES384 token; RS256 on request', async () => {
    const sts = await startAwsSts();
    const saved = { ...process.env };
    Object.assign(process.env, sts.env);
    try {
      assert.equal(aws.detect(ctx(sts.env)), true);
      const token = await aws.getToken(ctx(sts.env));
      assert.equal(decodeProtectedHeader(token).alg, 'ES384');
      assert.equal(decodeJwt(token).sub, 'arn:aws:iam::123456789012:role/ReleaseSigner');
      const form = sts.forms.at(-1)!;
      assert.equal(form.get('Audience.member.1'), 'sigstore');
      assert.equal(form.get('SigningAlgorithm'), 'ES384');
      const rs = await aws.getToken(ctx({ ...sts.env, VOUCH_AWS_SIGNING_ALGORITHM: 'RS256' }));
      assert.equal(decodeProtectedHeader(rs).alg, 'RS256');
      sts.failWith = 'OutboundWebIdentityFederationDisabledException';
      const e = await rejectsWith(aws.getToken(ctx(sts.env)), 'TOKEN_INVALID');
      assert.match(e.hint, /enable-outbound-web-identity-federation/);
    } finally {
      process.env = saved;
      await sts.close();
    }
  });
  it('not detected on a laptop with credentials only', () => {
    assert.equal(aws.detect(ctx({ AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' })), false);
  });

  // The SDK's own Node handler has idle timeouts only (its requestTimeout merely warns): a server that drips a
  // byte at a time, or a credential endpoint that never answers, held the token round for as long as it lasted.
  describe('one overall deadline for the whole token round (VOUCH_HTTP_TIMEOUT through the context)', () => {
    const DEADLINE_MS = 1500;
    /** The deadline plus room for a loaded machine: below the SDK's three attempts of a deadline each. */
    const WITHIN_MS = DEADLINE_MS + 2000;
    let drip: DripServer;
    let silent: ReturnType<typeof netServer>;
    const silentSockets = new Set<import('node:net').Socket>();
    let silentUrl = '';
    const tmp = mkdtempSync(join(tmpdir(), 'vouch-aws-'));
    before(async () => {
      drip = await dripServer(() => ({ drip: 'all' }), { intervalMs: 100 });
      // Accepts the connection and reads the request, never writes a byte.
      silent = netServer((s) => {
        silentSockets.add(s);
        s.on('error', () => {});
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    });
    after(async () => {
      for (const s of silentSockets) s.destroy();
      await new Promise((r) => silent.close(r));
      await drip.close();
      rmSync(tmp, { recursive: true, force: true });
    });
    /** The SDK reads its credential chain from process.env: set it for one case, with no ~/.aws to find. */
    async function within(env: Record<string, string>) {
      const saved = { ...process.env };
      for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
      Object.assign(process.env, {
        AWS_CONFIG_FILE: join(tmp, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'eu-west-1',
        ...env,
      });
      const started = Date.now();
      try {
        const c = ctx({ ...process.env } as Record<string, string>, { timeoutMs: DEADLINE_MS });
        const e = await rejectsWith(aws.getToken(c), 'SERVICE_UNAVAILABLE');
        const took = Date.now() - started;
        assert.ok(took < WITHIN_MS, `took ${took} ms`);
        return e;
      } finally {
        process.env = saved;
      }
    }
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret' };

    it('STS drips its answer a byte at a time: the retries share the one deadline', async () => {
      const before = drip.seen.length;
      await within({ ...keys, AWS_ENDPOINT_URL_STS: drip.url });
      assert.ok(drip.seen.length > before, 'STS was asked');
    });
    it('STS accepts the connection and never answers', async () => {
      await within({ ...keys, AWS_ENDPOINT_URL_STS: silentUrl });
    });
    it('the container credentials endpoint (ECS, Pod Identity) never answers', async () => {
      await within({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${silentUrl}/creds`, AWS_ENDPOINT_URL_STS: drip.url });
    });
    it('web identity (IRSA): the nested AssumeRoleWithWebIdentity drips', async () => {
      const file = join(tmp, 'token');
      writeFileSync(file, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
      const before = drip.seen.length;
      await within({
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/ReleaseSigner',
        AWS_WEB_IDENTITY_TOKEN_FILE: file,
        AWS_ENDPOINT_URL_STS: drip.url,
      });
      assert.ok(drip.seen.length > before, 'the web identity exchange was asked');
    });
    it("VOUCH_HTTP_TIMEOUT sets the providers' deadline; an explicit one wins", () => {
      assert.equal(defaultContext({ env: { VOUCH_HTTP_TIMEOUT: '2.5' } }).timeoutMs, 2500);
      assert.equal(defaultContext({ env: {} }).timeoutMs, 10_000);
      assert.equal(defaultContext({ env: { VOUCH_HTTP_TIMEOUT: '2' }, timeoutMs: 700 }).timeoutMs, 700);
    });
  });
});

describe('Azure (Microsoft Entra)', () => {
  let az: Awaited<ReturnType<typeof startAzure>>;
  let k8s: Awaited<ReturnType<typeof startKubernetes>>;
  before(async () => {
    az = await startAzure();
    k8s = await startKubernetes();
  });
  after(async () => {
    await az.close();
    await k8s.close();
  });
  it('workload identity: the federated file is the client assertion of a client-credentials grant', async () => {
    const file = await k8s.project(AZURE_EXCHANGE_AUDIENCE, 'azure');
    const { readLocalFile } = await import('../../src/identity/provider.ts');
    const env = {
      AZURE_FEDERATED_TOKEN_FILE: file,
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_TENANT_ID: TENANT,
      AZURE_AUTHORITY_HOST: `${az.base}/`,
      VOUCH_AZURE_AUDIENCE: APP_AUDIENCE,
    };
    const c = ctx(env, { readFile: readLocalFile });
    assert.equal(azure.detect(c), true);
    const claims = decodeJwt(await azure.getToken(c));
    assert.equal(claims.aud, APP_AUDIENCE);
    assert.equal(claims.iss, az.issuer);
    const form = new URLSearchParams(az.requests.find((r) => r.url.pathname.endsWith('/token'))!.body);
    assert.equal(form.get('client_assertion'), readLocalFile(file)!.trim());
    assert.equal(form.get('scope'), `${APP_AUDIENCE}/.default`);
    az.acceptAssertion = () => false;
    await rejectsWith(azure.getToken(c), 'TOKEN_INVALID');
    az.acceptAssertion = () => true;
  });
  it('managed identity through IMDS, with Metadata: true', async () => {
    const env = { AZURE_POD_IDENTITY_AUTHORITY_HOST: az.base, VOUCH_AZURE_AUDIENCE: APP_AUDIENCE };
    const claims = decodeJwt(await azure.getToken(ctx(env)));
    assert.equal(claims.aud, APP_AUDIENCE);
    assert.equal(az.requests.at(-1)!.headers.metadata, 'true');
  });
  it('not detected without an application audience; asked anyway, names the setting', async () => {
    const env = { AZURE_POD_IDENTITY_AUTHORITY_HOST: az.base };
    assert.equal(azure.detect(ctx(env)), false);
    const e = await rejectsWith(azure.getToken(ctx(env)), 'TOKEN_INVALID');
    assert.match(e.hint, /VOUCH_AZURE_AUDIENCE/);
  });
});
