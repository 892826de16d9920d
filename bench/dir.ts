/**
 * Directory walk + hash benchmark against `find | xargs -P2 openssl dgst -sha256`, run side by side on the same
 * tree. The tree is ~80,000 small files shaped like a big node_modules: copies of /work/main/node_modules (or
 * VOUCH_BENCH_SOURCE), regular files under 4 MiB only, one copy per subdirectory.
 *
 *   ./node_modules/.bin/node bench/dir.ts [--files 80000] [--runs 3] [--keep DIR]
 *   ./node_modules/.bin/node bench/dir.ts --commands 15 --keep DIR   (whole `vouch sign dir:` / `vouch verify dir:`
 *   beside the openssl command line, in alternating rounds; VOUCH_BENCH_BASELINE_BIN adds a baseline build's pair)
 *   ./node_modules/.bin/node bench/dir.ts --tiny 1000000 [--keep DIR]   (peak memory: walk, sign side, and the
 *   whole sign and verify commands; VOUCH_BENCH_BASELINE_BIN=OTHER/bin/vouch.mjs runs a baseline build beside)
 *
 * Each vouch run happens in a child process so its peak RSS (maxRSS) is its own. Reported: wall time per run
 * (median), files/s, the ratio to openssl, peak RSS at two tree sizes and the linear extrapolation to 1M files,
 * and a cold-cache pair when /proc/sys/vm/drop_caches is writable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryStatement } from '../src/artifact/dir/prepare.ts';
import { walkDirectory } from '../src/artifact/dir/walk.ts';

const RULES = { excludeNames: [], excludePaths: [], signatureFiles: [], allowExternalSymlinks: true };

async function child(): Promise<void> {
  const [, , , dir, how, conc] = process.argv;
  const t0 = performance.now();
  let files = 0;
  let bytes = 0;
  if (how === 'vouch') {
    // 'default': the walk's own choice (threads per core, more once the disk turns out to be the bottleneck).
    const m = await walkDirectory(dir!, RULES, {
      ...(conc !== 'default' && { concurrency: Number(conc) }),
      mode: 'verify',
    });
    files = m.stats.files;
    bytes = m.stats.bytes;
  } else if (how === 'sign') {
    // The sign side in this process: walk, manifest written (to a temporary file beside it), statement.
    const p = await directoryStatement(dir!, {
      ...(conc !== 'default' && { concurrency: Number(conc) }),
      bundlePath: join(tmpdir(), `vouch-bench-${process.pid}.sigstore.json`),
    });
    await p.discard();
    files = p.walk.stats.files;
    bytes = p.walk.stats.bytes;
  } else {
    // The per-file promise baseline: fs.promises.readFile with 64 files in flight.
    const list = execFileSync('find', [dir!, '-type', 'f'], { maxBuffer: 1 << 30 })
      .toString()
      .split('\n')
      .filter(Boolean);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const data = await readFile(list[next++]!);
        createHash('sha256').update(data).digest();
        files++;
        bytes += data.length;
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, files, bytes, maxRssKb: process.resourceUsage().maxRSS }));
}

function runChild(dir: string, how: string, concurrency: number | 'default') {
  const r = spawnSync(process.execPath, [import.meta.filename, '--child', dir, how, String(concurrency)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { ms: number; files: number; bytes: number; maxRssKb: number };
}

function runOpenssl(dir: string): number {
  const t0 = performance.now();
  execFileSync('bash', [
    '-c',
    `find "$1" -type f -print0 | xargs -0 -P2 -n 2000 openssl dgst -sha256 >/dev/null`,
    '_',
    dir,
  ]);
  return performance.now() - t0;
}

function listSource(src: string, out: { rel: string; size: number }[] = [], rel = ''): { rel: string; size: number }[] {
  for (const d of readdirSync(join(src, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) listSource(src, out, r);
    else if (d.isFile()) {
      const size = statSync(join(src, r)).size;
      if (size <= 4 << 20) out.push({ rel: r, size });
    }
  }
  return out;
}

function buildTree(root: string, target: number): { files: number; bytes: number } {
  const src = process.env.VOUCH_BENCH_SOURCE ?? '/work/main/node_modules';
  const list = listSource(src);
  let files = 0;
  let bytes = 0;
  for (let copy = 0; files < target; copy++) {
    const made = new Set<string>();
    for (const f of list) {
      if (files >= target) break;
      const dst = join(root, `copy${copy}`, f.rel);
      const parent = dst.slice(0, dst.lastIndexOf('/'));
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true });
        made.add(parent);
      }
      copyFileSync(join(src, f.rel), dst);
      files++;
      bytes += f.size;
    }
  }
  return { files, bytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function dropCaches(): boolean {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

/**
 * `--tiny N`: peak memory on N tiny files (100 per directory, 100 directories per parent), measured instead of
 * extrapolated. Creating and deleting a million files takes a few minutes: run it on its own.
 */
