/** `vouch deps verify | lock`: a project's dependencies against their registries, attestations and the identity lock. */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileError } from '../../core/digest.ts';
import { loadDepsPolicy } from '../../deps/policy.ts';
import type { DepsReport } from '../../deps/types.ts';
import {
  type DepsOptions,
  findLockfile,
  type LockResult,
  lockDependencies,
  verifyDependencies,
} from '../../deps/verify.ts';
import { VouchError } from '../../errors.ts';
import { loadTrustedRoot, type TrustMaterial } from '../../verify/trust.ts';

export interface DepsFlags {
  policy?: string;
  requireSignatures?: boolean;
  trustedRoot?: string[];
  cache?: boolean;
  concurrency?: string;
  depsLock?: string;
  onProgress?: DepsOptions['onProgress'];
}

/** A lockfile path, or a project folder holding one (default: the current folder). */
async function lockfileOf(target: string | undefined): Promise<string> {
  const path = resolve(target ?? '.');
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  return st.isDirectory() ? findLockfile(path) : path;
}

async function loadRoots(files: string[]): Promise<TrustMaterial[]> {
  return Promise.all(
    files.map(async (f) => {
      const text = await readFile(f, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw fileError(e, f);
      });
      return loadTrustedRoot(text);
    }),
  );
}

async function optionsOf(o: DepsFlags): Promise<DepsOptions> {
  const options: DepsOptions = {};
  if (o.policy !== undefined) options.policy = await loadDepsPolicy(o.policy);
  if (o.requireSignatures) options.requireSignatures = true;
  if (o.trustedRoot?.length) options.trust = await loadRoots(o.trustedRoot);
  if (o.cache === false) options.cacheDir = false;
  if (o.depsLock !== undefined) options.depsLock = o.depsLock;
  if (o.concurrency !== undefined) {
    const n = Number(o.concurrency);
    if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new VouchError('USAGE', '--concurrency must be 1..256');
    options.concurrency = n;
  }
  if (o.onProgress) options.onProgress = o.onProgress;
  return options;
}

export async function depsVerify(target: string | undefined, o: DepsFlags): Promise<DepsReport> {
  return verifyDependencies(await lockfileOf(target), await optionsOf(o));
}

export async function depsLock(target: string | undefined, o: DepsFlags & { update?: string[] }): Promise<LockResult> {
  return lockDependencies(await lockfileOf(target), {
    ...(await optionsOf(o)),
    ...(o.update ? { update: o.update } : {}),
  });
}
