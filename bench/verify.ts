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

function rate(fn: () => void): { perSecond: number; iterations: number } {
  for (let i = 0; i < 20; i++) fn(); // warm-up: JIT, caches of the trust material
  let iterations = 0;
  const start = performance.now();
  const budget = SECONDS * 1000;
  while (performance.now() - start < budget) {
    for (let i = 0; i < 10; i++) fn();
    iterations += 10;
  }
  return { perSecond: (iterations * 1000) / (performance.now() - start), iterations };
}

function bench(c: RealCase): string {
  const trust = loadTrustedRoot(c.trustedRootText);
  const policy = buildPolicy({ identities: [{ identity: c.identity!, issuer: c.issuer! }] });
  const oracle = createSigstoreJsVerifier({ trustedRootJson: c.trustedRootText });
  const ours = rate(() => {
    verify(c.bundleText, c.artifact, policy, trust);
  });
  const theirs = rate(() => {
    const v = oracle(c.bundleText, c.artifactBytes, { identity: c.identity!, issuer: c.issuer! });
    if (v.ok !== true) throw new Error(`sigstore-js failed: ${JSON.stringify(v)}`);
  });
  return `| ${c.name} | ${ours.perSecond.toFixed(0)} | ${theirs.perSecond.toFixed(0)} | ${(ours.perSecond / theirs.perSecond).toFixed(1)}x |`;
}

const rows = CASES.map((n) => bench(loadCase(n)));
const out = [
  '### Bundle verification (warm, one thread)',
  '',
  `Command: \`node bench/verify.ts\` (each side runs ${SECONDS}s after 20 warm-up verifications).`,
  '',
  '| bundle | vouch (bundles/s) | @sigstore/verify (bundles/s) | ratio |',
  '|---|---|---|---|',
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
