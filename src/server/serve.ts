/**
 * `vouch serve`: run the trust stack for a team until SIGTERM or SIGINT, then shut down cleanly (stop accepting,
 * finish in-flight requests, commit queued log appends, close the store). Returns the running stack and a promise
 * that settles when it has stopped; the CLI command prints `stack.url` and awaits `stopped`.
 *
 * Unlike the embedded instance, a served stack publishes a TUF repository under /tuf, and its public URL is kept in
 * `DATA/public_url` from the first start (the `--public-url` given then, else the first URL it served): it names the
 * dev issuer, so certificates made after a restart on another port carry the issuer verifiers already pinned.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { VouchError } from '../errors.ts';
import { type Stack, type StackOptions, startStack } from './stack.ts';

export interface ServeOptions extends StackOptions {
  /** Signals that stop the server; default SIGTERM and SIGINT. Pass [] to manage shutdown yourself. */
  signals?: NodeJS.Signals[];
}

export interface Serving {
  stack: Stack;
  /** Settles after a signal (or `stop()`) once everything is flushed and closed. */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

function readPublicUrl(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VouchError('CONFIG_INVALID', `cannot read ${path}`, { cause: e });
  }
  if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
    throw new VouchError('CONFIG_INVALID', `${path} does not hold an http(s) URL`, {
      hint: 'Start once with --public-url URL to set it.',
    });
  }
  return text;
}

export async function serve(options: ServeOptions): Promise<Serving> {
  const publicUrlFile = join(options.dataDir, 'public_url');
  const recorded = readPublicUrl(publicUrlFile);
  const given = options.publicUrl?.replace(/\/+$/, '');
  const stack = await startStack({
    host: '127.0.0.1',
    port: 8080,
    ...options,
    services: { tuf: true, ...options.services },
    issuerUrl: given ?? recorded,
  });
  // Recorded once, or replaced when --public-url deliberately names another one.
  if (recorded === undefined || (given !== undefined && given !== recorded)) {
    try {
      writeFileAtomic(publicUrlFile, `${given ?? stack.url}\n`, { fsync: true });
    } catch (e) {
      await stack.close();
      throw e;
    }
  }
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let resolveStopped!: () => void;
  let rejectStopped!: (e: unknown) => void;
  const stopped = new Promise<void>((res, rej) => {
    resolveStopped = res;
    rejectStopped = rej;
  });
  const onSignal = () => void stop();
  const stop = async () => {
    for (const s of signals) process.off(s, onSignal);
    try {
      await stack.close();
      resolveStopped();
    } catch (e) {
      rejectStopped(e);
    }
    return stopped;
  };
  for (const s of signals) process.on(s, onSignal);
  return { stack, stopped, stop };
}
