/**
 * `vouch deps verify` over 1,000 packages against a local verdaccio (test/deps/fixture.ts: real registry signatures,
 * provenance bundles from vouch's own trust stack for one package in four), beside the checks `npm audit
 * signatures` runs: pacote's `manifest()` with `verifySignatures` and `verifyAttestations` for every package, as
 * npm calls it (full packuments, the keys endpoint's keys, attestations fetched and verified by sigstore-js). npm
 * itself cannot run here: it insists on the public Sigstore TUF service. So pacote gets a TUF cache holding the test
 * stack's trusted root (made by vouch serve's TUF repository code), and sigstore-js is told not to require SCTs,
 * which the test CA does not issue; it still verifies the chain, the log entries and every signature.
 *
 * Reported: wall time and requests made (counted by a proxy in front of verdaccio), cold (empty caches) and warm
 * (vouch's cache, pacote's HTTP cache). vouch runs twice cold: with npm's cache holding the tarballs (as after
 * `npm ci`; vouch then reads them there) and with an empty npm cache (vouch downloads them too, which pacote's
 * manifest checks never do). Usage: node bench/deps.ts [PACKAGES]
 */

import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyDependencies } from '../src/deps/verify.ts';
import { TRUSTED_ROOT_TARGET, TufRepository } from '../src/server/tuf/repository.ts';
import { DirectoryTufStore } from '../src/server/tuf/store.ts';
import { loadTrustedRoot } from '../src/verify/trust.ts';
import { buildFixture, keysDocument, startRegistry, type VersionSpec } from '../test/deps/fixture.ts';

const require = createRequire(import.meta.url);
const N = Number(process.argv[2] ?? 1000);
const work = mkdtempSync(join(tmpdir(), 'vouch-bench-deps-'));

