/** `vouch serve` as a child process for end-to-end tests: started on a free port, stopped with SIGTERM. */
import { type ChildProcess, spawn } from 'node:child_process';
import { BIN } from './cli.ts';

/** Start `vouch serve --json` with these arguments; resolves with its summary once it listens. */
export async function startServe(args: string[]): Promise<{ child: ChildProcess; summary: Record<string, unknown> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const summary = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Record<string, unknown>);
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, summary };
}

export async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
