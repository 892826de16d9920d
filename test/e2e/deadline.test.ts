/**
 * Issue 10 item 9: a service that drips its answer (one byte per second, forever) must not hold vouch. Each kind
 * of endpoint vouch talks to is served dripping on 127.0.0.1, and the built CLI must exit 3 (a service error) within
 * its overall deadline, here VOUCH_HTTP_TIMEOUT=2 seconds. Without a deadline that spans the whole exchange, each
 * case would wait forever (the drip never ends); the test's own timeout would fail it.
 *
 * The Sigstore services are a real stack (startStack) behind a proxy that drips the answers of one path prefix; the
 * registry, instance and identity endpoints are answered by the drip server itself.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { boundedFetch, fetchJson, request } from '../../src/core/http.ts';
import { VouchError } from '../../src/errors.ts';
import { deviceLogin } from '../../src/identity/login.ts';
import { TokenVerifier } from '../../src/server/ca/oidc.ts';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { errorCode, tempDir, vouchAsync } from '../helpers/cli.ts';
import { type DripServer, dripServer, proxyTo } from '../helpers/drip.ts';
import { makeToken } from '../keyless/helpers.ts';

const DEADLINE_S = 2;
/** Deadline plus the CLI's start and a loaded machine: far below "forever", far above the deadline. */
const WITHIN_MS = DEADLINE_S * 1000 + 10_000;

