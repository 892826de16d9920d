/**
 * The TUF repository of a data folder: role keys in `DATA/keys/tuf-<role>.key` (with the stack's other keys),
 * published files in `DATA/tuf/repository/` (a static mirror), and `DATA/tuf/root.json`, root version 1, the file
 * customers pin. A timer re-signs metadata before it expires even when nobody asks for it (the routes also check on
 * each request, which covers a machine that slept through a tick).
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic.ts';
import { loadOrCreateKey } from '../pki.ts';
import { Router } from '../routes.ts';
import { SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, TUF_ROLES, TufRepository, type TufRole } from './repository.ts';
import { tufRoutes } from './routes.ts';
import { DirectoryTufStore } from './store.ts';

export interface DataTuf {
  repository: TufRepository;
  /** The routes to mount at the mirror URL. */
  router: Router;
  /** `DATA/tuf/root.json`. */
  rootPath: string;
  stop(): void;
}

const REFRESH_CHECK_MS = 3600 * 1000;

export async function openDataTuf(
  dataDir: string,
  material: { trustedRoot: Buffer; signingConfig: Buffer },
  clock: () => Date,
  checkEveryMs = REFRESH_CHECK_MS,
): Promise<DataTuf> {
  const targets = { [TRUSTED_ROOT_TARGET]: material.trustedRoot, [SIGNING_CONFIG_TARGET]: material.signingConfig };
  const keyDir = join(dataDir, 'keys');
  const keys = {} as Record<TufRole, KeyObject>;
  for (const role of TUF_ROLES) keys[role] = (await loadOrCreateKey(keyDir, `tuf-${role}`)).privateKey;
  const dir = join(dataDir, 'tuf');
  const repository = TufRepository.open({
    store: new DirectoryTufStore(join(dir, 'repository')),
    keys,
    targets,
    clock,
  });
  const rootPath = join(dir, 'root.json');
  if (!existsSync(rootPath)) writeFileAtomic(rootPath, repository.initialRoot(), { fsync: true });
  const timer = setInterval(() => {
    try {
      repository.refreshIfDue();
    } catch {
      // A failed write (disk full) is retried at the next tick and on the next request, which reports it.
    }
  }, checkEveryMs);
  timer.unref();
  return { repository, router: new Router(tufRoutes(repository)), rootPath, stop: () => clearInterval(timer) };
}
