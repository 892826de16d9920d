/**
 * The measured floor of hashing a tree's files: the per-file loop in C (bench/experiments/hash.c, built here with
 * the system compiler into a temporary folder, never installed) against vouch's TypeScript hashing (the same list
 * of files, the same threads) and `find | xargs -P2 openssl dgst -sha256`, on a tree made by bench/dir.ts.
 *
 *   ./node_modules/.bin/node bench/experiments/hash-floor.ts --keep /tmp/dirbench [--runs 5] [--threads 2]
 *
 * Hashing only (the list is made once, outside the timings), medians of alternating runs; openssl includes its
 * own `find`. Needs a C compiler; prints why not and exits 0 without one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFiles } from '../../src/artifact/dir/pool.ts';

interface Addon {
  start(root: string, job: object, threads: number, done: (error: string | null) => void): object;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : dflt;
}

function build(dir: string): Addon | undefined {
  const out = join(dir, 'hash-floor.node');
  const source = join(import.meta.dirname, 'hash.c');
  try {
    execFileSync(process.env.CC || 'cc', ['-O2', '-shared', '-fPIC', '-Wl,-z,now', '-o', out, source, '-lpthread'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    console.log(`hash-floor: not built (${(e as Error).message.split('\n')[0]}); nothing measured`);
    return undefined;
  }
  const m = { exports: {} as Addon };
  process.dlopen(m, out, constants.dlopen.RTLD_NOW);
  return m.exports;
}

function list(root: string, rel = '', out: string[] = []): string[] {
  const entries = readdirSync(rel ? `${root}/${rel}` : root, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of entries) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) list(root, r, out);
    else if (d.isFile()) out.push(r);
  }
  return out;
}

async function native(addon: Addon, root: string, paths: string[], threads: number): Promise<number> {
  const n = paths.length;
  const blob = Buffer.from(paths.join(''));
  const names = new Uint8Array(new SharedArrayBuffer(Math.max(blob.length, 8)));
  names.set(blob);
  const offsets = new Uint32Array(new SharedArrayBuffer((n + 1) * 4));
  let at = 0;
  paths.forEach((p, i) => {
    offsets[i] = at;
    at += Buffer.byteLength(p);
  });
  offsets[n] = at;
  const job = {
    names,
    offsets,
    counter: new Int32Array(new SharedArrayBuffer(16)),
    status: new Int32Array(new SharedArrayBuffer(n * 4)),
    meta: new Float64Array(new SharedArrayBuffer(n * 16)),
    digests: new Uint8Array(new SharedArrayBuffer(n * 32)),
    count: n,
    stream: false,
    chunk: 64,
    bufferSize: 1 << 20,
    largeFile: 2 ** 53 - 1,
  };
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    addon.start(root, job, threads, (error) => (error === null ? resolve() : reject(new Error(error))));
  });
  const ms = performance.now() - t0;
  if (!job.status.every((s) => s === 1)) throw new Error('the native loop left files unhashed');
  return ms;
}

async function typescript(root: string, paths: string[], threads: number): Promise<number> {
  const t0 = performance.now();
  await hashFiles(root, paths, { concurrency: threads });
  return performance.now() - t0;
}

function openssl(root: string): number {
  const t0 = performance.now();
  execFileSync('bash', [
    '-c',
    'find "$1" -type f -print0 | xargs -0 -P2 -n 2000 openssl dgst -sha256 >/dev/null',
    '_',
    root,
  ]);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const root = arg('--keep', '');
if (!root) throw new Error('--keep DIR: a tree made by bench/dir.ts --keep DIR');
const runs = Number(arg('--runs', '5'));
const threads = Number(arg('--threads', '2'));
const dir = mkdtempSync(join(tmpdir(), 'vouch-hash-floor-'));
try {
  const addon = build(dir);
  if (addon) {
    const paths = list(root);
    openssl(root);
    const t = { openssl: [] as number[], native: [] as number[], ts: [] as number[] };
    for (let r = 0; r < runs; r++) {
      t.openssl.push(openssl(root));
      t.native.push(await native(addon, root, paths, threads));
      t.ts.push(await typescript(root, paths, threads));
    }
    const o = median(t.openssl);
    console.log(`| hashing ${paths.length} listed files, ${threads} threads | median | vs openssl |`);
    console.log('|---|---:|---:|');
    for (const [name, xs] of [
      ['`find | xargs -0 -P2 -n 2000 openssl dgst -sha256` (with its listing)', t.openssl],
      ['C loop (bench/experiments/hash.c)', t.native],
      ['vouch TypeScript hashing', t.ts],
    ] as const) {
      console.log(`| ${name} | ${median(xs).toFixed(0)} ms | ${(median(xs) / o).toFixed(2)}x |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