/** A counting HTTP proxy in front of the registry: every request either tool makes goes through it. */
async function countingProxy(target: string) {
  const t = new URL(target);
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    const up = httpRequest(
      { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(up);
    up.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    take: () => {
      const c = count;
      count = 0;
      return c;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TUF cache, laid out as @sigstore/tuf keeps it for the public mirror, whose trusted_root.json is the test stack's. */
function tufCache(dir: string, trustedRoot: Buffer): string {
  const key = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const repo = TufRepository.open({
    store: new DirectoryTufStore(join(dir, 'repo')),
    keys: { root: key(), targets: key(), snapshot: key(), timestamp: key() },
    targets: { [TRUSTED_ROOT_TARGET]: trustedRoot },
  });
  const v = repo.versions();
  const cache = join(dir, 'cache');
  const mirror = join(cache, encodeURIComponent('tuf-repo-cdn.sigstore.dev'));
  mkdirSync(join(mirror, 'targets'), { recursive: true });
  writeFileSync(join(mirror, 'root.json'), repo.file(`${v.root}.root.json`)!);
  writeFileSync(join(mirror, 'timestamp.json'), repo.file('timestamp.json')!);
  writeFileSync(join(mirror, 'snapshot.json'), repo.file(`${v.snapshot}.snapshot.json`)!);
  writeFileSync(join(mirror, 'targets.json'), repo.file(`${v.targets}.targets.json`)!);
  const hash = createHash('sha256').update(trustedRoot).digest('hex');
  writeFileSync(join(mirror, 'targets', TRUSTED_ROOT_TARGET), repo.file(`targets/${hash}.${TRUSTED_ROOT_TARGET}`)!);
  return cache;
}

const specs: VersionSpec[] = [];
for (let i = 0; i < N; i++) {
  const name = i % 10 === 0 ? `@bench/pkg-${i}` : `pkg-${i}`;
  const short = name.replace('@bench/', '');
  specs.push({
    name,
    version: '1.0.0',
    repository: `git+https://github.com/bench/${short}.git`,
    ...(i % 4 === 0 ? { provenance: { repo: `bench/${short}`, repoId: String(10_000 + i), ownerId: '1' } } : {}),
  });
}

let t = performance.now();
const f = await buildFixture(specs, { dir: join(work, 'fixture') });
process.stderr.write(
  `bench deps: fixture of ${N} packages built in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
);
const registry = await startRegistry(f);
const proxy = await countingProxy(registry.url);

// The project: a package-lock.json v3 of every package (no node_modules: the registry checks alone are compared).
const project = join(work, 'project');
mkdirSync(project);
const lock: Record<string, unknown> = { '': { name: 'bench', version: '1.0.0' } };
for (const v of f.versions) {
  const short = v.spec.name.replace(/^@bench\//, '');
  lock[`node_modules/${v.spec.name}`] = {
    version: v.spec.version,
    resolved: `${proxy.url}${v.spec.name}/-/${short}-${v.spec.version}.tgz`,
    integrity: v.integrity,
  };
}
writeFileSync(
  join(project, 'package-lock.json'),
  JSON.stringify({ name: 'bench', lockfileVersion: 3, packages: lock }),
);
writeFileSync(join(project, '.npmrc'), `registry=${proxy.url}\n`);

// npm's content-addressed cache holding every tarball, as `npm ci` leaves it.
const npmCache = join(work, 'npm-cache');
for (const v of f.versions) {
  const hex = createHash('sha512').update(v.tarball).digest('hex');
  const dir = join(npmCache, '_cacache', 'content-v2', 'sha512', hex.slice(0, 2), hex.slice(2, 4));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, hex.slice(4)), v.tarball);
}
const emptyNpmCache = join(work, 'empty-npm-cache');
const trust = [loadTrustedRoot(readFileSync(f.trustedRootPath, 'utf8'))];

async function vouchRun(cacheDir: string, npmCacheDir: string) {
  proxy.take();
  const start = performance.now();
  const r = await verifyDependencies(join(project, 'package-lock.json'), {
    trust,
    cacheDir,
    depsLock: false,
    env: { ...process.env, HOME: work, npm_config_cache: npmCacheDir },
  });
  const ms = performance.now() - start;
  if (!r.ok || r.summary.withProvenance !== Math.ceil(N / 4) || r.summary.registrySigned !== N) {
    throw new Error(
      `vouch run did not verify everything: ${JSON.stringify(r.summary)} ${JSON.stringify(r.problems.slice(0, 3))}`,
    );
  }
  return { ms, requests: proxy.take() };
}

// The baseline: pacote as npm audit signatures calls it, every package at once (npm's agent caps the sockets).
const pacote = require('pacote') as { manifest: (spec: string, opts: Record<string, unknown>) => Promise<unknown> };
// pacote's own sigstore (its dependency, not vouch's): the test CA issues no SCTs, so sigstore-js is told not to
// require one; everything else it checks as for the public instance.
const pacoteRequire = createRequire(require.resolve('pacote'));
const sigstore = pacoteRequire(pacoteRequire.resolve('sigstore').replace(/index\.js$/, 'sigstore.js')) as {
  verify: (b: unknown, o: Record<string, unknown>) => Promise<unknown>;
};
const sigstoreVerify = sigstore.verify;
sigstore.verify = (b, o) => sigstoreVerify(b, { ...o, ctLogThreshold: 0 });
const keys = keysDocument(f.keys).keys.map((k) => ({
  ...k,
  pemkey: `-----BEGIN PUBLIC KEY-----\n${k.key}\n-----END PUBLIC KEY-----`,
}));
const tuf = tufCache(
  join(work, 'tuf'),
  Buffer.from(JSON.stringify(JSON.parse(readFileSync(f.trustedRootPath, 'utf8')))),
);

async function pacoteRun(cache: string) {
  proxy.take();
  const u = new URL(proxy.url);
  const opts = {
    registry: proxy.url,
    cache,
    tufCache: tuf,
    fullMetadata: true,
    verifySignatures: true,
    verifyAttestations: true,
    before: null,
    [`//${u.host}${u.pathname}:_keys`]: keys,
  };
  const start = performance.now();
  // npm audit signatures first asks the registry for its keys (once).
  await fetch(`${proxy.url}-/npm/v1/keys`).then((r) => r.json());
  await Promise.all(f.versions.map((v) => pacote.manifest(`${v.spec.name}@${v.spec.version}`, opts)));
  return { ms: performance.now() - start, requests: proxy.take() };
}

const rounds = 3;
const results: Record<string, { ms: number[]; requests: number }> = {};
const note = (name: string, r: { ms: number; requests: number }) => {
  results[name] ??= { ms: [], requests: r.requests };
  results[name].ms.push(r.ms);
};
for (let round = 0; round < rounds; round++) {
  // Alternating which tool goes first, so neither always runs on a machine the other just warmed or loaded.
  const c = join(work, `pacote-${round}`);
  const v = join(work, `vouch-${round}`);
  const runPacote = async () => {
    note('pacote verifySignatures + verifyAttestations, cold', await pacoteRun(c));
    note('pacote, warm (its HTTP cache)', await pacoteRun(c));
  };
  if (round % 2 === 0) await runPacote();
  note(
    'vouch deps verify, cold (tarballs downloaded too)',
    await vouchRun(join(work, `vouch-dl-${round}`), emptyNpmCache),
  );
  note("vouch deps verify, cold (tarballs from npm's cache)", await vouchRun(v, npmCache));
  note('vouch deps verify, warm', await vouchRun(v, npmCache));
  if (round % 2 === 1) await runPacote();
  rmSync(c, { recursive: true, force: true });
}
t = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results['pacote verifySignatures + verifyAttestations, cold']!.ms);
const lines = [
  `### vouch deps verify: ${N} packages (${Math.ceil(N / 4)} with provenance) against a local verdaccio`,
  '| run | median wall time (s) | requests | ratio vs pacote cold |',
  '|---|---|---|---|',
];
for (const [name, r] of Object.entries(results)) {
  const m = median(r.ms);
  lines.push(`| ${name} | ${(m / 1000).toFixed(2)} | ${r.requests} | ${(m / base).toFixed(3)} |`);
}
lines.push('', `Median of ${rounds} rounds; each round starts from empty caches.`);
process.stdout.write(`${lines.join('\n')}\n`);
await proxy.close();
await registry.stop();
rmSync(work, { recursive: true, force: true });
