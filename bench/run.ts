/**
 * `npm run bench [-- NAME...]`: runs each benchmark script (bench/NAME.ts, all by default) in its own process, one
 * after another, and prints their Markdown for docs/benchmarks.md. Every figure is measured beside its baseline in
 * the same run, on the same machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const all = ['file', 'verify', 'sign', 'log', 'ca', 'dir', 'oci', 'identity', 'pe', 'policy', 'deps'];
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all;
process.stdout.write(
  `## Run of ${new Date().toISOString()} on ${cpus().length}x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n`,
);
let failed = 0;
for (const name of chosen) {
  const script = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(script)) {
    process.stderr.write(`bench: no benchmark named ${name}\n`);
    failed++;
    continue;
  }
  process.stderr.write(`bench: ${name}...\n`);
  const r = spawnSync(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) failed++;
  process.stdout.write('\n');
}
process.exitCode = failed === 0 ? 0 : 1;