describe('every request has an overall deadline (dripping services, through the CLI)', { concurrency: true }, () => {
  const dir = tempDir('vouch-drip-');
  const at = (p: string) => join(dir.path, p);
  writeFileSync(at('a.txt'), 'release');
  let stack: Stack;
  let proxy: DripServer;
  let target = '';
  let dripPrefix: string | undefined;
  /** Answers registries, instances and identity providers, dripping wherever a test says. */
  let drip: DripServer;

  before(async () => {
    drip = await dripServer((req, self) => {
      const path = req.path;
      if (path.startsWith('/body/')) return { drip: 'body' };
      if (path.startsWith('/all/')) return { drip: 'all' };
      // A registry whose token service drips: /v2/ asks for a bearer token at a dripping realm.
      if (path.startsWith('/v2/challenged/')) {
        return {
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${self.url}/all/token",service="drip"` },
          body: {},
        };
      }
      if (path.startsWith('/v2/')) return { drip: path.includes('/body') ? 'body' : 'all' };
      // An OIDC issuer whose discovery answers at once but whose key set drips.
      if (path === '/jwks-drips/.well-known/openid-configuration') {
        return { status: 200, body: { issuer: `${self.url}/jwks-drips`, jwks_uri: `${self.url}/all/jwks` } };
      }
      return { drip: 'all' };
    });
    // The stack names the proxy as its URL; the proxy reaches the stack on a port picked first.
    const port = await freePort();
    target = `http://127.0.0.1:${port}`;
    proxy = await dripServer((req) =>
      proxyTo(target, (r) => (dripPrefix !== undefined && r.path.startsWith(dripPrefix) ? { drip: 'all' } : undefined))(
        req,
      ),
    );
    stack = await startStack({
      dataDir: at('stack'),
      port,
      publicUrl: proxy.url,
      issuers: [{ issuer: `${drip.url}/discovery-drips` }, { issuer: `${drip.url}/jwks-drips` }],
      allowInsecureLoopbackIssuers: true,
    });
  });
  after(async () => {
    await stack?.close();
    await proxy?.close();
    await drip?.close();
    dir.dispose();
  });

  const env = (extra: Record<string, string> = {}) => ({
    VOUCH_HOME: at(`home-${Math.random().toString(36).slice(2)}`),
    VOUCH_HTTP_TIMEOUT: String(DEADLINE_S),
    SIGSTORE_ID_TOKEN: '',
    ACTIONS_ID_TOKEN_REQUEST_URL: '',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
    ...extra,
  });
  const policy = ['--certificate-identity', 'a@example.com', '--certificate-oidc-issuer', 'https://example.com'];

  async function expectServiceError(args: string[], extraEnv: Record<string, string> = {}) {
    const r = await vouchAsync(args, { env: env(extraEnv) });
    assert.equal(r.status, 3, `exit status ${r.status}: ${r.stderr}`);
    assert.match(errorCode(r.stderr) ?? '', /^SERVICE_(UNAVAILABLE|ERROR)$/, r.stderr);
    assert.ok(r.ms < WITHIN_MS, `took ${r.ms} ms`);
    return r;
  }

  it('an OCI registry that drips its whole answer', { timeout: 60_000 }, async () => {
    const r = await expectServiceError(['verify', `oci:127.0.0.1:${drip.port}/acme/app:v1`, ...policy]);
    assert.equal(errorCode(r.stderr), 'SERVICE_UNAVAILABLE');
  });

  it('an OCI registry that sends its headers, then drips the manifest', { timeout: 60_000 }, async () => {
    await expectServiceError(['verify', `oci:127.0.0.1:${drip.port}/acme/body:v1`, ...policy]);
  });

  it("an OCI registry's token service that drips", { timeout: 60_000 }, async () => {
    await expectServiceError(['verify', `oci:127.0.0.1:${drip.port}/challenged/app:v1`, ...policy]);
  });

  it("a `vouch serve` instance's well-known documents that drip", { timeout: 60_000 }, async () => {
    await expectServiceError(['sign', at('a.txt'), '--instance', `${drip.url}/all`, '--bundle', at('x.json')]);
  });

  it('a GitHub Actions token service that drips', { timeout: 60_000 }, async () => {
    await expectServiceError(['sign', at('a.txt'), '--instance', proxy.url, '--bundle', at('gh.json')], {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${drip.url}/body/token?x=1`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-token',
    });
  });

  // The SDK's credential source opens its own socket, which nothing but the process's exit ends: the command must
  // still answer at its deadline, and the process must not wait on that socket (bin/vouch.mjs gives it 1 s after
  // the answer). Without either, the drip holds the process for as long as it lasts.
  it('AWS: a container credentials endpoint that drips, through the AWS SDK', { timeout: 60_000 }, async () => {
    const args = [
      'sign',
      at('a.txt'),
      '--instance',
      proxy.url,
      '--identity-provider',
      'aws',
      '--bundle',
      at('aws.json'),
    ];
    const r = await vouchAsync(args, {
      env: env({
        AWS_CONFIG_FILE: at('no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: at('no-aws-credentials'),
        AWS_REGION: 'eu-west-1',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${drip.url}/all/creds`,
        AWS_ENDPOINT_URL_STS: `${drip.url}/all`,
      }),
    });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(errorCode(r.stderr), 'SERVICE_UNAVAILABLE', r.stderr);
    assert.ok(r.ms < WITHIN_MS + 1000 + 5000, `took ${r.ms} ms`);
  });

  // One dripping service of the real stack at a time: the tests that share the proxy run in turn.
  describe('a real stack behind a proxy that drips one service', { concurrency: false }, () => {
    for (const [name, prefix] of [
      ['the local OIDC issuer (token endpoint)', '/oidc/token'],
      ['the certificate authority', '/ca/'],
      ['the transparency log', '/tlog/'],
      ['the timestamp authority', '/tsa/'],
    ] as const) {
      it(name, { timeout: 60_000 }, async () => {
        dripPrefix = prefix;
        try {
          await expectServiceError(['sign', at('a.txt'), '--instance', proxy.url, '--bundle', at('s.json')]);
        } finally {
          dripPrefix = undefined;
        }
      });
    }

    it('the same stack signs when nothing drips (the proxy itself is sound)', { timeout: 60_000 }, async () => {
      const r = await vouchAsync(['sign', at('a.txt'), '--instance', proxy.url, '--bundle', at('ok.json')], {
        env: env(),
      });
      assert.equal(r.status, 0, r.stderr);
    });

    for (const [name, path] of [
      ['discovery', '/discovery-drips'],
      ['key set', '/jwks-drips'],
    ] as const) {
      // The CA (this process) gives up on the issuer after 1 s and answers 503; the client, with a longer deadline,
      // reports that answer (SERVICE_ERROR), not a deadline of its own.
      it(`an identity provider whose OIDC ${name} drips, behind the CA`, { timeout: 60_000 }, async () => {
        const token = await makeToken({ iss: `${drip.url}${path}`, sub: 'ci', email: 'ci@example.com' });
        const saved = process.env.VOUCH_HTTP_TIMEOUT;
        process.env.VOUCH_HTTP_TIMEOUT = '1';
        try {
          const args = [
            'sign',
            at('a.txt'),
            '--instance',
            proxy.url,
            '--identity-token',
            token,
            '--bundle',
            at('t.json'),
          ];
          const r = await expectServiceError(args, { VOUCH_HTTP_TIMEOUT: '8' });
          assert.equal(errorCode(r.stderr), 'SERVICE_ERROR', r.stderr);
        } finally {
          if (saved === undefined) delete process.env.VOUCH_HTTP_TIMEOUT;
          else process.env.VOUCH_HTTP_TIMEOUT = saved;
        }
      });
    }
  });

  describe('library clients', () => {
    const rejectsUnavailable = async (p: Promise<unknown>, started: number) => {
      await assert.rejects(p, (e) => e instanceof VouchError && e.code === 'SERVICE_UNAVAILABLE');
      assert.ok(Date.now() - started < 1000 + 3000, `took ${Date.now() - started} ms`);
    };

    it('request: a dripped status line, dripped headers or a dripped body all end at the deadline', async () => {
      for (const path of ['/all/x', '/body/x']) {
        const t = Date.now();
        await rejectsUnavailable(request(`${drip.url}${path}`, { timeoutMs: 1000 }), t);
      }
    });

    it('request: one absolute deadline shared by several requests is not renewed by each', async () => {
      const deadline = Date.now() + 1000;
      const t = Date.now();
      await rejectsUnavailable(request(`${drip.url}/all/1`, { deadline, timeoutMs: 60_000 }), t);
      await assert.rejects(
        request(`${drip.url}/all/2`, { deadline }),
        (e) => (e as VouchError).code === 'SERVICE_UNAVAILABLE',
      );
      assert.ok(Date.now() - t < 1000 + 3000);
    });

    it('a login (device flow, RFC 8628, through openid-client) against a dripping issuer', async () => {
      const t = Date.now();
      const ui = { showUrl: () => {}, showDeviceCode: () => {} };
      await rejectsUnavailable(deviceLogin({ issuer: `${drip.url}/all`, ui, timeoutMs: 1000 }), t);
    });

    it("the CA's token verifier against dripping discovery and key set", async () => {
      for (const path of ['/discovery-drips', '/jwks-drips']) {
        const iss = `${drip.url}${path}`;
        const t = Date.now();
        const verifier = new TokenVerifier([{ issuer: iss }], { timeoutMs: 1000, allowInsecureLoopback: true });
        await rejectsUnavailable(verifier.verify(await makeToken({ iss })), t);
      }
    });

    it('boundedFetch (for libraries that take a fetch function): same deadline, cap and codes', async () => {
      const f = boundedFetch('test', { timeoutMs: 1000, maxBytes: 4096 });
      const t = Date.now();
      await rejectsUnavailable(f(`${drip.url}/body/x`), t);
      const ok = await f(`${drip.url}/jwks-drips/.well-known/openid-configuration`, { headers: { accept: 'x' } });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { issuer: string }).issuer, `${drip.url}/jwks-drips`);
    });

    it('fetchJson: an answer over the cap is refused while reading, with or without Content-Length', async () => {
      const big = await dripServer((req) =>
        req.path === '/declared'
          ? { status: 200, body: 'x'.repeat(5000) }
          : { status: 200, unsized: true, body: `"${'y'.repeat(5000)}"` },
      );
      try {
        for (const p of ['/declared', '/json']) {
          await assert.rejects(
            fetchJson(`${big.url}${p}`, 'test', { maxBytes: 1000 }),
            (e) => e instanceof VouchError && e.code === 'SERVICE_ERROR',
          );
        }
      } finally {
        await big.close();
      }
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
