/**
 * `vouch deps` through the built CLI on inputs that need no registry: each bad input is one row with the code and
 * exit status it must end in (never a report, never "verified"). A registry that cannot be reached is exit 3 in
 * every output format.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { sarifValidator } from '../helpers/sarif-schema.ts';

const tmp = tempDir('vouch-deps-cli-');
after(() => tmp.dispose());

/** A project folder with these files (a package-lock.json naming one registry package unless given). */
function project(name: string, files: Record<string, string>): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

const integrity = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const lock = (registry: string) =>
  JSON.stringify({
    name: 'app',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'app', dependencies: { 'left-pad': '1.3.0' } },
      'node_modules/left-pad': {
        version: '1.3.0',
        resolved: `${registry}left-pad/-/left-pad-1.3.0.tgz`,
        integrity,
      },
    },
  });
// Port 1 on loopback: nothing listens, the connection is refused at once.
const DEAD = 'http://127.0.0.1:1/';
const npmrc = `registry=${DEAD}\n`;

/** A policy document (docs/policy.md) with this `dependencies` section (YAML lines). */
const policyYaml = (section: string) =>
  `apiVersion: vouch.dev/policy/v1\nsigners:\n  ci:\n    identity: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1\n    issuer: https://token.actions.githubusercontent.com\nrequire: ci\ndependencies:\n${section}`;

const env = () => ({
  VOUCH_HOME: join(tmp.path, 'home'),
  VOUCH_HTTP_TIMEOUT: '5',
  npm_config_userconfig: join(tmp.path, 'no-user-npmrc'),
  npm_config_globalconfig: join(tmp.path, 'no-global-npmrc'),
  npm_config_cache: join(tmp.path, 'npm-cache'),
  // Under `npm test` npm passes its own registry as npm_config_registry, which outranks a project's .npmrc.
  npm_config_registry: DEAD,
});

