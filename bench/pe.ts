/**
 * The PE check's cost (issue 15: no measurable cost on a tree without PE files; at most one extra read of the
 * header and table of each PE file). In-process, rounds alternating with their baseline in the same run:
 *   - a tree of files that are not PE images, and one of signed PE files: what a hasher does to each file first
 *     (open, fstat, read up to 64 KiB, close) against the same plus `hasMzMagic` on the bytes read and, for "MZ",
 *     `checkPe` on the open handle (the structural check, reusing the bytes read);
 *   - whole directory walks (`walkDirectory`: listing, hashing on the pool's threads) of a tree of files that are
 *     not PE images and of one of signed PE files, with and without the PE check the sign walk runs, rounds in
 *     ABBA order;
 *   - one large signed PE file: SHA-256 of the whole file (core/digest's hashFile) against the full Authenticode
 *     verification (`inspectPeFile`: structure, image digest, PKCS#7, timestamp).
 * Run: npm run bench -- pe   (needs binutils and osslsigncode, as the tests do)
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultRules } from '../src/artifact/dir/statement.ts';
import { walkDirectory } from '../src/artifact/dir/walk.ts';
import { checkPe, handleSource, hasMzMagic, inspectPeFile } from '../src/artifact/pe/index.ts';
import { hashFile } from '../src/core/digest.ts';
import { havePeTools, peWorkshop } from '../test/helpers/pe.ts';
import { ensureTool } from './lib.ts';

const FILES = 2000;
/** Files of the directory walk without PE files: enough for the pool to start its worker threads. */
const WALK_FILES = 20_000;
const WALK_ROUNDS = 9;
const ROUNDS = 5;
const HEAD = 64 << 10;

/** What a hasher does first to a file, and, with `check`, the PE check on top; returns microseconds. */
async function firstRead(file: string, buf: Buffer, check: boolean): Promise<number> {
  const t0 = performance.now();
  const fh = await open(file, 'r');
  const st = await fh.stat();
  const { bytesRead } = await fh.read(buf, 0, HEAD, 0);
  if (check && hasMzMagic(buf.subarray(0, bytesRead))) {
    await checkPe(handleSource(fh, st.size), buf.subarray(0, bytesRead));
  }
  await fh.close();
  return (performance.now() - t0) * 1000;
}

/**
 * Both variants on every file, in alternating order file by file, so the load of a shared machine falls on both
 * alike; the median over files of each, per round, then the median of the rounds.
 */
async function tree(files: string[]): Promise<[base: number, check: number]> {
  const buf = Buffer.allocUnsafe(HEAD);
  const bases: number[] = [];
  const checks: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const b: number[] = [];
    const c: number[] = [];
    for (const [i, f] of files.entries()) {
      if ((i + round) % 2 === 0) {
        b.push(await firstRead(f, buf, false));
        c.push(await firstRead(f, buf, true));
      } else {
        c.push(await firstRead(f, buf, true));
        b.push(await firstRead(f, buf, false));
      }
    }
    bases.push(median(b));
    checks.push(median(c));
  }
  return [median(bases), median(checks)];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Rounds in ABBA order (a, b, b, a, ...), so neither side always runs first after the other. */
async function alternate(a: () => Promise<number>, b: () => Promise<number>, rounds: number) {
  await a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      ta.push(await a());
      tb.push(await b());
    } else {
      tb.push(await b());
      ta.push(await a());
    }
  }
  return [median(ta), median(tb)] as const;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function run(): Promise<string> {
  if (havePeTools()) {
    ensureTool('as', 'binutils');
    ensureTool('osslsigncode', 'osslsigncode');
  }
  const ws = await peWorkshop();
  try {
    const small = await ws.sign(ws.build('small'), join(ws.dir, 'small-signed.exe'));
    const big = await ws.sign(ws.build('big', 'PE32+', 64 << 20), join(ws.dir, 'big-signed.exe'));
    const plain = join(ws.dir, 'plain');
    const pes = join(ws.dir, 'pe');
    mkdirSync(plain);
    mkdirSync(pes);
    const noPe: string[] = [];
    const withPe: string[] = [];
    for (let i = 0; i < FILES; i++) {
      const p = join(plain, `f${i}.bin`);
      writeFileSync(p, Buffer.alloc(8192, i & 0xff));
      noPe.push(p);
      const q = join(pes, `f${i}.dll`);
      copyFileSync(small, q);
      withPe.push(q);
    }
    const walkTree = join(ws.dir, 'walk');
    mkdirSync(walkTree);
    for (let i = 0; i < WALK_FILES; i++) {
      if (i % 500 === 0) mkdirSync(join(walkTree, `d${i / 500}`));
      writeFileSync(join(walkTree, `d${Math.floor(i / 500)}`, `f${i}.js`), `// file ${i}\n`.repeat(1 + (i % 40)));
    }
    // Verify-mode walks: the same walk as signing's, with the PE check as the only difference.
    const walk = (root: string, peCheck: boolean) =>
      timed(() => walkDirectory(root, defaultRules('vouch'), { mode: 'verify', ...(peCheck && { peCheck }) }));
    const [walkBase, walkCheck] = await alternate(
      () => walk(walkTree, false),
      () => walk(walkTree, true),
      WALK_ROUNDS,
    );
    const [peWalkBase, peWalkCheck] = await alternate(
      () => walk(pes, false),
      () => walk(pes, true),
      WALK_ROUNDS,
    );
    const [plainBase, plainCheck] = await tree(noPe);
    const [peBase, peCheck] = await tree(withPe);
    const [hashBig, inspectBig] = await alternate(
      () => timed(() => hashFile(big)),
      () => timed(() => inspectPeFile(big)),
      9,
    );
    const row = (name: string, base: number, check: number) =>
      `| ${name} | ${base.toFixed(1)} | ${check.toFixed(1)} | ${(check / base).toFixed(2)} | ${(check - base).toFixed(1)} |`;
    return [
      `### PE check (${FILES} files of each kind, medians per file, both variants on each file in alternating order, median of ${ROUNDS} rounds)`,
      '',
      '| tree | first read per file (µs) | + PE check per file (µs) | ratio | extra per file (µs) |',
      '|---|---|---|---|---|',
      row('no PE files (8 KiB each)', plainBase, plainCheck),
      row('signed PE files (~8 KiB each)', peBase, peCheck),
      '',
      `| directory walk (median of ${WALK_ROUNDS} rounds, ABBA) | without the check (ms) | with it (ms) | ratio |`,
      '|---|---|---|---|',
      `| ${WALK_FILES.toLocaleString('en')} files, none PE (20-500 bytes) | ${walkBase.toFixed(0)} | ${walkCheck.toFixed(0)} | ${(walkCheck / walkBase).toFixed(2)} |`,
      `| ${FILES.toLocaleString('en')} signed PE files (~8 KiB) | ${peWalkBase.toFixed(0)} | ${peWalkCheck.toFixed(0)} | ${(peWalkCheck / peWalkBase).toFixed(2)} |`,
      '',
      '| 64 MiB signed PE | median (ms) | ratio |',
      '|---|---|---|',
      `| SHA-256 of the file (hashFile) | ${hashBig.toFixed(1)} | 1.00 |`,
      `| full Authenticode verification (inspectPeFile) | ${inspectBig.toFixed(1)} | ${(inspectBig / hashBig).toFixed(2)} |`,
    ].join('\n');
  } finally {
    await ws.cleanup();
  }
}

process.stdout.write(`${await run()}\n`);
