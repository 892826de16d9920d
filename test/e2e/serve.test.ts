/**
 * `vouch serve` as a team runs it: a child process on port 0; `vouch sign --instance URL` against it; verification
 * with the trusted_root.json it wrote; a bundle from another instance refused; SIGTERM stops it cleanly.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
