/**
 * One embedded stack at a time per VOUCH_HOME. The embedded log keeps its tree in memory and persists it to SQLite;
 * two processes appending at once (parallel CI steps, `make -j`) would each extend their own view of the tree and
 * all but one would fail. So a process holds an exclusive lock for the whole signing session.
 *
 * The lock is an exclusive SQLite transaction on a small file: the operating system releases it when the process
 * dies, so a crashed `vouch sign` never leaves a stale lock behind (unlike a PID file), and SQLite's busy timeout
 * does the waiting. Within one process, callers queue on a promise first: SQLite's busy wait is synchronous and
 * would block the event loop of the very process that holds the lock.
 */
import { DatabaseSync } from 'node:sqlite';
import { VouchError } from '../errors.ts';

export interface HeldLock {
  release(): void;
}

const queues = new Map<string, Promise<void>>();

/** Take the lock at `path`, waiting for other sessions of this process, then for other processes. */
export async function acquireLock(path: string, timeoutMs = 120_000): Promise<HeldLock> {
  const previous = queues.get(path) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => {
    done = r;
  });
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  await previous;
  let lock: HeldLock;
  try {
    lock = lockFile(path, timeoutMs);
  } catch (e) {
    done();
    if (queues.get(path) === tail) queues.delete(path);
    throw e;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        lock.release();
      } finally {
        done();
        if (queues.get(path) === tail) queues.delete(path);
      }
    },
  };
}

function lockFile(path: string, timeoutMs: number): HeldLock {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: timeoutMs });
  } catch (e) {
    throw new VouchError('FILE_UNREADABLE', `cannot open the lock ${path}`, { cause: e });
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    throw new VouchError('SERVICE_UNAVAILABLE', 'the embedded instance is busy with another signing', {
      cause: e,
      hint: `Another vouch process held ${path} for ${Math.round(timeoutMs / 1000)} s; try again.`,
    });
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}
