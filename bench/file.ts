/**
 * Sign and verify of a 1 GiB file, side by side with `openssl dgst -sha256` and `sha256sum` on the same file in the
 * same run; peak memory; cold whole-process `vouch verify` of a small file next to `node -e 0`.
 * Run: npm run bench -- file
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hyperfine, NODE, peakRssMiB, table, VOUCH } from './lib.ts';

function run(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-file-'));
  const env = { ...process.env, VOUCH_PASSWORD: 'bench' };
  try {
    const big = join(dir, 'big.bin');
    execSync(`head -c 1073741824 /dev/urandom > ${big}`);
    execSync(`${VOUCH} keygen --out ${join(dir, 'k')}`, { env });
    execSync(`${VOUCH} sign ${big} --key ${join(dir, 'k.key')}`, { env });
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'hello\n');
    execSync(`${VOUCH} sign ${small} --key ${join(dir, 'k.key')}`, { env });

    const big1 = hyperfine(
      [
        { name: 'openssl dgst -sha256', cmd: `openssl dgst -sha256 ${big}` },
        { name: 'sha256sum', cmd: `sha256sum ${big}` },
        { name: 'vouch verify', cmd: `${VOUCH} verify ${big} --key ${join(dir, 'k.pub')}` },
        { name: 'vouch sign', cmd: `${VOUCH} sign ${big} --key ${join(dir, 'k.key')} --bundle ${join(dir, 'b.json')}` },
      ],
      { runs: 5, warmup: 1, env },
    );
    const gib = 1.073741824;
    const throughput = big1.map((r) => `| ${r.name} | ${(gib / r.median).toFixed(2)} GB/s |`).join('\n');
    const rssVerify = peakRssMiB(`${VOUCH} verify ${big} --key ${join(dir, 'k.pub')}`, env);
    const rssSign = peakRssMiB(`${VOUCH} sign ${big} --key ${join(dir, 'k.key')} --bundle ${join(dir, 'b.json')}`, env);
    const cold = hyperfine(
      [
        { name: 'node -e 0', cmd: `${NODE} -e 0` },
        { name: 'vouch verify (small file, key)', cmd: `${VOUCH} verify ${small} --key ${join(dir, 'k.pub')}` },
      ],
      { runs: 20, warmup: 3, env },
    );
    return [
      '### 1 GiB file (warm page cache)',
      table(big1, 'openssl dgst -sha256'),
      '',
      '| command | throughput |',
      '|---|---|',
      throughput,
      '',
      `Peak RSS: vouch verify ${rssVerify} MiB, vouch sign ${rssSign} MiB (1 GiB file).`,
      '',
      '### Cold start',
      table(cold, 'node -e 0'),
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`${run()}\n`);
