/**
 * What a policy costs. Real keyless bundles from a vouch CA (GitHub Actions and e-mail identities, log entry and
 * timestamp each), warm, one thread, in alternating slices so both sides see the same machine:
 * - one bundle: the verifier with an identity policy (what `vouch verify --certificate-identity` runs), beside the
 *   policy path (the verifier accepting any identity, then the policy evaluated): target under 5% more;
 * - ten bundles of ten distinct signers against `threshold: 7` of ten: target under 10x one bundle;
 * - the same through the workflows (bundle files read, artifact hashed): verifyTarget beside verifyWithPolicy.
 * Run: node bench/policy.ts   (or npm run bench -- policy)
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { evaluatePolicy, type SignatureOutcome } from '../src/policy/evaluate.ts';
import { parsePolicy } from '../src/policy/load.ts';
import { parseBundle } from '../src/verify/bundle.ts';
import { buildPolicy } from '../src/verify/policy.ts';
import type { ArtifactInput } from '../src/verify/types.ts';
import { verify } from '../src/verify/verifier.ts';
import { verifyTarget } from '../src/workflow/verify.ts';
import { verifyWithPolicy } from '../src/workflow/verify-policy.ts';
import { GITHUB_ISSUER, PERSON_ISSUER, releaseClaims, startGitHubCa } from '../test/helpers/github-release.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const RUNS = 200;
const IDENTITY = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2';

const ca = await startGitHubCa();
const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-policy-'));
try {
  const artifact = Buffer.from('MZ acme app 1.4.2');
  const input: ArtifactInput = {
    kind: 'digest',
    algorithm: 'sha256',
    digest: createHash('sha256').update(artifact).digest(),
    bytes: artifact,
  };
  const ci = await ca.sign(artifact, releaseClaims());
  const people: string[] = [];
  for (let i = 0; i < 10; i++) people.push(await ca.signAsPerson(artifact, `rm${i}@acme.test`));
  writeFileSync(join(dir, 'app.exe'), artifact);
  writeFileSync(join(dir, 'app.exe.sigstore.json'), ci);
  people.forEach((b, i) => {
    writeFileSync(join(dir, `rm${i}.json`), b);
  });

  const trust = [ca.trust];
  const identityPolicy = buildPolicy({ identities: [{ identity: IDENTITY, issuer: GITHUB_ISSUER }] });
  const any = buildPolicy({ identities: [{ identityRegexp: '[\\s\\S]*', issuerRegexp: '[\\s\\S]*' }] });
  const one = parsePolicy(
    stringify({
      apiVersion: 'vouch.dev/policy/v1',
      signers: {
        ci: {
          identity: { glob: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v*' },
          issuer: GITHUB_ISSUER,
          extensions: { sourceRepositoryURI: 'https://github.com/acme/app', sourceRepositoryIdentifier: '123456789' },
        },
      },
      require: 'ci',
      conditions: { trigger: { noneOf: ['pull_request_target'] }, ref: { glob: 'refs/tags/v*' } },
    }),
    'one.yaml',
  );
  const names = people.map((_, i) => `rm${i}`);
  const ten = parsePolicy(
    stringify({
      apiVersion: 'vouch.dev/policy/v1',
      signers: Object.fromEntries(names.map((n) => [n, { identity: `${n}@acme.test`, issuer: PERSON_ISSUER }])),
      require: { threshold: 7, of: names },
    }),
    'ten.yaml',
  );
  const ctx = { now: Date.now(), target: { kind: 'file' as const, name: 'app.exe' } };
  const policyPath = (texts: string[], policy: typeof one) => {
    const outcomes: SignatureOutcome[] = texts.map((t, i) => ({
      source: `b${i}`,
      verified: true,
      result: verify(parseBundle(t), input, any, trust),
      roots: [],
    }));
    const e = evaluatePolicy(policy, outcomes, ctx);
    if (!e.satisfied) throw new Error('the benchmark policy is not met');
  };

  const sides = {
    plain: () => {
      verify(parseBundle(ci), input, identityPolicy, trust);
    },
    policy1: () => policyPath([ci], one),
    policy10: () => policyPath(people, ten),
    evaluateOnly: (() => {
      const outcomes: SignatureOutcome[] = [
        { source: 'b', verified: true, result: verify(parseBundle(ci), input, any, trust), roots: [] },
      ];
      return () => {
        evaluatePolicy(one, outcomes, ctx);
      };
    })(),
  };
  /**
   * CPU ms per call of each side: many short rounds, the sides interleaved within each round, CPU time summed per
   * side (this process's CPU time stays meaningful when other processes share the cores).
   */
  const cpu: Record<string, { ms: number; n: number }> = {};
  const deadline = performance.now() + SECONDS * 1000 * Object.keys(sides).length;
  while (performance.now() < deadline) {
    for (const [name, fn] of Object.entries(sides)) {
      const batch = name === 'policy10' ? 2 : name === 'evaluateOnly' ? 200 : 20;
      const c0 = process.cpuUsage();
      for (let i = 0; i < batch; i++) fn();
      const c = process.cpuUsage(c0);
      const acc = cpu[name] ?? { ms: 0, n: 0 };
      cpu[name] = acc;
      acc.ms += (c.user + c.system) / 1000;
      acc.n += batch;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v.ms / v.n])) as Record<
    keyof typeof sides,
    number
  >;

  // Through the workflows: bundle files read, artifact hashed, as the CLI runs them (trust given).
  const file = join(dir, 'app.exe');
  const wf: Record<string, number[]> = { plain: [], policy1: [], policy10: [] };
  const tenFiles = names.map((n) => join(dir, `${n}.json`));
  const cpuOf = async (fn: () => Promise<unknown>) => {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  for (let r = 0; r < RUNS; r++) {
    wf.plain!.push(
      await cpuOf(() => verifyTarget(file, { identities: [{ identity: IDENTITY, issuer: GITHUB_ISSUER }], trust })),
    );
    wf.policy1!.push(
      await cpuOf(() => verifyWithPolicy(file, { policy: one, trust: [{ name: 't', material: ca.trust }] })),
    );
    wf.policy10!.push(
      await cpuOf(() =>
        verifyWithPolicy(file, { policy: ten, trust: [{ name: 't', material: ca.trust }], bundles: tenFiles }),
      ),
    );
  }
  const w = { plain: median(wf.plain!), policy1: median(wf.policy1!), policy10: median(wf.policy10!) };

  const fmt = (x: number) => x.toFixed(3);
  process.stdout.write(
    `### Policies (keyless bundles, warm, one thread)\n\nCommand: \`node bench/policy.ts\` (sides interleaved in short batches for ${SECONDS}s each, CPU time per call; workflows: median CPU time of ${RUNS} interleaved runs each)\n\n`,
  );
  const rows: string[][] = [
    ['1 bundle, identity policy (baseline)', fmt(m.plain), '1.00'],
    ['1 bundle, policy document (verify any identity + evaluate)', fmt(m.policy1), (m.policy1 / m.plain).toFixed(3)],
    ['policy evaluation alone (1 signature)', fmt(m.evaluateOnly), (m.evaluateOnly / m.plain).toFixed(3)],
    ['10 bundles, threshold 7 of 10 distinct signers', fmt(m.policy10), (m.policy10 / m.plain).toFixed(2)],
    ['workflow: verifyTarget, 1 bundle file (baseline)', fmt(w.plain), '1.00'],
    ['workflow: verifyWithPolicy, 1 bundle file', fmt(w.policy1), (w.policy1 / w.plain).toFixed(3)],
    ['workflow: verifyWithPolicy, 10 bundle files, threshold 7', fmt(w.policy10), (w.policy10 / w.plain).toFixed(2)],
  ];
  process.stdout.write(
    [
      '| case | ms per verification | ratio vs its baseline |',
      '|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n') + '\n',
  );
} finally {
  await ca.close();
  rmSync(dir, { recursive: true, force: true });
}
