/** Shared benchmark plumbing: hyperfine for whole commands (side by side, same run), GNU time for peak memory. */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { type Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..');
export const NODE = process.execPath;
export const VOUCH = `${NODE} ${join(REPO, 'bin', 'vouch.mjs')}`;

export function ensureTool(cmd: string, debianPackage: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0) return;
  process.stderr.write(`bench: installing ${debianPackage} (Debian package)\n`);
  execFileSync(
    'sh',
    ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debianPackage}`],
    {
      stdio: 'inherit',
    },
  );
}

export interface Timing {
  command: string;
  name: string;
  mean: number;
  median: number;
  stddev: number;
  min: number;
  max: number;
}

/** Run commands side by side with hyperfine and return their timings (seconds). */
export function hyperfine(
  commands: { name: string; cmd: string }[],
  opts: { runs?: number; warmup?: number; env?: NodeJS.ProcessEnv; prepare?: string } = {},
): Timing[] {
  ensureTool('hyperfine', 'hyperfine');
  const out = join(tmpdir(), `vouch-bench-${process.pid}.json`);
  const args = [
    '--style',
    'none',
    '--export-json',
    out,
    '--runs',
    String(opts.runs ?? 5),
    '--warmup',
    String(opts.warmup ?? 1),
  ];
  if (opts.prepare) args.push('--prepare', opts.prepare);
  for (const c of commands) args.push('-n', c.name, c.cmd);
  execFileSync('hyperfine', args, { stdio: ['ignore', 'ignore', 'inherit'], env: opts.env ?? process.env });
  const json = JSON.parse(readFileSync(out, 'utf8')) as { results: Timing[] & { command: string }[] };
  rmSync(out, { force: true });
  return json.results.map((r, i) => ({ ...r, name: commands[i]!.name }));
}

/** Peak resident memory (MiB) of one run of a shell command. */
export function peakRssMiB(cmd: string, env?: NodeJS.ProcessEnv): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', `${cmd} >/dev/null`], {
    encoding: 'utf8',
    env: env ?? process.env,
  });
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Math.round((kb / 1024) * 10) / 10;
}

export function table(rows: Timing[], baseline: string): string {
  const base = rows.find((r) => r.name === baseline)!;
  const lines = ['| command | median (s) | mean ± sd (s) | ratio vs ' + baseline + ' |', '|---|---|---|---|'];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.median.toFixed(3)} | ${r.mean.toFixed(3)} ± ${r.stddev.toFixed(3)} | ${(r.median / base.median).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * POST a JSON body with node:http over a keep-alive agent; resolves to the status. A lighter client than fetch, so the
 * load generator (on the same 2 cores) takes less of the CPU the server is measured on.
 */
export function postJson(agent: Agent, url: string, body: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` distinct valid hashedrekord 0.0.1 proposed entries (random data, one P-256 key). */
export function hashedRekordEntries(n: number): string[] {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pemB64 = Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }) as string).toString('base64');
  return Array.from({ length: n }, () => {
    const data = randomBytes(32);
    return JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(data).digest('hex') } },
        signature: { content: sign('sha256', data, privateKey).toString('base64'), publicKey: { content: pemB64 } },
      },
    });
  });
}
