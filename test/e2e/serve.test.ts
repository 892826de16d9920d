/**
 * `vouch serve` as a team runs it: a child process on port 0; `vouch sign --instance URL` against it; verification
 * with the trusted_root.json it wrote; a bundle from another instance refused; SIGTERM stops it cleanly.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatServe } from '../../src/cli/format/serve.ts';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';

describe('vouch serve', () => {
  const tmp = tempDir('vouch-e2e-serve-');
  const at = (p: string) => join(tmp.path, p);
  let child: ChildProcess;
  let url = '';
  let exit: Promise<number | null>;

  before(async () => {
    child = spawn(process.execPath, [BIN, 'serve', '--data', at('trust'), '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    writeFileSync(at('app.exe'), 'MZ team release');
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    tmp.dispose();
  });

  let identity = '';
  let issuer = '';

  it('signs keyless against the served instance', () => {
    const r = vouch(['sign', at('app.exe'), '--instance', url, '--json'], { env: { VOUCH_HOME: at('home') } });
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { identity: string; issuer: string; instance: string };
    identity = out.identity;
    issuer = out.issuer;
    assert.ok(issuer.startsWith(url));
  });

  it('verifies with the trusted root the server wrote', () => {
    const r = vouch(
      [
        'verify',
        at('app.exe'),
        '--trusted-root',
        at('trust/trusted_root.json'),
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        '--json',
      ],
      { env: { VOUCH_HOME: at('other-home') } },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  it("refuses the bundle under another instance's trusted root", () => {
    const other = vouch(['sign', at('app.exe'), '--bundle', at('embedded.json'), '--json'], {
      env: { VOUCH_HOME: at('home2') },
    });
    assert.equal(other.status, 0, other.stderr);
    const r = vouch([
      'verify',
      at('app.exe'),
      '--trusted-root',
      at('trust/trusted_root.json'),
      '--bundle',
      at('embedded.json'),
      '--certificate-identity',
      identity,
      '--certificate-oidc-issuer',
      (other.json() as { issuer: string }).issuer,
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(['CHAIN_INVALID', 'TRUST_ROOT_MISMATCH'].includes(errorCode(r.stderr) ?? ''), r.stderr);
  });

  it('stops cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });
});

describe('vouch serve on a busy port', () => {
  it('fails with a usage error (exit 2), not a crash', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const tmp = tempDir('vouch-e2e-busy-');
    try {
      const r = vouch(['serve', '--data', join(tmp.path, 'd'), '--port', String(port)]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(errorCode(r.stderr), 'USAGE');
    } finally {
      busy.close();
      tmp.dispose();
    }
  });
});

/** Start `vouch serve --json` with these arguments; resolves with its summary once it listens. */
async function startServe(args: string[]): Promise<{ child: ChildProcess; summary: Record<string, unknown> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const summary = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Record<string, unknown>);
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, summary };
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('vouch serve keeps its public URL', () => {
  const tmp = tempDir('vouch-e2e-public-url-');
  const at = (p: string) => join(tmp.path, p);
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) await stopServe(c);
    tmp.dispose();
  });

  it('a restart on another port keeps the issuer, so one policy verifies signatures from before and after', async () => {
    writeFileSync(at('app.exe'), 'MZ release');
    const signed: { issuer: string; identity: string }[] = [];
    const urls: string[] = [];
    for (const run of [1, 2]) {
      const { child, summary } = await startServe(['--data', at('data')]);
      children.push(child);
      urls.push(summary.url as string);
      const r = vouch(
        ['sign', at('app.exe'), '--instance', summary.url as string, '--bundle', at(`run${run}.json`), '--json'],
        { env: { VOUCH_HOME: at('publisher') } },
      );
      assert.equal(r.status, 0, r.stderr);
      signed.push(r.json() as { issuer: string; identity: string });
      assert.equal(signed[signed.length - 1]!.issuer, summary.issuer);
      await stopServe(child);
    }
    assert.notEqual(urls[0], urls[1], 'port 0 should have given two ports');
    assert.equal(signed[1]!.issuer, signed[0]!.issuer);
    assert.equal(signed[0]!.issuer, `${urls[0]}/oidc`);
    assert.equal(readFileSync(at('data/public_url'), 'utf8').trim(), urls[0]);
    for (const run of [1, 2]) {
      const r = vouch(
        [
          'verify',
          at('app.exe'),
          '--bundle',
          at(`run${run}.json`),
          '--trusted-root',
          at('data/trusted_root.json'),
          '--certificate-identity',
          signed[0]!.identity,
          '--certificate-oidc-issuer',
          signed[0]!.issuer,
        ],
        { env: { VOUCH_HOME: at('customer') } },
      );
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('--public-url sets it (and a later --public-url replaces it)', async () => {
    for (const publicUrl of ['https://vouch.example.test', 'https://signing.example.test/']) {
      const { child, summary } = await startServe(['--data', at('data2'), '--public-url', publicUrl]);
      children.push(child);
      const base = publicUrl.replace(/\/$/, '');
      assert.equal(summary.issuer, `${base}/oidc`);
      assert.equal(readFileSync(at('data2/public_url'), 'utf8').trim(), base);
      await stopServe(child);
    }
    const { child, summary } = await startServe(['--data', at('data2')]);
    children.push(child);
    assert.equal(summary.issuer, 'https://signing.example.test/oidc');
    await stopServe(child);
  });

  it('refuses a --public-url that is not an http(s) URL, and a public_url file that holds none', () => {
    const r = vouch(['serve', '--data', at('data3'), '--port', '0', '--public-url', 'ftp://x']);
    assert.equal(errorCode(r.stderr), 'USAGE', r.stderr);
    mkdirSync(at('data4'));
    writeFileSync(at('data4/public_url'), 'not a url\n');
    const bad = vouch(['serve', '--data', at('data4'), '--port', '0']);
    assert.equal(errorCode(bad.stderr), 'CONFIG_INVALID', bad.stderr);
  });
});

describe('vouch serve --services', () => {
  const tmp = tempDir('vouch-e2e-services-');
  after(() => tmp.dispose());

  it('lists only the services it runs, the TSA with its full RFC 3161 path', async () => {
    const { child, summary } = await startServe(['--data', join(tmp.path, 'd'), '--services', 'ca,tlog,tsa']);
    try {
      const urls = summary.urls as Record<string, string>;
      assert.deepEqual(Object.keys(urls).sort(), ['ca', 'tlog', 'tsa']);
      assert.equal(urls.tsa, `${summary.url}/tsa/api/v1/timestamp`);
      assert.equal(summary.tuf, undefined);
      const res = await fetch(`${summary.url}/tuf/timestamp.json`);
      assert.equal(res.status, 404);
      const tsa = await fetch(urls.tsa!, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
      });
      assert.equal(tsa.status, 400); // the endpoint exists: an empty query is a bad request, not a 404
    } finally {
      await stopServe(child);
    }
  });

  it('prints the same list for a person', () => {
    const lines = formatServe({
      url: 'http://127.0.0.1:1',
      urls: { ca: 'http://127.0.0.1:1/ca', tsa: 'http://127.0.0.1:1/tsa/api/v1/timestamp' },
      dataDir: '/d',
      trustedRoot: '/d/trusted_root.json',
      signingConfig: '/d/signing_config.json',
      storage: 'sqlite',
      issuers: [],
      insecureLoopbackIssuers: false,
    });
    const text = lines.join('\n');
    assert.match(text, /CA +http:\/\/127\.0\.0\.1:1\/ca/);
    assert.match(text, /TSA +http:\/\/127\.0\.0\.1:1\/tsa\/api\/v1\/timestamp/);
    assert.doesNotMatch(text, /log|OIDC|TUF/);
  });
});
