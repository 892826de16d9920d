/**
 * End to end: a token from a provider's fake becomes a certificate through `vouch serve --issuer <fake>`, the bundle
 * verifies with `vouch verify` and with the official @sigstore/verify for the identity and issuer that `vouch sign`
 * printed. Covered here: the providers whose tokens the CA on main maps (email identities): Google Cloud (metadata
 * server) and a person's login (browser flow, cached, then used by sign; whoami; logout). And through the CLI: a CI
 * detected without its token fails at once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, errorCode, tempDir, vouchAsync } from '../helpers/cli.ts';
import { type FakeDex, startDex } from '../helpers/fake-dex.ts';
import { type FakeGcp, startGcp, VM_ACCOUNT } from '../helpers/fake-gcp.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

/** Variables of the machine running the tests that would change which provider is detected. */
const CLEAN: Record<string, undefined> = Object.fromEntries(
  [
    'CI',
    'GITHUB_ACTIONS',
    'GITLAB_CI',
    'BUILDKITE',
    'CIRCLECI',
    'TF_BUILD',
    'SIGSTORE_ID_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    'GCE_METADATA_HOST',
    'AWS_EXECUTION_ENV',
    'BROWSER',
  ].map((k) => [k, undefined]),
);

describe('identities end to end through vouch serve', () => {
  const tmp = tempDir('vouch-e2e-identity-');
  const at = (p: string) => join(tmp.path, p);
  let gcp: FakeGcp;
  let dex: FakeDex;
  let child: ChildProcess;
  let url = '';

  before(async () => {
    gcp = await startGcp();
    dex = await startDex();
    child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--data',
        at('serve'),
        '--port',
        '0',
        '--services',
        'ca,tlog,tsa',
        '--allow-insecure-loopback-issuers',
        '--issuer',
        gcp.issuer,
        dex.issuer,
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    writeFileSync(at('app.exe'), 'MZ release built on a VM');
    // A "browser" (BROWSER is honoured as xdg-open does) that follows the sign-in URL back to the loopback listener.
    writeFileSync(
      at('browser.mjs'),
      `#!${process.execPath}\nconst r = await fetch(process.argv[2], { redirect: 'manual' });\nawait fetch(r.headers.get('location'));\n`,
    );
    chmodSync(at('browser.mjs'), 0o755);
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await gcp.close();
    await dex.close();
    tmp.dispose();
  });

  const trustedRoot = () => at('serve/trusted_root.json');

  function verifyBoth(file: string, bundle: string, identity: string, issuer: string) {
    return async () => {
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
        identity,
        issuer,
      });
      assert.deepEqual(verdict, { ok: true });
    };
  }

  it('Google Cloud: the metadata identity becomes a certificate for the service account', async () => {
    const r = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('gcp.json'), '--json'], {
      env: { ...CLEAN, VOUCH_HOME: at('home-gcp'), ...gcp.env() },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as {
      identitySource: string;
      identity: string;
      issuer: string;
      certificate: { extensions: Record<string, string> };
      verifyCommands: { vouch: string; cosign: string; trustedRoot: string };
    };
    assert.equal(out.identitySource, 'gcp');
    assert.equal(out.identity, VM_ACCOUNT);
    assert.equal(out.issuer, gcp.issuer);
    assert.equal(out.certificate.extensions.issuer, gcp.issuer);
    assert.ok(out.verifyCommands.vouch.includes(`--certificate-identity ${VM_ACCOUNT}`));
    assert.ok(out.verifyCommands.cosign.startsWith('cosign verify-blob'));
    assert.equal(out.verifyCommands.trustedRoot, `${url}/.well-known/vouch/trusted_root.json`);
    await verifyBoth(at('app.exe'), at('gcp.json'), VM_ACCOUNT, gcp.issuer)();
  });

  it('the printed verify command is the one that verifies', async () => {
    const r = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('gcp2.json')], {
      env: { ...CLEAN, VOUCH_HOME: at('home-gcp'), ...gcp.env() },
    });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.trim().startsWith('vouch verify '))!;
    assert.ok(line, r.stdout);
    const args = line.trim().split(/\s+/).slice(1);
    const v = await vouchAsync([...args, '--trusted-root', trustedRoot()], { env: { VOUCH_HOME: at('customer') } });
    assert.equal(v.status, 0, v.stderr);
  });

  it('a person: vouch login (browser flow), whoami, sign with the cached login, logout', async () => {
    const env = { ...CLEAN, VOUCH_HOME: at('home-alice'), BROWSER: at('browser.mjs') };
    const login = await vouchAsync(['login', '--instance', url, '--oidc-issuer', dex.issuer, '--json'], { env });
    assert.equal(login.status, 0, login.stderr);
    const l = login.json() as { identity: string; issuer: string; flow: string };
    assert.deepEqual([l.identity, l.issuer, l.flow], ['alice@example.com', dex.issuer, 'browser']);
    const { readdirSync } = await import('node:fs');
    const [file] = readdirSync(at('home-alice/logins'));
    assert.equal(statSync(at(`home-alice/logins/${file}`)).mode & 0o777, 0o600);

    const who = await vouchAsync(['whoami', '--instance', url, '--json'], { env });
    assert.equal(who.status, 0, who.stderr);
    const w = who.json() as { identitySource: string; identity: string; issuer: string };
    assert.deepEqual([w.identitySource, w.identity, w.issuer], ['cached-login', 'alice@example.com', dex.issuer]);

    const sign = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('alice.json'), '--json'], {
      env: { ...env, CI: 'true' },
    });
    assert.equal(sign.status, 0, sign.stderr);
    const s = sign.json() as { identitySource: string; identity: string; issuer: string };
    assert.deepEqual([s.identitySource, s.identity, s.issuer], ['cached-login', 'alice@example.com', dex.issuer]);
    await verifyBoth(at('app.exe'), at('alice.json'), 'alice@example.com', dex.issuer)();

    const out = await vouchAsync(['logout', '--instance', url, '--json'], { env });
    assert.equal(out.status, 0, out.stderr);
    assert.equal((out.json() as { removed: number }).removed, 1);
    const after = await vouchAsync(['whoami', '--instance', url], { env });
    assert.equal(errorCode(after.stderr), 'TOKEN_INVALID');
  });

  it('in CI, a detected provider without its token fails at once, never waiting for a person', async () => {
    const start = performance.now();
    const r = await vouchAsync(['sign', at('app.exe'), '--instance', url, '--bundle', at('ci.json')], {
      env: { ...CLEAN, VOUCH_HOME: at('home-ci'), CI: 'true', GITHUB_ACTIONS: 'true' },
    });
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'TOKEN_INVALID');
    assert.match(r.stderr, /id-token: write/);
    // A CLI start is ~0.2 s here; a device flow would wait minutes.
    assert.ok(performance.now() - start < 5000);
  });
});
