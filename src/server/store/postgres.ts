/**
 * LogStore on PostgreSQL (`pg`), for a team server. A batch is one transaction; PostgreSQL's default
 * synchronous_commit=on makes COMMIT return after the WAL is flushed, so an acknowledged append is durable.
 * Proof reads fetch all the nodes they need in one query. `pg` is an optional dependency, loaded only here.
 */
import type pg from 'pg';
import type { NodeId } from '../../core/merkle.ts';
import { VouchError } from '../../errors.ts';
import type { LogStore, StoredEntry, StoredNode } from './types.ts';

interface EntryRow {
  idx: string;
  leaf: Buffer;
  body: Buffer;
  integrated_time: string;
  set_sig: Buffer;
}

/** The `pg` package, or DEPENDENCY_MISSING when it was not installed (it is optional: only `--postgres` needs it). */
async function loadPg(): Promise<typeof pg> {
  try {
    return (await import('pg')).default;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || !/'pg'/.test(err.message)) throw e;
    throw new VouchError(
      'DEPENDENCY_MISSING',
      'the PostgreSQL log store needs the package pg, which is not installed',
      {
        cause: e,
        hint: 'Install it beside vouch (npm install pg); it is an optional dependency, left out by --omit=optional.',
      },
    );
  }
}

function toEntry(r: EntryRow | undefined): StoredEntry | undefined {
  return r
    ? {
        index: Number(r.idx),
        leafHash: r.leaf,
        body: r.body,
        integratedTime: Number(r.integrated_time),
        set: r.set_sig,
      }
    : undefined;
}

/** What a failed connection says about its cause: named in the message and in `details.postgres`. */
export type PostgresFailure = 'address' | 'auth' | 'database' | 'other';

