/**
 * Keyless signing latency of a small file on the embedded instance, and where the time goes: token (local
 * issuer), CA (certificate), transparency log, TSA, and the rest (stack start/stop, hashing, bundle). Measured beside
 * the baseline of the same run: a key-pair signature of the same file with no service at all.
 *   A. in-process, the embedded stack started and closed by every sign (what `vouch sign FILE` does);
 *   B. in-process, one stack kept running and signed against with --instance-like sessions (service calls only);
 *   C. whole CLI processes (`vouch sign FILE` keyless vs `vouch sign FILE --key`), when the CLI is built.
 * Run: node bench/sign.ts   (or npm run bench -- sign)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFile } from '../src/core/digest.ts';
import { StaticTokenProvider } from '../src/identity/providers.ts';
import { selectServices } from '../src/instance/signingconfig.ts';
import { startStack } from '../src/server/stack.ts';
import { signDigest } from '../src/sign/bundle.ts';
import { FulcioClient } from '../src/sign/fulcio.ts';
import { keylessContext } from '../src/sign/keyless.ts';
import { KeyPairSigner } from '../src/sign/signer.ts';
import { signTarget } from '../src/workflow/sign.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => x.toFixed(1);

async function main(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-sign-'));
  try {
    const file = join(dir, 'small.txt');
    writeFileSync(file, 'hello, keyless\n');
    const home = join(dir, 'home');

    // Baseline: key-pair signature, no services.
    const key = KeyPairSigner.ephemeral();
    const base: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const d = await hashFile(file);
      await signDigest({ signer: key, witnesses: [] }, d.value);
      base.push(performance.now() - t);
    }

    // A. embedded: every sign starts and closes the stack (first run creates the keys: warm-up, not counted).
    await signTarget(file, { keyless: { home, env: {} }, bundle: join(dir, 'warm.json') });
    const a = {
      total: [] as number[],
      token: [] as number[],
      ca: [] as number[],
      tlog: [] as number[],
      tsa: [] as number[],
    };
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const r = await signTarget(file, { keyless: { home, env: {} }, bundle: join(dir, `a${i}.json`) });
      a.total.push(performance.now() - t);
      const timings = r.timings ?? {};
      a.token.push(timings.token ?? 0);
      a.ca.push(timings.ca ?? 0);
      a.tlog.push(timings.tlog ?? 0);
      a.tsa.push(timings.tsa ?? 0);
    }

    // B. one running stack: the service calls alone (token minted in-process, as CI would already hold one).
    const stack = await startStack({ dataDir: join(dir, 'stack'), port: 0 });
    const b = { total: [] as number[], ca: [] as number[], tlog: [] as number[], tsa: [] as number[] };
    try {
      const services = selectServices(stack.signingConfig);
      for (let i = 0; i < RUNS + 1; i++) {
        const token = await stack.issuer!.mint();
        const ctx = keylessContext(new StaticTokenProvider(token), {
          ca: new FulcioClient(services.ca),
          tlog: services.tlog,
          ...(services.tsa ? { tsa: services.tsa } : {}),
        });
        const t = performance.now();
        const d = await hashFile(file);
        await signDigest(ctx, d.value);
        if (i === 0) continue; // warm-up
        b.total.push(performance.now() - t);
        b.ca.push(ctx.timings.ca ?? 0);
        b.tlog.push(ctx.timings.tlog ?? 0);
        b.tsa.push(ctx.timings.tsa ?? 0);
      }
    } finally {
      await stack.close();
    }

    const out = [
      `### Keyless sign of a small file (${RUNS} runs each, median ms)`,
      '',
      '| case | total | token | CA | log | TSA | ratio vs key-pair |',
      '|---|---|---|---|---|---|---|',
      `| key-pair sign, no services (baseline) | ${ms(median(base))} | - | - | - | - | 1.0 |`,
      `| A. keyless, embedded stack started per sign | ${ms(median(a.total))} | ${ms(median(a.token))} | ${ms(median(a.ca))} | ${ms(median(a.tlog))} | ${ms(median(a.tsa))} | ${(median(a.total) / median(base)).toFixed(0)} |`,
      `| B. keyless, stack already running | ${ms(median(b.total))} | (given) | ${ms(median(b.ca))} | ${ms(median(b.tlog))} | ${ms(median(b.tsa))} | ${(median(b.total) / median(base)).toFixed(0)} |`,
      '',
      'Log and TSA are called in parallel, so total < sum. In A, total - (token + CA + max(log, TSA)) is the stack',
      'start/stop and opening the SQLite log.',
    ];

    // C. whole CLI processes, when built.
    const bin = join(import.meta.dirname, '..', 'bin', 'vouch.mjs');
    if (existsSync(join(import.meta.dirname, '..', 'dist', 'cli', 'main.mjs'))) {
      const env = { ...process.env, VOUCH_HOME: home, VOUCH_PASSWORD: 'bench' };
      spawnSync(process.execPath, [bin, 'keygen', '--out', join(dir, 'k')], { env });
      const time = (args: string[]) => {
        const xs: number[] = [];
        for (let i = 0; i < Math.min(RUNS, 7); i++) {
          const t = performance.now();
          const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`vouch ${args.join(' ')}: ${r.stderr}`);
          xs.push(performance.now() - t);
        }
        return median(xs);
      };
      const keyed = time(['sign', file, '--key', join(dir, 'k.key'), '--bundle', join(dir, 'c-key.json')]);
      const keyless = time(['sign', file, '--bundle', join(dir, 'c-keyless.json')]);
      out.push(
        '',
        '| whole process (median ms) | time | ratio |',
        '|---|---|---|',
        `| vouch sign --key (baseline) | ${ms(keyed)} | 1.0 |`,
        `| vouch sign (keyless, embedded) | ${ms(keyless)} | ${(keyless / keyed).toFixed(1)} |`,
      );
    } else {
      out.push('', '(CLI not built: run `npm run build` for the whole-process figures.)');
    }
    return `${out.join('\n')}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(await main());