describe('vouch deps: bad input through the CLI', () => {
  const rows: { name: string; args: () => string[]; code: string; status: number; beforeCommand?: true }[] = [
    {
      name: 'a folder without a lockfile',
      args: () => ['deps', 'verify', project('empty', {})],
      code: 'FILE_NOT_FOUND',
      status: 2,
    },
    {
      name: 'a path that does not exist',
      args: () => ['deps', 'verify', join(tmp.path, 'nope')],
      code: 'FILE_NOT_FOUND',
      status: 2,
    },
    {
      name: 'a file that is no lockfile vouch reads',
      args: () => ['deps', 'verify', join(project('other', { 'Gemfile.lock': 'GEM\n' }), 'Gemfile.lock')],
      code: 'USAGE',
      status: 2,
    },
    {
      name: 'package-lock.json that is not JSON',
      args: () => ['deps', 'verify', project('garbage', { 'package-lock.json': '{"lockfileVersion": 3,' })],
      code: 'LOCKFILE_INVALID',
      status: 2,
    },
    {
      name: 'package-lock.json v1',
      args: () => [
        'deps',
        'verify',
        project('v1', { 'package-lock.json': '{"lockfileVersion": 1, "dependencies": {}}' }),
      ],
      code: 'LOCKFILE_INVALID',
      status: 2,
    },
    {
      name: 'a yarn berry lockfile',
      args: () => [
        'deps',
        'verify',
        project('berry', { 'yarn.lock': '__metadata:\n  version: 8\n  cacheKey: 10c0\n' }),
      ],
      code: 'LOCKFILE_INVALID',
      status: 2,
    },
    {
      name: 'a vouch-deps.lock.json that is not a lock',
      args: () => [
        'deps',
        'verify',
        project('badlock', { 'package-lock.json': lock(DEAD), 'vouch-deps.lock.json': '[]' }),
      ],
      code: 'LOCKFILE_INVALID',
      status: 2,
    },
    {
      name: '--concurrency 0',
      args: () => ['deps', 'verify', project('c0', { 'package-lock.json': lock(DEAD) }), '--concurrency', '0'],
      code: 'USAGE',
      status: 2,
    },
    {
      name: '--format of an unknown kind',
      args: () => ['deps', 'verify', project('fmt', { 'package-lock.json': lock(DEAD) }), '--format', 'xml'],
      code: 'USAGE',
      status: 2,
      // Refused while the command line is parsed, before `--json` is known: the error is on stderr only.
      beforeCommand: true,
    },
    {
      name: 'a policy whose dependencies section has an unknown key',
      args: () => {
        const dir = project('pol', { 'package-lock.json': lock(DEAD), 'p.yaml': policyYaml('  tagOnly: true\n') });
        return ['deps', 'verify', dir, '--policy', join(dir, 'p.yaml')];
      },
      code: 'POLICY_INVALID',
      status: 2,
    },
    {
      name: 'a policy that is not the one its digest names',
      args: () => {
        const dir = project('pdig', { 'package-lock.json': lock(DEAD), 'p.yaml': policyYaml('  tagsOnly: true\n') });
        return ['deps', 'verify', dir, '--policy', join(dir, 'p.yaml'), '--policy-digest', `sha256:${'0'.repeat(64)}`];
      },
      code: 'POLICY_DIGEST_MISMATCH',
      status: 1,
    },
    {
      name: '--policy-digest without --policy',
      args: () => [
        'deps',
        'verify',
        project('pdig2', { 'package-lock.json': lock(DEAD) }),
        '--policy-digest',
        `sha256:${'0'.repeat(64)}`,
      ],
      code: 'USAGE',
      status: 2,
    },
    {
      name: 'a policy that is /dev/zero',
      args: () => ['deps', 'verify', project('zero', { 'package-lock.json': lock(DEAD) }), '--policy', '/dev/zero'],
      code: 'POLICY_INVALID',
      status: 2,
    },
    {
      name: 'a trusted root that is not one',
      args: () => {
        const dir = project('root', { 'package-lock.json': lock(DEAD), 'root.json': '{}' });
        return ['deps', 'verify', dir, '--trusted-root', join(dir, 'root.json')];
      },
      code: 'TRUST_ROOT_INVALID',
      status: 2,
    },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.code}, exit ${row.status}`, () => {
      const r = vouch(row.args(), { env: env() });
      assert.equal(r.status, row.status, r.stderr);
      assert.equal(errorCode(r.stderr), row.code, r.stderr);
      if (row.beforeCommand) return;
      const j = vouch([...row.args(), '--json'], { env: env() });
      assert.equal(j.status, row.status);
      assert.equal((j.json() as { error: { code: string } }).error.code, row.code);
    });
  }

  it('a registry nobody answers at: exit 3 in text, --json, --format json and --format sarif; never a pass', () => {
    const dir = project('dead', { 'package-lock.json': lock(DEAD), '.npmrc': npmrc });
    const outputs: { args: string[]; check: (stdout: string) => void }[] = [
      {
        args: [],
        check: (s) => {
          assert.match(s, /^ {2}1 package: 0 integrity OK/);
          assert.match(s, /left-pad@1\.3\.0 +SERVICE_UNAVAILABLE/);
        },
      },
      {
        args: ['--json'],
        check: (s) => {
          const r = JSON.parse(s) as { exitStatus?: number; error?: { code: string } };
          assert.ok(r.exitStatus === 3 || r.error?.code === 'SERVICE_UNAVAILABLE', s);
        },
      },
      {
        args: ['--format', 'json'],
        check: (s) => {
          const r = JSON.parse(s) as { exitStatus?: number; error?: { code: string } };
          assert.ok(r.exitStatus === 3 || r.error?.code === 'SERVICE_UNAVAILABLE', s);
        },
      },
      {
        args: ['--format', 'sarif'],
        check: (s) => {
          const log = JSON.parse(s) as { runs: { results: { ruleId: string }[] }[] };
          const valid = sarifValidator();
          assert.ok(valid(log), JSON.stringify(valid.errors));
          assert.deepEqual(
            log.runs[0]!.results.map((x) => x.ruleId),
            ['SERVICE_UNAVAILABLE'],
          );
        },
      },
    ];
    for (const o of outputs) {
      const r = vouch(['deps', 'verify', dir, '--no-cache', ...o.args], { env: env() });
      assert.equal(r.status, 3, `${o.args.join(' ')}: ${r.stderr}`);
      o.check(r.stdout);
    }
  });

  it('--format json prints the same report as --json', () => {
    const dir = project('same', { 'package-lock.json': lock(DEAD), '.npmrc': npmrc });
    const a = vouch(['deps', 'verify', dir, '--json'], { env: env() });
    const b = vouch(['deps', 'verify', dir, '--format', 'json'], { env: env() });
    const strip = (s: string) => JSON.parse(s.replace(/"(durationMs|requests|cacheHits)": \d+/g, '"$1": 0'));
    assert.deepEqual(strip(a.stdout), strip(b.stdout));
  });
});
