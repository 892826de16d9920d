/** Run the built CLI (dist) as a user would: a child process with its own environment, stdout, stderr and status. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const BIN = join(REPO, 'bin', 'vouch.mjs');

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
  json: () => unknown;
}

export function vouch(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: Buffer | string } = {},
): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, VOUCH_PASSWORD: 'correct horse', ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return {
    status: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    json: () => JSON.parse(r.stdout),
  };
}

/** A temporary folder removed when the returned disposer runs (use in `after`). */
export function tempDir(prefix = 'vouch-test-'): { path: string; dispose: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/** The error code printed on the one-line error (`vouch: ... (CODE): message`). */
export function errorCode(stderr: string): string | undefined {
  return /^vouch: (?:NOT VERIFIED|error) \(([A-Z_]+)\)/m.exec(stderr)?.[1];
}

export interface AsyncCliRun extends CliRun {
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** Peak resident set size of the CLI process (kB), from its own `process.resourceUsage()` at exit. */
  maxRssKb: number | undefined;
}

const RSS_PRELOAD = join(REPO, 'test', 'helpers', 'rss-preload.mjs');

/**
 * Run the built CLI without blocking this process (a test's own servers, a fake identity provider say, keep
 * answering meanwhile), reporting its
 * wall time and peak RSS. With `shell`, the
 * arguments are bash words, not quoted (`--bundle <(cat /dev/zero)` is a process substitution), and `shell` itself
 * is put before the command (`cat /dev/zero |` feeds a real pipe to its stdin).
 */
export function vouchAsync(
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    input?: Buffer | string;
    shell?: string;
  } = {},
): Promise<AsyncCliRun> {
  const start = Date.now();
  const command = [process.execPath, '--import', pathToFileURL(RSS_PRELOAD).href, BIN];
  const [file, argv] =
    options.shell !== undefined
      ? ['bash', ['-c', `${options.shell} exec "$0" "$1" "$2" "$3" ${args.join(' ')}`, ...command]]
      : [process.execPath, [...command.slice(1), ...args]];
  const child = spawn(file as string, argv as string[], {
    cwd: options.cwd,
    env: { ...process.env, VOUCH_PASSWORD: 'correct horse', ...options.env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const rss: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => rss.push(c));
  child.stdin!.on('error', () => {});
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const kb = Number.parseInt(Buffer.concat(rss).toString('utf8'), 10);
      resolve({
        status: code ?? -1,
        stdout,
        stderr: Buffer.concat(err).toString('utf8'),
        json: () => JSON.parse(stdout),
        ms: Date.now() - start,
        maxRssKb: Number.isFinite(kb) ? kb : undefined,
      });
    });
  });
}

/**
 * `vouch serve ARGS --port 0 --json` as a child process, resolved with its URL once it printed its listening line;
 * `stop()` ends it with SIGTERM and waits. Rejects when it exits first (with what it said on stderr).
 */
export async function startServe(
  args: string[],
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await urlFromChild(child, 'serve', (line) => line.startsWith('{'));
  return { url, child, stop: () => stopChild(child) };
}

/**
 * The `url` of the first JSON line a server child prints that `isUrlLine` picks; the child's stderr in the error
 * when it exits first.
 */
export function urlFromChild(child: ChildProcess, what: string, isUrlLine: (line: string) => boolean): Promise<string> {
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l, i, all) => i < all.length - 1 && isUrlLine(l));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`${what} exited ${code}: ${err}`)));
  });
}

/** SIGTERM a child and wait for its exit (nothing when it has already exited). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
