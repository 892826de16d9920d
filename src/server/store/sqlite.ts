/**
 * LogStore on node:sqlite. WAL journal with synchronous=FULL: a commit returns only after the WAL is fsynced, so an
 * acknowledged append survives power loss and kill -9. Appends arrive already batched (group commit in the log),
 * so one fsync covers many entries. Nodes are keyed (level, idx) in a WITHOUT ROWID table: a proof is O(log n)
 * point lookups.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { NodeId } from '../../core/merkle.ts';
import { VouchError } from '../../errors.ts';
import type { LogStore, StoredEntry, StoredNode } from './types.ts';

interface EntryRow {
  idx: number;
  leaf: Uint8Array;
  body: Uint8Array;
  integrated_time: number;
  set_sig: Uint8Array;
}

function toEntry(r: EntryRow | undefined): StoredEntry | undefined {
  if (!r) return undefined;
  return {
    index: Number(r.idx),
    leafHash: Buffer.from(r.leaf),
    body: Buffer.from(r.body),
    integratedTime: Number(r.integrated_time),
    set: Buffer.from(r.set_sig),
  };
}

export class SqliteLogStore implements LogStore {
  private readonly db: DatabaseSync;
  private readonly st: {
    insertEntry: StatementSync;
    insertNode: StatementSync;
    node: StatementSync;
    byIndex: StatementSync;
    byLeaf: StatementSync;
    exists: StatementSync;
    size: StatementSync;
    getMeta: StatementSync;
    setMeta: StatementSync;
  };
  private closed = false;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(path);
    // One writer per database: the log keeps its tree's right edge in memory, so a second process appending to the
    // same file would compute roots from a stale edge. EXCLUSIVE locking takes the write lock on first write and
    // keeps it until close (the OS drops it if the process dies).
    try {
      this.db.exec('PRAGMA busy_timeout = 1000; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL;');
      this.db.exec('BEGIN IMMEDIATE; COMMIT;');
    } catch (e) {
      this.db.close();
      throw new VouchError('SERVICE_UNAVAILABLE', `the log database ${path} is in use by another process`, {
        cause: e,
        hint: 'Stop the other vouch server using this data directory, or give this one another --data.',
      });
    }
    this.db.exec(`
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS entries (
        idx INTEGER PRIMARY KEY,
        leaf BLOB NOT NULL UNIQUE,
        body BLOB NOT NULL,
        integrated_time INTEGER NOT NULL,
        set_sig BLOB NOT NULL
      );
      CREATE TABLE IF NOT EXISTS nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.st = {
      insertEntry: this.db.prepare(
        'INSERT INTO entries (idx, leaf, body, integrated_time, set_sig) VALUES (?, ?, ?, ?, ?)',
      ),
      insertNode: this.db.prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
      node: this.db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?'),
      byIndex: this.db.prepare('SELECT * FROM entries WHERE idx = ?'),
      byLeaf: this.db.prepare('SELECT * FROM entries WHERE leaf = ?'),
      exists: this.db.prepare('SELECT 1 AS x FROM entries WHERE leaf = ?'),
      size: this.db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM entries'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  async size(): Promise<number> {
    return Number((this.st.size.get() as { n: number }).n);
  }

  async append(entries: readonly StoredEntry[], nodes: readonly StoredNode[]): Promise<void> {
    this.appendSync(entries, nodes);
  }

  /** Synchronous form, used by the benchmark to build large trees directly. */
  appendSync(entries: readonly StoredEntry[], nodes: readonly StoredNode[]): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const e of entries) this.st.insertEntry.run(e.index, e.leafHash, e.body, e.integratedTime, e.set);
      for (const n of nodes) this.st.insertNode.run(n.level, n.index, n.hash);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw new VouchError('SERVICE_UNAVAILABLE', 'the log store could not persist the batch', { cause: err });
    }
  }

  async nodes(ids: readonly NodeId[]): Promise<Buffer[]> {
    return ids.map((id) => {
      const r = this.st.node.get(id.level, id.index) as { hash: Uint8Array } | undefined;
      if (!r) throw new VouchError('INTERNAL', `log store is missing node ${id.level}/${id.index}`);
      return Buffer.from(r.hash);
    });
  }

  async byIndex(index: number): Promise<StoredEntry | undefined> {
    return toEntry(this.st.byIndex.get(index) as EntryRow | undefined);
  }

  async byLeafHash(leafHash: Buffer): Promise<StoredEntry | undefined> {
    return toEntry(this.st.byLeaf.get(leafHash) as EntryRow | undefined);
  }

  async existing(leafHashes: readonly Buffer[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const h of leafHashes) if (this.st.exists.get(h)) out.add(h.toString('hex'));
    return out;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (this.st.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.st.setMeta.run(key, value);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Fold the WAL back into the database so the directory is self-contained after a clean shutdown.
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
