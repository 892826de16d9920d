/**
 * `vouch serve`: run the trust stack for a team until SIGTERM or SIGINT, then shut down cleanly (stop accepting,
 * finish in-flight requests, commit queued log appends, close the store). Returns the running stack and a promise
 * that settles when it has stopped; the CLI command prints `stack.url` and awaits `stopped`.
 */
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

export async function serve(options: ServeOptions): Promise<Serving> {
  const stack = await startStack({ host: '127.0.0.1', port: 8080, ...options });
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
