/** Whole-file writes: a crash or a concurrent reader never sees a truncated file under the final name. */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VouchError } from '../errors.ts';

/** Write through a temporary sibling and rename it over `path` (rename is atomic within a directory). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {}
    const err = e as NodeJS.ErrnoException;
    throw new VouchError('FILE_UNREADABLE', `cannot write ${path}: ${err.code ?? err.message}`, { cause: e });
  }
}
