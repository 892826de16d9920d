/**
 * `vouch deps lock [LOCKFILE|DIR] [--update NAME...]`: record each package's publisher identity in
 * vouch-deps.lock.json. A package whose identity differs from the lock keeps its locked entry unless named with
 * `--update`; nothing is written when a registry could not be checked (exit 3).
 */
import { type LockResult, lockDependencies } from '../../deps/verify.ts';
import { type DepsFlags, depsOptions, lockfileOf } from '../deps-flags.ts';
import { formatDepsLock } from '../format/deps.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  run: async ([target]: string[], flags: DepsFlags & { update?: string[] }, ctx): Promise<LockResult> =>
    lockDependencies(await lockfileOf(target), {
      ...(await depsOptions(flags, ctx)),
      ...(flags.update ? { update: flags.update } : {}),
    }),
  human: formatDepsLock,
  exitStatus: (r) => (r.written ? 0 : r.report.exitStatus),
});
