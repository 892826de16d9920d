/**
 * The package as a user installs it: `npm pack`, then `npm install --ignore-scripts` of that tarball into a fresh
 * project (from npm's cache where it has the dependencies). A signing tool must work the same when install scripts
 * are skipped (npm ci --ignore-scripts, pnpm 10, Bun, Yarn Berry), so the tarball holds no native code and no
 * install script, and the installed CLI signs and verifies exactly as the repository's own build does.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, tempDir, vouch } from '../helpers/cli.ts';

/** The registry package holding this platform's Node binary (as the `node` package names it). */
const NODE_PACKAGE = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    maxBuffer: 64 << 20,
  });
}

describe('the npm package installs with --ignore-scripts and works identically', { timeout: 300_000 }, () => {
  const tmp = tempDir('vouch-pack-');
  const at = (p: string) => join(tmp.path, p);
  after(tmp.dispose);
  let files: string[] = [];
  let installed = '';
  let node22 = '';

  before(() => {
    // dist is built by `npm test` before the tests run: pack it as it is.
    const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.path], REPO)) as {
      filename: string;
      files: { path: string }[];
    }[];
    files = packed[0]!.files.map((f) => f.path);
    mkdirSync(at('consumer'));
    writeFileSync(at('consumer/package.json'), JSON.stringify({ name: 'consumer', private: true }));
    npm(['install', '--ignore-scripts', '--prefer-offline', '--no-save', at(packed[0]!.filename)], at('consumer'));
    installed = at('consumer/node_modules/vouch');
    // Node 22, the oldest release `engines` allows, from the registry package that ships its binary (the one the
    // `node` package's install script would fetch), so the packed CLI is run on both supported majors.
    mkdirSync(at('node22'));
    writeFileSync(at('node22/package.json'), JSON.stringify({ name: 'node22', private: true }));
    npm(['install', '--ignore-scripts', '--prefer-offline', '--no-save', `${NODE_PACKAGE}@22`], at('node22'));
    node22 = at(`node22/node_modules/${NODE_PACKAGE}/bin/node`);
  });

  it('holds no native code and declares no install script', () => {
    assert.ok(files.includes('bin/vouch.mjs') && files.includes('dist/cli/main.mjs'), files.join(' '));
    for (const f of files) assert.doesNotMatch(f, /\.(c|cc|h|node|gyp)$|^native\/|binding\.gyp/, f);
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      scripts?: object;
      gypfile?: unknown;
    };
    for (const s of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts?.[s as never], undefined, s);
    assert.equal(pkg.gypfile, undefined);
    assert.deepEqual(
      readdirSync(installed).filter(
        (f) => !['bin', 'dist', 'assets', 'package.json', 'README.md', 'LICENSE'].includes(f),
      ),
      [],
    );
  });

  it('signs and verifies a directory as the repository build does, each verifying the other', () => {
    const bin = join(installed, 'bin', 'vouch.mjs');
    const env = { VOUCH_HOME: at('home'), VOUCH_PASSWORD: 'correct horse' };
    const installedVouch = (args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    mkdirSync(at('tree/lib'), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(at(`tree/lib/f${i}.js`), `module.exports = ${i};\n`);
    writeFileSync(at('tree/run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(installedVouch(['keygen', '--out', at('k')]).status, 0);
    const a = installedVouch(['sign', `dir:${at('tree')}`, '--key', at('k.key'), '--bundle', at('a.json'), '--json']);
    assert.equal(a.status, 0, a.stderr);
    const b = vouch(['sign', `dir:${at('tree')}`, '--key', at('k.key'), '--bundle', at('b.json'), '--json'], { env });
    assert.equal(b.status, 0, b.stderr);
    // Same statement, same digest: the signatures differ only by ECDSA's randomness.
    assert.deepEqual({ ...JSON.parse(a.stdout), bundlePath: '' }, { ...(b.json() as object), bundlePath: '' });
    const verdicts = [
      installedVouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub'), '--bundle', at('b.json'), '--json']),
      vouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub'), '--bundle', at('a.json'), '--json'], { env }),
    ];
    for (const v of verdicts) assert.equal(v.status, 0, v.stderr);
    assert.deepEqual(JSON.parse(verdicts[0]!.stdout), JSON.parse(verdicts[1]!.stdout));
    writeFileSync(at('tree/lib/f7.js'), 'tampered');
    const bad = installedVouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub'), '--bundle', at('a.json')]);
    assert.equal(bad.status, 1, bad.stderr);
  });

  it('runs keyless sign and verify on Node 22 and Node 24 with nothing on stderr but its own output', () => {
    const bin = join(installed, 'bin', 'vouch.mjs');
    writeFileSync(at('release.txt'), 'release 1\n');
    for (const [major, node] of [
      ['22', node22],
      ['24', process.execPath],
    ] as const) {
      const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
      assert.match(version, new RegExp(`^v${major}\\.`), `${node} is Node ${major}`);
      const env = {
        ...process.env,
        VOUCH_HOME: at(`home-${major}`),
        SIGSTORE_ID_TOKEN: '',
        ACTIONS_ID_TOKEN_REQUEST_URL: '',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
      };
      const run = (args: string[]) => spawnSync(node, [bin, ...args], { env, encoding: 'utf8' });
      const bundle = at(`release-${major}.json`);
      const s = run(['sign', at('release.txt'), '--bundle', bundle, '--json']);
      assert.equal(s.status, 0, s.stderr);
      // Node 22 calls node:sqlite experimental: its warning must not reach the user (nor any other warning).
      assert.doesNotMatch(s.stderr, /Warning/, `Node ${major}: ${s.stderr}`);
      const who = JSON.parse(s.stdout) as { identity: string; issuer: string };
      const v = run([
        'verify',
        at('release.txt'),
        '--bundle',
        bundle,
        '--certificate-identity',
        who.identity,
        '--certificate-oidc-issuer',
        who.issuer,
      ]);
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr, '', `Node ${major}`);
    }
  });
});
