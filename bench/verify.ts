/**
 * Bundle verification throughput, warm and single-threaded, vouch's verifier beside the official @sigstore/verify
 * on the same bundles and trust material in the same process: the production npm provenance of sigstore@2.0.0
 * (v0.1, DSSE, intoto/0.0.2, verified by sha512 digest) and a v0.3 hashedrekord bundle (over the artifact bytes).
 * Each iteration starts from the bundle's JSON text (parsing is part of the job for both). Then the cold cost:
 * one verification in a fresh process, with hyperfine, next to `node -e 0`.
 * Run: node bench/verify.ts   (or npm run bench -- verify)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildPolicy, loadTrustedRoot, verify } from '../src/verify/index.ts';
import { loadCase, type RealCase } from '../test/helpers/realbundles.ts';
import { createSigstoreJsVerifier } from '../test/helpers/sigstore-verify.ts';
import { hyperfine, NODE, REPO, table } from './lib.ts';

const CASES = ['prod-npm-provenance-sigstore-2.0.0', 'prod-v0.3-hashedrekord'];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const ROUNDS = 6;

interface Rate {
  /** Verifications per second of wall time. */
  wall: number;
  /** Verifications per second of this process's CPU time (robust when other processes share the cores). */
  cpu: number;
}

/** Run `fn` for `ms` milliseconds; returns iterations and the wall/CPU time they took. */
function slice(fn: () => void, ms: number): { n: number; wall: number; cpu: number } {
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 5; i++) fn();
    n += 5;
  }
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { n, wall, cpu: (c.user + c.system) / 1000 };
}

/**
 * Both sides alternate in ROUNDS short slices (so load from other processes hits both alike), after 20 warm-up
 * calls each; the median slice rate of each side is reported.
 */
function compare(a: () => void, b: () => void): [Rate, Rate] {
  for (let i = 0; i < 20; i++) {
    a();
    b();
  }
  const ra: Rate[] = [];
  const rb: Rate[] = [];
  const per = (SECONDS * 1000) / ROUNDS;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [fn, out] of [
      [a, ra],
      [b, rb],
    ] as const) {
      const s = slice(fn, per);
      out.push({ wall: (s.n * 1000) / s.wall, cpu: (s.n * 1000) / s.cpu });
    }
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const m = (rs: Rate[]): Rate => ({ wall: median(rs.map((r) => r.wall)), cpu: median(rs.map((r) => r.cpu)) });
  return [m(ra), m(rb)];
}

function bench(c: RealCase): string {
  const trust = loadTrustedRoot(c.trustedRootText);
  const policy = buildPolicy({ identities: [{ identity: c.identity!, issuer: c.issuer! }] });
  const oracle = createSigstoreJsVerifier({ trustedRootJson: c.trustedRootText });
  const [ours, theirs] = compare(
    () => {
      verify(c.bundleText, c.artifact, policy, trust);
    },
    () => {
      const v = oracle(c.bundleText, c.artifactBytes, { identity: c.identity!, issuer: c.issuer! });
      if (v.ok !== true) throw new Error(`sigstore-js failed: ${JSON.stringify(v)}`);
    },
  );
  return `| ${c.name} | ${ours.wall.toFixed(0)} | ${theirs.wall.toFixed(0)} | ${(ours.wall / theirs.wall).toFixed(1)}x | ${ours.cpu.toFixed(0)} | ${theirs.cpu.toFixed(0)} | ${(ours.cpu / theirs.cpu).toFixed(1)}x |`;
}

const rows = CASES.map((n) => bench(loadCase(n)));
const out = [
  '### Bundle verification (warm, one thread)',
  '',
  `Command: \`node bench/verify.ts\` (${ROUNDS} alternating slices per side, ${SECONDS}s per side, medians;`,
  '"per CPU-s" divides by the process CPU time, which stays meaningful when other processes share the cores).',
  '',
  '| bundle | vouch /s | @sigstore/verify /s | ratio | vouch per CPU-s | @sigstore/verify per CPU-s | ratio |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
];
process.stdout.write(out.join('\n'));

if (process.env.BENCH_NO_COLD !== '1') {
  // Both probes are bundled with esbuild (as bin/vouch.mjs is shipped), so the cold figure is not dominated by
  // type-stripping .ts files at startup.
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-verify-'));
  try {
    const build = (name: string) => {
      const out = join(dir, `${name}.mjs`);
      execFileSync(
        join(REPO, 'node_modules/.bin/esbuild'),
        [
          join(import.meta.dirname, `${name}.ts`),
          '--bundle',
          '--platform=node',
          '--format=esm',
          `--outfile=${out}`,
          '--log-level=warning',
          // realbundles.ts finds the shared dir relative to its own file: keep that path meaningful once bundled.
          `--define:import.meta.url=${JSON.stringify(pathToFileURL(join(REPO, 'test/helpers/realbundles.ts')).href)}`,
          "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
        ],
        { stdio: 'inherit' },
      );
      return out;
    };
    const ours = build('verify-once');
    const theirs = build('verify-once-sigstore');
    const cold = hyperfine(
      [
        { name: 'node -e 0', cmd: `${NODE} -e 0` },
        { name: 'vouch verifier, 1 bundle', cmd: `${NODE} ${ours}` },
        { name: '@sigstore/verify, 1 bundle', cmd: `${NODE} ${theirs}` },
      ],
      { runs: 15, warmup: 2 },
    );
    process.stdout.write(
      [
        '',
        '### One verification in a fresh process (cold, v0.3 hashedrekord, esbuild bundles)',
        '',
        'Command: `node bench/verify.ts` (hyperfine over bench/verify-once.ts and bench/verify-once-sigstore.ts)',
        '',
        table(cold, 'node -e 0'),
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
