/**
 * `vouch deps verify [LOCKFILE|DIR]`: every locked package against its registry, its attestations, the identity
 * lock and earlier versions. Problems are findings, not errors: the report is printed and the exit status is 1
 * (3 when a registry could not be checked); `--format sarif` prints it for code scanning.
 */
import type { DepsReport } from '../../deps/types.ts';
import { verifyDependencies } from '../../deps/verify.ts';
import { type DepsFlags, depsOptions, lockfileOf } from '../deps-flags.ts';
import { depsSarif, formatDepsReport } from '../format/deps.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  run: async (
    [target]: string[],
    flags: DepsFlags & { format?: 'text' | 'json' | 'sarif' },
    ctx,
  ): Promise<DepsReport> => verifyDependencies(await lockfileOf(target), await depsOptions(flags, ctx)),
  human: formatDepsReport,
  json: (r, flags) => (flags.format === 'sarif' ? depsSarif(r) : r),
  exitStatus: (r) => r.exitStatus,
});
