/**
 * `vouch deps` end to end against a real npm registry (verdaccio, offline, on 127.0.0.1) holding a few hundred
 * packages with real registry signatures and real provenance made by vouch's own trust stack, installed by the real
 * `npm install`. Every attack of the issue is one package, and each must be reported with its code and nothing else:
 * a tampered tarball, a bad signature, an expired key, an unknown key, attestations for another package or digest,
 * provenance from another repository, a re-created repository, lost provenance, a trust downgrade, a file changed in
 * node_modules after install; a registry that times out is exit 3; a mirror without keys or attestations works.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadDepsPolicy } from '../../src/deps/policy.ts';
import type { DepsReport } from '../../src/deps/types.ts';
import { verifyDependencies } from '../../src/deps/verify.ts';
import { loadTrustedRoot } from '../../src/verify/trust.ts';
import { vouchAsync } from '../helpers/cli.ts';
import { sarifValidator } from '../helpers/sarif-schema.ts';
import { buildFixture, type Fixture, type Registry, startRegistry, type VersionSpec } from './fixture.ts';

const PLAIN = 240;
const repo = (name: string) => `git+https://github.com/acme/${name}.git`;
const days = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

function specs(): VersionSpec[] {
  const out: VersionSpec[] = [];
  for (let i = 0; i < PLAIN; i++) {
    const name = `pkg-${i}`;
    out.push({
      name,
      version: '1.0.0',
      repository: repo(name),
      ...(i % 4 === 0 ? { provenance: { repo: `acme/${name}`, repoId: String(1000 + i), ownerId: '77' } } : {}),
      ...(i % 8 === 0 ? { trustedPublisher: true } : {}),
    });
  }
  const prov = (name: string, extra: Partial<NonNullable<VersionSpec['provenance']>> = {}) => ({
    repo: `acme/${name}`,
    repoId: '42',
    ownerId: '77',
    ...extra,
  });
  out.push(
    { name: '@acme/scoped', version: '3.1.4', repository: 'github:acme/scoped', provenance: prov('scoped') },
    { name: 'tampered', version: '1.0.0' },
    { name: 'modme', version: '1.0.0', files: { 'index.js': 'module.exports = 1;\n', 'lib/a.js': '1;\n' } },
    { name: 'badsig', version: '1.0.0', signature: 'bad' },
    { name: 'oldkey', version: '1.0.0', signature: 'expired-key', time: '2021-06-01T00:00:00.000Z' },
    { name: 'unknownkey', version: '1.0.0', signature: 'unknown-key' },
    {
      name: 'wrongpkg',
      version: '1.0.0',
      repository: repo('wrongpkg'),
      provenance: prov('wrongpkg', { subject: 'other-package' }),
    },
    {
      name: 'wrongdigest',
      version: '1.0.0',
      repository: repo('wrongdigest'),
      provenance: prov('wrongdigest', { subject: 'other-digest' }),
    },
    {
      name: 'otherrepo',
      version: '1.0.0',
      repository: repo('otherrepo'),
      provenance: { repo: 'evil/otherrepo', repoId: '66' },
    },
    // History: the earlier versions are in the packument only; the lockfile locks the last one.
    {
      name: 'recreated',
      version: '1.0.0',
      repository: repo('recreated'),
      provenance: prov('recreated', { repoId: '500' }),
      time: days(20),
    },
    {
      name: 'recreated',
      version: '2.0.0',
      repository: repo('recreated'),
      provenance: prov('recreated', { repoId: '501' }),
      time: days(2),
    },
    { name: 'lostprov', version: '1.0.0', repository: repo('lostprov'), provenance: prov('lostprov'), time: days(20) },
    { name: 'lostprov', version: '1.1.0', repository: repo('lostprov'), time: days(2) },
    {
      name: 'downgrade',
      version: '1.0.0',
      repository: repo('downgrade'),
      provenance: prov('downgrade'),
      trustedPublisher: true,
      time: days(20),
    },
    {
      name: 'downgrade',
      version: '1.1.0',
      repository: repo('downgrade'),
      provenance: prov('downgrade'),
      time: days(2),
    },
    // Continuity against the lock, and the policy's rules.
    { name: 'lockchange', version: '1.0.0', repository: repo('lockchange'), provenance: prov('lockchange') },
    { name: 'signedonly', version: '1.0.0', repository: repo('signedonly') },
    {
      name: 'branchbuilt',
      version: '1.0.0',
      repository: repo('branchbuilt'),
      provenance: prov('branchbuilt', { ref: 'refs/heads/main' }),
    },
    {
      name: 'prt',
      version: '1.0.0',
      repository: repo('prt'),
      provenance: prov('prt', { trigger: 'pull_request_target' }),
    },
    { name: 'fresh', version: '1.0.0', time: new Date(Date.now() - 3_600_000).toISOString() },
  );
  return out;
}

/** A policy document holding nothing but what vouch deps reads (no signers: the `dependencies` section alone). */
const POLICY = { apiVersion: 'vouch.dev/policy/v1' };

