/**
 * Where a TUF repository keeps its published files: metadata (`N.root.json`, `N.targets.json`, `N.snapshot.json`,
 * `timestamp.json`) at the top and target files (`targets/<sha256>.<name>`) below, the layout clients fetch. The
 * directory is a plain static mirror: it can be copied to any web server as is.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../../core/atomic.ts';
import { VouchError } from '../../errors.ts';

export interface TufStore {
  /** Every published file, by its path relative to the repository root. */
  load(): Map<string, Buffer>;
  /**
   * Publish a file. A versioned file is immutable once published (a client may have fetched it), so writing one that
   * exists with other bytes is an error; `timestamp.json` is the one file that is replaced.
   */
  put(name: string, data: Buffer): void;
}

/** Names the repository publishes: nothing else is read from or written to its directory. */
export const METADATA_NAME = /^(?:[1-9][0-9]{0,9}\.(?:root|targets|snapshot)\.json|timestamp\.json)$/;
export const TARGET_NAME = /^targets\/[0-9a-f]{64}\.[A-Za-z0-9._-]{1,100}$/;

/** Our own files are small; a larger one in the directory is not ours. */
const MAX_FILE = 8 << 20;

export class DirectoryTufStore implements TufStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, 'targets'), { recursive: true, mode: 0o755 });
  }

  load(): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    const names = [
      ...readdirSync(this.dir).filter((n) => METADATA_NAME.test(n)),
      ...readdirSync(join(this.dir, 'targets'))
        .map((n) => `targets/${n}`)
        .filter((n) => TARGET_NAME.test(n)),
    ];
    for (const name of names) {
      const path = join(this.dir, name);
      try {
        if (statSync(path).size > MAX_FILE) throw new Error(`larger than ${MAX_FILE} bytes`);
        files.set(name, readFileSync(path));
      } catch (e) {
        throw new VouchError('CONFIG_INVALID', `cannot read the TUF repository file ${path}`, { cause: e });
      }
    }
    return files;
  }

  put(name: string, data: Buffer): void {
    if (!METADATA_NAME.test(name) && !TARGET_NAME.test(name)) throw new Error(`not a repository file name: ${name}`);
    const path = join(this.dir, name);
    if (name === 'timestamp.json') {
      writeFileAtomic(path, data, { fsync: true });
      return;
    }
    // Written whole under a temporary name, then linked to its final name: link() fails if the name exists, so a
    // racing writer (or a restored backup) never replaces a version clients may hold, and a crash never leaves a
    // truncated file under a published name.
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    try {
      writeFileAtomic(tmp, data, { fsync: true });
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !readFileSync(path).equals(data)) throw e;
      }
    } catch (e) {
      throw new VouchError('CONFIG_INVALID', `cannot publish ${path}`, { cause: e });
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
