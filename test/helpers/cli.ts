/** Run the built CLI (dist) as a user would: a child process with its own environment, stdout, stderr and status. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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

/**
 * `vouch()` without blocking this process: for tests whose servers (a fake identity provider, say) run in the test
 * process and must answer the CLI while it runs.
 */
export function vouchAsync(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; input?: Buffer | string } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, VOUCH_PASSWORD: 'correct horse', ...options.env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // A CLI that exits before reading its input closes the pipe: that is its answer, not the test's failure.
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr, json: () => JSON.parse(stdout) }));
  });
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
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return { url, child, stop };
}