/** Errno codes of a connection that never reached a PostgreSQL server. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A connection attempt that hears nothing is an error after this long, not a hang. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Where a connection URL points, and as whom, without its password. */
function describeTarget(url: string): { where: string; user: string; database: string } {
  try {
    const u = new URL(url);
    const user = decodeURIComponent(u.username);
    return {
      where: `${u.hostname || 'localhost'}:${u.port || '5432'}`,
      user,
      database: decodeURIComponent(u.pathname.replace(/^\//, '')) || user,
    };
  } catch {
    return { where: 'the --postgres address', user: '', database: '' };
  }
}

/**
 * The one-line error for a failed connection, naming its cause (server unreachable, login refused, no such
 * database) so the operator can act without VOUCH_DEBUG. SQLSTATE class 28 is "invalid authorization" (28P01 wrong
 * password, 28000 unknown role or a pg_hba.conf refusal) and 3D000 "invalid catalog name" (PostgreSQL docs,
 * Appendix A). The password never appears: only host, port, user and database are named.
 */
export function connectionError(url: string, e: unknown, doing: string): VouchError {
  const code = String((e as { code?: unknown }).code ?? '');
  const said = String((e as Error)?.message ?? e).slice(0, 200);
  const t = describeTarget(url);
  const fail = (
    c: 'SERVICE_UNAVAILABLE' | 'CONFIG_INVALID',
    postgres: PostgresFailure,
    message: string,
    hint: string,
  ) => new VouchError(c, `${doing}: ${message}`, { cause: e, hint, details: { postgres } });
  if (UNREACHABLE.has(code) || /timeout/i.test(said)) {
    return fail(
      'SERVICE_UNAVAILABLE',
      'address',
      `no PostgreSQL server answers at ${t.where} (${code || 'timeout'})`,
      'Check the host and port in --postgres, and that PostgreSQL runs and accepts TCP connections there.',
    );
  }
  if (code.startsWith('28')) {
    return fail(
      'CONFIG_INVALID',
      'auth',
      `PostgreSQL at ${t.where} refused user "${t.user}": ${said}`,
      "Check the user and password in --postgres, and the server's pg_hba.conf.",
    );
  }
  if (code === '3D000') {
    return fail(
      'CONFIG_INVALID',
      'database',
      `PostgreSQL at ${t.where} has no database "${t.database}"`,
      `Create it (createdb ${t.database || 'NAME'}) or name an existing database in --postgres.`,
    );
  }
  return fail('SERVICE_UNAVAILABLE', 'other', `PostgreSQL at ${t.where}: ${said}`, 'See the PostgreSQL server log.');
}

export class PostgresLogStore implements LogStore {
  private readonly pool: pg.Pool;
  private readonly lock: pg.Client;

  private constructor(pool: pg.Pool, lock: pg.Client) {
    this.pool = pool;
    this.lock = lock;
  }

  static async connect(url: string, schema = 'vouch_tlog'): Promise<PostgresLogStore> {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new VouchError('CONFIG_INVALID', 'invalid schema name');
    const pg = await loadPg();
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    try {
      await pool.query(`
        CREATE SCHEMA IF NOT EXISTS ${schema};
        CREATE TABLE IF NOT EXISTS ${schema}.entries (
          idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL UNIQUE, body BYTEA NOT NULL,
          integrated_time BIGINT NOT NULL, set_sig BYTEA NOT NULL);
        CREATE TABLE IF NOT EXISTS ${schema}.nodes (
          level SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx));
        CREATE TABLE IF NOT EXISTS ${schema}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    } catch (e) {
      await pool.end();
      throw connectionError(url, e, 'cannot open the PostgreSQL log store');
    }
    // One writer per log: the log keeps its tree's right edge in memory, so two servers appending to one schema
    // would compute roots from a stale edge. A session advisory lock, held on a dedicated connection for the
    // store's lifetime (and released by the server if this process dies), enforces it.
    const lock = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    let locked = false;
    try {
      await lock.connect();
      const r = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
        `vouch:${schema}`,
      ]);
      locked = r.rows[0]?.ok === true;
    } catch (e) {
      await lock.end().catch(() => {});
      await pool.end();
      throw connectionError(url, e, 'cannot lock the PostgreSQL log store');
    }
    if (!locked) {
      await lock.end().catch(() => {});
      await pool.end();
      throw new VouchError('SERVICE_UNAVAILABLE', `the log in schema ${schema} is in use by another vouch server`);
    }
    return new PostgresLogStore(pool, lock);
  }

  async size(): Promise<number> {
    const r = await this.pool.query<{ n: string }>('SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM entries');
    return Number(r.rows[0]!.n);
  }

  async append(entries: readonly StoredEntry[], nodes: readonly StoredNode[]): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      // Set-based inserts: one round trip per table whatever the batch size.
      await c.query(
        'INSERT INTO entries (idx, leaf, body, integrated_time, set_sig) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bytea[])',
        [
          entries.map((e) => e.index),
          entries.map((e) => e.leafHash),
          entries.map((e) => e.body),
          entries.map((e) => e.integratedTime),
          entries.map((e) => e.set),
        ],
      );
      await c.query(
        'INSERT INTO nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])',
        [nodes.map((n) => n.level), nodes.map((n) => n.index), nodes.map((n) => n.hash)],
      );
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw new VouchError('SERVICE_UNAVAILABLE', 'the log store could not persist the batch', { cause: e });
    } finally {
      c.release();
    }
  }

  async nodes(ids: readonly NodeId[]): Promise<Buffer[]> {
    if (ids.length === 0) return [];
    const r = await this.pool.query<{ level: number; idx: string; hash: Buffer }>(
      'SELECT n.level, n.idx, n.hash FROM nodes n JOIN unnest($1::smallint[], $2::bigint[]) AS q(level, idx) ON n.level = q.level AND n.idx = q.idx',
      [ids.map((i) => i.level), ids.map((i) => i.index)],
    );
    const m = new Map(r.rows.map((row) => [`${row.level}/${row.idx}`, row.hash]));
    return ids.map((id) => {
      const h = m.get(`${id.level}/${id.index}`);
      if (!h) throw new VouchError('INTERNAL', `log store is missing node ${id.level}/${id.index}`);
      return h;
    });
  }

  async byIndex(index: number): Promise<StoredEntry | undefined> {
    return toEntry((await this.pool.query<EntryRow>('SELECT * FROM entries WHERE idx = $1', [index])).rows[0]);
  }

  async byLeafHash(leafHash: Buffer): Promise<StoredEntry | undefined> {
    return toEntry((await this.pool.query<EntryRow>('SELECT * FROM entries WHERE leaf = $1', [leafHash])).rows[0]);
  }

  async existing(leafHashes: readonly Buffer[]): Promise<Set<string>> {
    if (leafHashes.length === 0) return new Set();
    const r = await this.pool.query<{ leaf: Buffer }>('SELECT leaf FROM entries WHERE leaf = ANY($1::bytea[])', [
      leafHashes,
    ]);
    return new Set(r.rows.map((row) => row.leaf.toString('hex')));
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.lock.end();
  }
}