/** The problems of the main project without a lock or policy: (package, code). */
const EXPECTED = [
  'badsig@1.0.0 REGISTRY_SIGNATURE_INVALID',
  'downgrade@1.1.0 TRUST_DOWNGRADE',
  'lostprov@1.1.0 PROVENANCE_MISSING',
  'modme@1.0.0 INSTALLED_FILE_MISMATCH',
  'oldkey@1.0.0 REGISTRY_KEY_EXPIRED',
  'otherrepo@1.0.0 PROVENANCE_REPOSITORY_MISMATCH',
  'recreated@2.0.0 PROVENANCE_IDENTITY_CHANGED',
  'tampered@1.0.0 PACKAGE_INTEGRITY_MISMATCH',
  'unknownkey@1.0.0 REGISTRY_KEY_UNKNOWN',
  'wrongdigest@1.0.0 ATTESTATION_SUBJECT_MISMATCH',
  'wrongpkg@1.0.0 ATTESTATION_SUBJECT_MISMATCH',
];

const pairs = (r: DepsReport, all = false) =>
  [...new Set(r.problems.filter((p) => all || !p.excepted).map((p) => `${p.package} ${p.code}`))].sort();

describe('vouch deps against a real npm registry', () => {
  let f: Fixture;
  let registry: Registry;
  let mirror: Registry | undefined;
  let project: string;
  let npmCache: string;
  const env = (extra: Record<string, string> = {}) => ({
    VOUCH_HOME: join(f.dir, 'home'),
    // An empty npm cache: vouch downloads every tarball, so the tampered one is seen.
    npm_config_cache: join(f.dir, 'empty-npm-cache'),
    ...extra,
  });
  const trustArgs = () => ['--trusted-root', f.trustedRootPath];
  const trust = () => [loadTrustedRoot(readFileSync(f.trustedRootPath, 'utf8'))];

  before(async () => {
    // Under `npm test`, npm's own settings arrive as npm_config_* variables (local_prefix would make the npm
    // install below install into this repository); the project's .npmrc must be the only configuration here.
    for (const k of Object.keys(process.env)) if (/^npm_/i.test(k)) delete process.env[k];
    f = await buildFixture(specs());
    registry = await startRegistry(f);
    project = join(f.dir, 'project');
    npmCache = join(f.dir, 'npm-cache');
    mkdirSync(project);
    const locked = new Map<string, string>();
    for (const v of f.versions) locked.set(v.spec.name, v.spec.version);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: Object.fromEntries(locked) }),
    );
    writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
    execFileSync(
      'npm',
      ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', npmCache, '--loglevel=error'],
      {
        cwd: project,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    // After the install: the registry starts serving other bytes for one tarball, and a file in node_modules changes.
    writeFileSync(join(f.storage, 'tampered', 'tampered-1.0.0.tgz'), f.byId.get('modme@1.0.0')!.tarball);
    writeFileSync(join(project, 'node_modules', 'modme', 'index.js'), 'module.exports = "pwned";\n');
  });

  after(async () => {
    await registry?.stop();
    await mirror?.stop();
    if (f) rmSync(f.dir, { recursive: true, force: true });
  });

  it('reports every attack with its code, and nothing else (exit 1); a warm run asks nothing more', async () => {
    const cold = await vouchAsync(['deps', 'verify', project, '--json', ...trustArgs()], { env: env() });
    assert.equal(cold.status, 1, cold.stderr);
    const r = cold.json() as DepsReport;
    assert.deepEqual(pairs(r), EXPECTED);
    assert.equal(r.summary.packages, PLAIN + 17);
    assert.equal(r.summary.integrityOk, r.summary.packages - 1);
    assert.equal(r.summary.registrySigned, r.summary.packages - 3);
    assert.equal(r.summary.installedChecked, r.summary.packages - 1);
    const modified = r.problems.find((p) => p.code === 'INSTALLED_FILE_MISMATCH')!;
    assert.equal(modified.file, 'node_modules/modme/index.js');
    const scoped = r.packages.find((p) => p.name === '@acme/scoped')!;
    assert.deepEqual(
      {
        level: scoped.level,
        own: scoped.ownRepository,
        repo: scoped.identity?.repository,
        id: scoped.identity?.repositoryId,
      },
      { level: 'provenance', own: true, repo: 'https://github.com/acme/scoped', id: '42' },
    );
    assert.equal(r.packages.find((p) => p.name === 'pkg-0')!.level, 'trusted-publisher');
    assert.equal(r.packages.find((p) => p.name === 'pkg-1')!.level, 'registry-signed');
    assert.equal(r.summary.withProvenance, r.summary.fromOwnRepository + 1);

    const warm = await vouchAsync(['deps', 'verify', project, '--json', ...trustArgs()], { env: env() });
    const w = warm.json() as DepsReport;
    assert.deepEqual(pairs(w), EXPECTED);
    // The keys (never cached: a rotation or revocation is seen at once) and the tampered tarball, which never
    // verified and so was never recorded.
    assert.ok(w.requests <= 2, `warm run made ${w.requests} requests`);
    assert.ok(w.cacheHits > r.summary.packages);
  });

  it('prints a summary line and one line per problem with its code; SARIF for code scanning', async () => {
    const text = await vouchAsync(['deps', 'verify', project, ...trustArgs()], { env: env() });
    assert.equal(text.status, 1);
    const lines = text.stdout.split('\n');
    assert.match(
      lines[0]!,
      /^ {2}\d+ packages: \d+ integrity OK, \d+ registry-signed, \d+ with provenance \(\d+ from their own repository\)$/,
    );
    for (const p of EXPECTED) {
      const [pkg, code] = p.split(' ');
      assert.ok(
        lines.some((l) => l.includes(pkg!) && l.includes(code!)),
        `no line for ${p}`,
      );
    }
    const sarif = await vouchAsync(['deps', 'verify', project, '--format', 'sarif', ...trustArgs()], { env: env() });
    assert.equal(sarif.status, 1);
    const log = sarif.json() as {
      version: string;
      runs: { results: { ruleId: string; level: string }[]; tool: { driver: { rules: { id: string }[] } } }[];
    };
    assert.equal(log.version, '2.1.0');
    const valid = sarifValidator();
    assert.ok(valid(log), JSON.stringify(valid.errors));
    assert.deepEqual(
      [...new Set(log.runs[0]!.results.map((x) => x.ruleId))].sort(),
      [...new Set(EXPECTED.map((p) => p.split(' ')[1]))].sort(),
    );
    assert.ok(log.runs[0]!.results.every((x) => x.level === 'error'));
  });

  it('vouch deps lock records identities; verify fails when one changes or disappears, until lock --update', async () => {
    const lockPath = join(project, 'vouch-deps.lock.json');
    const lock = await vouchAsync(['deps', 'lock', project, '--json', ...trustArgs()], { env: env() });
    assert.equal(lock.status, 0, lock.stderr);
    const written = JSON.parse(readFileSync(lockPath, 'utf8')) as {
      packages: Record<string, { level: string; identity?: Record<string, string> }>;
    };
    assert.deepEqual(written.packages.lockchange!.identity, {
      issuer: 'https://token.actions.githubusercontent.com',
      repository: 'https://github.com/acme/lockchange',
      repositoryId: '42',
      ownerId: '77',
      workflow: '.github/workflows/release.yml',
    });
    assert.deepEqual(written.packages.signedonly, { level: 'registry-signed', version: '1.0.0' });
    // The lock agrees with what is served: the same problems as without it.
    const same = await vouchAsync(['deps', 'verify', project, '--json', ...trustArgs()], { env: env() });
    assert.deepEqual(pairs(same.json() as DepsReport), EXPECTED);

    // The repository was deleted and re-created under the same name; a registry-signed package "had" provenance.
    written.packages.lockchange!.identity!.repositoryId = '41';
    written.packages.signedonly = {
      ...written.packages.signedonly!,
      level: 'provenance',
      identity: {
        issuer: 'https://token.actions.githubusercontent.com',
        repository: 'https://github.com/acme/signedonly',
      },
    };
    writeFileSync(lockPath, JSON.stringify(written));
    const changed = await vouchAsync(['deps', 'verify', project, '--json', ...trustArgs()], { env: env() });
    assert.equal(changed.status, 1);
    assert.deepEqual(
      pairs(changed.json() as DepsReport),
      [...EXPECTED, 'lockchange@1.0.0 PROVENANCE_IDENTITY_CHANGED', 'signedonly@1.0.0 PROVENANCE_MISSING'].sort(),
    );
    const plain = await vouchAsync(['deps', 'lock', project, ...trustArgs()], { env: env() });
    assert.match(plain.stdout, /differ from the lock .*lockchange, signedonly/);
    const accept = await vouchAsync(['deps', 'lock', project, '--update', 'lockchange', 'signedonly', ...trustArgs()], {
      env: env(),
    });
    assert.equal(accept.status, 0, accept.stderr);
    const again = await vouchAsync(['deps', 'verify', project, '--json', ...trustArgs()], { env: env() });
    assert.deepEqual(pairs(again.json() as DepsReport), EXPECTED);
    rmSync(lockPath);
  });

  it('the same verdicts from pnpm-lock.yaml v9 and yarn.lock v1 of the same install', async () => {
    const npmLock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; resolved?: string; integrity?: string }>;
    };
    const entries = Object.entries(npmLock.packages)
      .filter(([k]) => k.startsWith('node_modules/'))
      .map(([k, v]) => ({ name: k.slice('node_modules/'.length), ...v }));
    const pnpm = {
      lockfileVersion: '9.0',
      importers: {
        '.': {
          dependencies: Object.fromEntries(entries.map((e) => [e.name, { specifier: e.version, version: e.version }])),
        },
      },
      packages: Object.fromEntries(
        entries.map((e) => [`${e.name}@${e.version}`, { resolution: { integrity: e.integrity } }]),
      ),
      snapshots: Object.fromEntries(entries.map((e) => [`${e.name}@${e.version}`, {}])),
    };
    writeFileSync(join(project, 'pnpm-lock.yaml'), stringify(pnpm));
    const yarn = ['# yarn lockfile v1', ''];
    for (const e of entries) {
      // npm leaves `resolved` out for the configured registry; yarn always writes it.
      const resolved = e.resolved ?? `${registry.url}${e.name}/-/${e.name.replace(/^@[^/]+\//, '')}-${e.version}.tgz`;
      yarn.push(
        `"${e.name}@${e.version}":`,
        `  version "${e.version}"`,
        `  resolved "${resolved}"`,
        `  integrity ${e.integrity}`,
        '',
      );
    }
    writeFileSync(join(project, 'yarn.lock'), yarn.join('\n'));
    const options = { trust: trust(), env: { ...process.env, ...env() }, cacheDir: join(f.dir, 'lib-cache') };
    for (const file of ['pnpm-lock.yaml', 'yarn.lock']) {
      const r = await verifyDependencies(join(project, file), options);
      assert.deepEqual(pairs(r), EXPECTED, file);
      assert.equal(r.summary.installedChecked, r.summary.packages - 1, file);
    }
    rmSync(join(project, 'pnpm-lock.yaml'));
    rmSync(join(project, 'yarn.lock'));
  });

  it('the dependencies policy: provenance required, tags only, forbidden triggers, cooldown, exceptions', async () => {
    const policyPath = join(f.dir, 'policy.yaml');
    writeFileSync(
      policyPath,
      stringify({
        ...POLICY,
        dependencies: {
          requireProvenance: ['pkg-1', '@acme/*'],
          tagsOnly: true,
          forbiddenTriggers: ['pull_request_target'],
          allowedBuilders: ['https://github.com/actions/runner/github-hosted'],
          minimumReleaseAge: '1d',
          exceptions: [
            {
              package: 'badsig',
              codes: ['REGISTRY_SIGNATURE_INVALID'],
              reason: 'reported upstream',
              expires: '2999-12-31',
            },
            { package: 'oldkey@1.0.0', codes: ['REGISTRY_KEY_EXPIRED'], reason: 'too late', expires: '2020-01-01' },
          ],
        },
      }),
    );
    const policy = await loadDepsPolicy(policyPath);
    const r = await verifyDependencies(join(project, 'package-lock.json'), {
      trust: trust(),
      env: { ...process.env, ...env() },
      cacheDir: join(f.dir, 'lib-cache'),
      policy,
    });
    assert.deepEqual(
      pairs(r),
      [
        ...EXPECTED.filter((p) => !p.startsWith('badsig')),
        'branchbuilt@1.0.0 SOURCE_REF_NOT_ALLOWED',
        'fresh@1.0.0 RELEASE_TOO_RECENT',
        'pkg-1@1.0.0 PROVENANCE_REQUIRED',
        'prt@1.0.0 BUILD_TRIGGER_NOT_ALLOWED',
      ].sort(),
    );
    assert.deepEqual(r.problems.find((p) => p.package === 'badsig@1.0.0')!.excepted, {
      reason: 'reported upstream',
      expires: '2999-12-31',
    });
    assert.deepEqual(r.expiredExceptions, [{ package: 'oldkey@1.0.0', expires: '2020-01-01' }]);

    const cli = await vouchAsync(['deps', 'verify', project, '--policy', policyPath, '--json', ...trustArgs()], {
      env: env(),
    });
    assert.equal(cli.status, 1, cli.stderr);
    writeFileSync(policyPath, stringify({ ...POLICY, dependencies: { requireProvenance: ['*'], unknown: 1 } }));
    const bad = await vouchAsync(['deps', 'verify', project, '--policy', policyPath, ...trustArgs()], { env: env() });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /POLICY_INVALID/);
  });

  it('a mirror without keys or attestations: verified where it can be, unchecked elsewhere, never "signed"', async () => {
    mirror = await startRegistry(f, false);
    const clean = join(f.dir, 'clean');
    mkdirSync(clean);
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const keep = (k: string) => k === '' || /^node_modules\/pkg-\d+$/.test(k);
    lock.packages = Object.fromEntries(Object.entries(lock.packages).filter(([k]) => keep(k)));
    writeFileSync(join(clean, 'package-lock.json'), JSON.stringify(lock));
    writeFileSync(join(clean, '.npmrc'), `registry=${mirror.url}\n`);
    const r = await vouchAsync(['deps', 'verify', clean, '--json', ...trustArgs()], { env: env() });
    assert.equal(r.status, 0, r.stdout);
    const report = r.json() as DepsReport;
    assert.equal(report.summary.registrySigned, 0);
    assert.equal(report.summary.signaturesUnchecked, PLAIN);
    assert.equal(report.summary.provenanceUnavailable, PLAIN / 4);
    assert.equal(report.summary.integrityOk, PLAIN);
    const strict = await vouchAsync(['deps', 'verify', clean, '--json', '--require-signatures', ...trustArgs()], {
      env: env(),
    });
    assert.equal(strict.status, 1);
    assert.equal(
      (strict.json() as DepsReport).problems.filter((p) => p.code === 'REGISTRY_SIGNATURE_MISSING').length,
      PLAIN,
    );
  });

  it('a registry that does not answer in time is exit 3, never a pass', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s); // accepts, then says nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slow = join(f.dir, 'slow');
    mkdirSync(slow);
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const v = f.byId.get('pkg-1@1.0.0')!;
    writeFileSync(
      join(slow, 'package-lock.json'),
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'slow' },
          'node_modules/pkg-1': {
            version: '1.0.0',
            resolved: `${registry.url}pkg-1/-/pkg-1-1.0.0.tgz`,
            integrity: v.integrity,
          },
          'node_modules/@slow/pkg': {
            version: '1.0.0',
            resolved: `${url}@slow/pkg/-/pkg-1.0.0.tgz`,
            integrity: v.integrity,
          },
        },
      }),
    );
    writeFileSync(join(slow, '.npmrc'), `registry=${registry.url}\n@slow:registry=${url}\n`);
    try {
      const r = await vouchAsync(['deps', 'verify', slow, '--json', '--no-cache', ...trustArgs()], {
        env: env({ VOUCH_HTTP_TIMEOUT: '1' }),
      });
      assert.equal(r.status, 3, r.stdout);
      assert.deepEqual(pairs(r.json() as DepsReport), ['@slow/pkg@1.0.0 SERVICE_UNAVAILABLE']);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
