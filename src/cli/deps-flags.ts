/** The flags `vouch deps verify` and `vouch deps lock` share, as `verifyDependencies` takes them. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileError } from '../core/digest.ts';
import { loadDepsPolicy } from '../deps/policy.ts';
import { type DepsOptions, findLockfile } from '../deps/verify.ts';
import { VouchError } from '../errors.ts';
import { loadTrust } from '../workflow/verify.ts';
import type { CommandContext } from './run.ts';

export interface DepsFlags {
  policy?: string;
  policyDigest?: string;
  requireSignatures?: boolean;
  trustedRoot?: string[];
  cache?: boolean;
  concurrency?: string;
  depsLock?: string;
}

/** A lockfile path, or a project folder holding one (default: the current folder). */
export async function lockfileOf(target: string | undefined): Promise<string> {
  const path = resolve(target ?? '.');
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  return st.isDirectory() ? findLockfile(path) : path;
}

export async function depsOptions(o: DepsFlags, ctx: CommandContext): Promise<DepsOptions> {
  const options: DepsOptions = {};
  if (o.policyDigest !== undefined && o.policy === undefined)
    throw new VouchError('USAGE', '--policy-digest needs --policy');
  if (o.policy !== undefined) {
    options.policy = await loadDepsPolicy(o.policy, o.policyDigest !== undefined ? { digest: o.policyDigest } : {});
  }
  if (o.requireSignatures) options.requireSignatures = true;
  if (o.trustedRoot?.length) {
    options.trust = (await Promise.all(o.trustedRoot.map((f) => loadTrust({ trustedRoot: f })))).flat();
  }
  if (o.cache === false) options.cacheDir = false;
  if (o.depsLock !== undefined) options.depsLock = o.depsLock;
  if (o.concurrency !== undefined) {
    const n = Number(o.concurrency);
    if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new VouchError('USAGE', '--concurrency must be 1..256');
    options.concurrency = n;
  }
  const bar = ctx.progress('verifying', 'packages');
  if (bar) options.onProgress = ({ done, total }) => bar({ filesDone: done, filesTotal: total });
  return options;
}