function tiny(n: number, keep: string): void {
  const root = keep || mkdtempSync(join(tmpdir(), 'vouch-bench-tiny-'));
  try {
    let t0 = performance.now();
    if (keep) mkdirSync(root, { recursive: true });
    for (let i = keep && readdirSync(root).length > 0 ? n : 0; i < n; i++) {
      const dir = join(root, `a${Math.floor(i / 10000)}`, `b${Math.floor(i / 100) % 100}`);
      if (i % 100 === 0) mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `file-${i}.js`), `module.exports = ${i};\n`);
    }
    console.log(`tiny tree: ${n} files built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    const o = runOpenssl(root);
    const r = runChild(root, 'vouch', 'default');
    const s = runChild(root, 'sign', 'default');
    const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
    console.log(
      `tiny: openssl ${o.toFixed(0)} ms; vouch walk (verify) ${r.ms.toFixed(0)} ms, ${((r.files / r.ms) * 1000).toFixed(0)} files/s, peak RSS ${mb(r.maxRssKb)}; ` +
        `sign (walk + statement + manifest digest) ${s.ms.toFixed(0)} ms, peak RSS ${mb(s.maxRssKb)}, for ${r.files} files`,
    );
    wholeCommands(root, mb);
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Whole `vouch sign dir: --key` and `vouch verify dir: --key` (the built CLI, bin/vouch.mjs) under GNU time: wall
 * time and peak RSS, the bundle written outside the tree. With VOUCH_BENCH_BASELINE_BIN=path/to/bin/vouch.mjs (a
 * build of another commit) the same commands run with it first, side by side.
 */
function wholeCommands(root: string, mb: (kb: number) => string): void {
  if (spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status !== 0) {
    console.log('whole commands: skipped (no GNU time at /usr/bin/time)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'vouch-bench-cli-'));
  try {
    const env = { ...process.env, VOUCH_PASSWORD: 'bench', VOUCH_HOME: join(work, 'home') };
    const bins: [string, string][] = [['this build', join(import.meta.dirname, '..', 'bin', 'vouch.mjs')]];
    const base = process.env.VOUCH_BENCH_BASELINE_BIN;
    if (base) bins.unshift(['baseline', base]);
    const key = join(work, 'k');
    execFileSync(process.execPath, [bins.at(-1)![1], 'keygen', '--out', key], { env, stdio: 'ignore' });
    for (const [name, bin] of bins) {
      const bundle = join(work, `${name.replace(/ /g, '-')}.sigstore.json`);
      for (const args of [
        ['sign', `dir:${root}`, '--key', `${key}.key`, '--bundle', bundle],
        ['verify', `dir:${root}`, '--key', `${key}.pub`, '--bundle', bundle],
      ]) {
        const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, bin, ...args], {
          env,
          encoding: 'utf8',
        });
        const [secs, kb] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ');
        console.log(
          `whole ${args[0]} (${name}): ${r.status === 0 ? 'ok' : `exit ${r.status}`}, ${secs} s, peak RSS ${mb(Number(kb))}`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * `--commands N`: whole commands against the openssl command line in N rounds, each round running every command
 * once in turn (so a change in the machine's load hits all of them alike, which back-to-back runs of one command
 * at a time do not), after two warm-up rounds. Reported per command: median wall time, its ratio to the baseline's
 * median, the rounds in which it beat the baseline of the same round, and median CPU (user + system, GNU time).
 */
function commands(root: string, rounds: number): string[] {
  const work = mkdtempSync(join(tmpdir(), 'vouch-bench-cmd-'));
  try {
    const env = { ...process.env, VOUCH_PASSWORD: 'bench', VOUCH_HOME: join(work, 'home') };
    const self = join(import.meta.dirname, '..', 'bin', 'vouch.mjs');
    const key = join(work, 'k');
    execFileSync(process.execPath, [self, 'keygen', '--out', key], { env, stdio: 'ignore' });
    const builds: [string, string, NodeJS.ProcessEnv][] = [['this build', self, env]];
    if (process.env.VOUCH_BENCH_BASELINE_BIN)
      builds.unshift(['baseline build', process.env.VOUCH_BENCH_BASELINE_BIN, env]);
    const list: { name: string; argv: string[]; env: NodeJS.ProcessEnv }[] = [
      {
        name: '`find \\| xargs -0 -P2 -n 2000 openssl dgst -sha256` (baseline)',
        argv: [
          'bash',
          '-c',
          'find "$1" -type f -print0 | xargs -0 -P2 -n 2000 openssl dgst -sha256 >/dev/null',
          '_',
          root,
        ],
        env,
      },
    ];
    for (const [name, bin, e] of builds) {
      const bundle = join(work, `${name.replace(/\W+/g, '-')}.sigstore.json`);
      const sign = [process.execPath, bin, 'sign', `dir:${root}`, '--key', `${key}.key`, '--bundle', bundle];
      execFileSync(sign[0]!, sign.slice(1), { env: e, stdio: 'ignore' });
      list.push({ name: `\`vouch sign dir: --key\` (${name})`, argv: sign, env: e });
      list.push({
        name: `\`vouch verify dir: --key\` (${name})`,
        argv: [process.execPath, bin, 'verify', `dir:${root}`, '--key', `${key}.pub`, '--bundle', bundle],
        env: e,
      });
    }
    const wall = list.map(() => [] as number[]);
    const cpu = list.map(() => [] as number[]);
    for (let r = -2; r < rounds; r++) {
      list.forEach((c, i) => {
        const t0 = performance.now();
        const res = spawnSync('/usr/bin/time', ['-f', '%U %S', ...c.argv], { env: c.env, encoding: 'utf8' });
        const ms = performance.now() - t0;
        if (res.status !== 0) throw new Error(`${c.name} failed: ${res.stderr}`);
        if (r < 0) return;
        const [u, sy] = (res.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
        wall[i]!.push(ms);
        cpu[i]!.push(((u ?? 0) + (sy ?? 0)) * 1000);
      });
    }
    const base = median(wall[0]!);
    const out = [
      `Whole commands, ${rounds} alternating rounds after 2 warm-up rounds (load average before: ${loadavg()[0]!.toFixed(2)}); ` +
        'wall time of the process, medians; "beat baseline" counts the rounds in which the command finished faster ' +
        'than the baseline of the same round.',
      '',
      '| command | wall (median) | vs baseline | beat baseline | CPU (median) |',
      '|---|---:|---:|---:|---:|',
    ];
    list.forEach((c, i) => {
      const m = median(wall[i]!);
      const wins = i === 0 ? '' : `${wall[i]!.filter((w, r) => w < wall[0]![r]!).length} of ${rounds}`;
      out.push(
        `| ${c.name} | ${m.toFixed(0)} ms | ${(m / base).toFixed(2)}x | ${wins} | ${median(cpu[i]!).toFixed(0)} ms |`,
      );
    });
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1]! : dflt;
  };
  if (process.argv.includes('--tiny')) return tiny(Number(arg('--tiny', '1000000')), arg('--keep', ''));
  if (process.argv.includes('--commands')) {
    const dir = arg('--keep', '');
    if (!dir) throw new Error('--commands needs --keep DIR (a tree made by an earlier run, or made now)');
    mkdirSync(dir, { recursive: true });
    if (readdirSync(dir).length === 0) buildTree(dir, Number(arg('--files', '80000')));
    console.log(commands(dir, Number(arg('--commands', '15'))).join('\n'));
    return;
  }
  const target = Number(arg('--files', '80000'));
  const runs = Number(arg('--runs', '3'));
  const keep = arg('--keep', '');
  const root = keep || mkdtempSync(join(tmpdir(), 'vouch-bench-dir-'));
  // --keep DIR builds the tree into DIR the first time (made here if missing) and reuses it afterwards.
  mkdirSync(root, { recursive: true });
  const out: string[] = ['### Directory walk + hash (bench/dir.ts)', ''];
  try {
    let t0 = performance.now();
    const shape = statSync(root).isDirectory() && readdirSync(root).length > 0 ? undefined : buildTree(root, target);
    const built = ((performance.now() - t0) / 1000).toFixed(1);
    runOpenssl(root); // warm the page cache

    const open: number[] = [];
    const v: Record<string, number[]> = { 1: [], 2: [], 4: [], default: [] };
    const rss: Record<string, number> = {};
    let files = 0;
    let bytes = 0;
    for (let r = 0; r < runs; r++) {
      open.push(runOpenssl(root));
      for (const c of [1, 2, 4, 'default'] as const) {
        const res = runChild(root, 'vouch', c);
        v[c]!.push(res.ms);
        rss[c] = Math.max(rss[c] ?? 0, res.maxRssKb);
        files = res.files;
        bytes = res.bytes;
      }
    }
    const promise = runChild(root, 'readFile', 0);
    const o = median(open);
    const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}`;
    out.push(
      `Tree: ${files.toLocaleString('en-US')} files, ${(bytes / 1e6).toFixed(0)} MB, copies of a real node_modules` +
        (shape ? ` (built in ${built} s)` : '') +
        `; warm page cache; median of ${runs} alternating runs; load average before: ${loadavg()[0]!.toFixed(2)}.`,
      '',
      '| command | wall | files/s | vs openssl | peak RSS |',
      '|---|---:|---:|---:|---:|',
      `| \`find \\| xargs -0 -P2 -n 2000 openssl dgst -sha256\` | ${o.toFixed(0)} ms | ${rate(files, o)} | 1.00x | |`,
    );
    for (const [c, ms] of Object.entries(v)) {
      const m = median(ms);
      out.push(
        `| vouch walkDirectory, ${c === 'default' ? 'default threads' : `${c} thread${c === '1' ? '' : 's'}`} | ${m.toFixed(0)} ms | ${rate(files, m)} | ${(m / o).toFixed(2)}x | ${(rss[c]! / 1024).toFixed(0)} MB |`,
      );
    }
    out.push(
      `| fs.promises.readFile, 64 in flight (rejected design) | ${promise.ms.toFixed(0)} ms | ${rate(promise.files, promise.ms)} | ${(promise.ms / o).toFixed(2)}x | ${(promise.maxRssKb / 1024).toFixed(0)} MB |`,
      '',
    );

    // Peak memory slope: the first half of the copies (moved aside, then back) against the whole tree.
    const copies = readdirSync(root).sort();
    const halfRoot = mkdtempSync(join(tmpdir(), 'vouch-bench-half-'));
    const moved = copies.slice(0, Math.ceil(copies.length / 2));
    let half: ReturnType<typeof runChild>;
    try {
      for (const c of moved) renameSync(join(root, c), join(halfRoot, c));
      half = runChild(halfRoot, 'vouch', 2);
    } finally {
      for (const c of moved) renameSync(join(halfRoot, c), join(root, c));
      rmSync(halfRoot, { recursive: true, force: true });
    }
    const full = runChild(root, 'vouch', 2);
    const slopeKbPerFile = (full.maxRssKb - half.maxRssKb) / (full.files - half.files);
    const at1M = full.maxRssKb + slopeKbPerFile * (1_000_000 - full.files);
    // A tree of one copy cannot be halved: no slope to extrapolate from.
    const slope =
      full.files > half.files
        ? `${(slopeKbPerFile * 1024).toFixed(0)} bytes per file, ~${(at1M / 1024).toFixed(0)} MB at 1M files by linear extrapolation`
        : 'too few copies in the tree to extrapolate';
    out.push(
      `Peak RSS (2 threads): ${half.files.toLocaleString('en-US')} files ${(half.maxRssKb / 1024).toFixed(0)} MB, ` +
        `${full.files.toLocaleString('en-US')} files ${(full.maxRssKb / 1024).toFixed(0)} MB: ${slope} ` +
        '(`--tiny 1000000` measures it instead).',
      '',
    );

    if (dropCaches()) {
      t0 = performance.now();
      const oc = runOpenssl(root);
      dropCaches();
      const c2 = runChild(root, 'vouch', 2);
      dropCaches();
      const c8 = runChild(root, 'vouch', 8);
      dropCaches();
      const cd = runChild(root, 'vouch', 'default');
      const fps = (r: { ms: number; files: number }) =>
        `${Math.round((r.files / r.ms) * 1000).toLocaleString('en-US')} files/s`;
      out.push(
        `Cold cache (\`echo 3 > /proc/sys/vm/drop_caches\` before each): openssl ${oc.toFixed(0)} ms; ` +
          `vouch 2 threads ${c2.ms.toFixed(0)} ms (${(c2.ms / oc).toFixed(2)}x); 8 threads ${c8.ms.toFixed(0)} ms (${(c8.ms / oc).toFixed(2)}x); ` +
          `default threads ${cd.ms.toFixed(0)} ms (${(cd.ms / oc).toFixed(2)}x, ${fps(cd)}, peak RSS ${(cd.maxRssKb / 1024).toFixed(0)} MB).`,
      );
    } else out.push('Cold cache: /proc/sys/vm/drop_caches is not writable here; not measured.');
    out.push('', `Command: \`./node_modules/.bin/node bench/dir.ts --files ${target} --runs ${runs}\``);
    console.log(out.join('\n'));
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child();
else await main();
