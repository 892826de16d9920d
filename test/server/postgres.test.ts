/**
 * The PostgreSQL LogStore against a real server: runs when VOUCH_TEST_PG_URL names one (CI starts PostgreSQL and
 * sets it), and is skipped with that reason otherwise. Each run uses its own schema and drops it afterwards.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { hashLeaf, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { isVouchError } from '../../src/errors.ts';
import { loadOrCreateKey } from '../../src/server/pki.ts';
import { PostgresLogStore } from '../../src/server/store/postgres.ts';
import { TransparencyLog } from '../../src/server/tlog/log.ts';
import { errorCode, vouch } from '../helpers/cli.ts';
import { checkKeyPinning, hashedRekord, newSigner } from './helpers.ts';

const URL_ = process.env.VOUCH_TEST_PG_URL;

describe(
  'PostgreSQL log store',
  { skip: URL_ ? false : 'VOUCH_TEST_PG_URL is not set (no PostgreSQL server to test against)' },
  () => {
    const schema = `vouch_test_${process.pid}_${Date.now()}`;
    const dir = mkdtempSync(join(tmpdir(), 'vouch-pg-'));
    after(async () => {
      const c = new pg.Client({ connectionString: URL_ });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
    });

    it('appends in group commits, proves inclusion and consistency, and reopens', async () => {
      const key = await loadOrCreateKey(join(dir, 'keys'), 'tlog');
      let store = await PostgresLogStore.connect(URL_!, schema);
      let log = await TransparencyLog.open({ store, key, keyName: 'pg' });
      const signer = newSigner();
      const proposed = Array.from({ length: 40 }, (_, i) => hashedRekord(signer, `pg ${i}`));
      const added = await Promise.all(proposed.map((p) => log.add(p)));
      for (const { uuid, entry } of added) {
        const p = entry.verification.inclusionProof;
        const leaf = hashLeaf(Buffer.from(entry.body, 'base64'));
        assert.equal(uuid, leaf.toString('hex'));
        assert.ok(
          verifyInclusion(
            leaf,
            entry.logIndex,
            p.treeSize,
            p.hashes.map((h) => Buffer.from(h, 'hex')),
            Buffer.from(p.rootHash, 'hex'),
          ),
        );
      }
      await assert.rejects(log.add(proposed[0]!), (e: { code?: string }) => e.code === 'ENTRY_EXISTS');
      const leaves = [];
      for (let i = 0; i < 40; i++) leaves.push((await store.byIndex(i))!.leafHash);
      const root = await log.rootAt(40);
      assert.deepEqual(root, rootFromLeafHashes(leaves));
      await log.drain();
      await store.close();

      store = await PostgresLogStore.connect(URL_!, schema);
      log = await TransparencyLog.open({ store, key, keyName: 'pg' });
      assert.equal(log.size, 40);
      await log.add(hashedRekord(signer, 'pg after reopen'));
      const c = await log.consistency(40, 41);
      assert.ok(
        verifyConsistency(
          40,
          41,
          c.hashes.map((h) => Buffer.from(h, 'hex')),
          root,
          Buffer.from(c.rootHash, 'hex'),
        ),
      );
      await log.drain();
      await store.close();
    });

    it('records the log key at creation and refuses to open with another (LOG_KEY_MISMATCH)', async () => {
      const pinned = `${schema}_pin`;
      const keys = {
        a: await loadOrCreateKey(join(dir, 'pin-a'), 'tlog'),
        b: await loadOrCreateKey(join(dir, 'pin-b'), 'tlog'),
      };
      const c = new pg.Client({ connectionString: URL_ });
      await c.connect();
      try {
        const forgetKey = async () => {
          await c.query(`DELETE FROM ${pinned}.meta WHERE key = 'public_key'`);
        };
        await checkKeyPinning(() => PostgresLogStore.connect(URL_!, pinned), forgetKey, keys);
      } finally {
        await c.query(`DROP SCHEMA IF EXISTS ${pinned} CASCADE`);
        await c.end();
      }
    });
  },
);

describe(
  'PostgreSQL connection failures name their cause',
  { skip: URL_ ? false : 'VOUCH_TEST_PG_URL is not set (no PostgreSQL server to test against)' },
  () => {
    /** A loopback port nothing listens on: bound, then released. */
    async function closedPort(): Promise<number> {
      const srv = createServer();
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const { port } = srv.address() as { port: number };
      await new Promise((resolve) => srv.close(resolve));
      return port;
    }
    const variant = async (change: (u: URL) => void | Promise<void>) => {
      const u = new URL(URL_!);
      u.password = 'hunter2-secret';
      await change(u);
      return u.href;
    };
    const rows: {
      name: string;
      url: () => Promise<string>;
      code: string;
      status: number;
      cause: string;
    }[] = [
      {
        name: 'wrong port',
        url: () =>
          variant(async (u) => {
            u.port = String(await closedPort());
          }),
        code: 'SERVICE_UNAVAILABLE',
        status: 3,
        cause: 'address',
      },
      {
        name: 'unknown user',
        url: () =>
          variant((u) => {
            u.username = 'vouch_no_such_role';
          }),
        code: 'CONFIG_INVALID',
        status: 2,
        cause: 'auth',
      },
      {
        name: 'missing database',
        url: () =>
          variant((u) => {
            u.pathname = '/vouch_no_such_database';
          }),
        code: 'CONFIG_INVALID',
        status: 2,
        cause: 'database',
      },
    ];
    for (const row of rows) {
      it(`${row.name}: ${row.code}, cause ${row.cause}, in the store and through vouch serve`, async () => {
        const url = await row.url();
        await assert.rejects(PostgresLogStore.connect(url, 'vouch_unused'), (e: unknown) => {
          assert.ok(isVouchError(e));
          assert.equal(e.code, row.code);
          assert.deepEqual(e.details, { postgres: row.cause });
          assert.ok(!e.message.includes('hunter2'), e.message);
          return true;
        });
        const data = mkdtempSync(join(tmpdir(), 'vouch-pg-cli-'));
        try {
          const r = vouch(['serve', '--data', data, '--port', '0', '--postgres', url, '--json']);
          assert.equal(r.status, row.status, r.stderr);
          assert.equal(errorCode(r.stderr), row.code, r.stderr);
          const out = r.json() as { error: { code: string; details: { postgres: string } } };
          assert.deepEqual(out.error.details, { postgres: row.cause });
          assert.ok(!r.stdout.includes('hunter2') && !r.stderr.includes('hunter2'));
        } finally {
          rmSync(data, { recursive: true, force: true });
        }
      });
    }
  },
);
