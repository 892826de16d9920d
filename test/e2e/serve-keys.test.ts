/**
 * Issue 10 item 8, as an operator meets it: `vouch serve` pointed at an existing log with another signing key (an
 * existing PostgreSQL schema with another `--data` folder, or a data folder whose keys were lost) must refuse to
 * start (exit 2, LOG_KEY_MISMATCH) instead of signing new checkpoints over the old tree, which every customer
 * holding the old trusted root would then reject.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';

/** Start `vouch serve`, wait until it listens, stop it with SIGTERM; returns its exit status. */
async function serveOnce(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve();
    });
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  child.kill('SIGTERM');
  return exit;
}

describe('vouch serve refuses a log created with another key', () => {
  const tmp = tempDir('vouch-serve-keys-');
  const at = (p: string) => join(tmp.path, p);
  after(() => tmp.dispose());

  it('SQLite: a data folder whose log key was replaced', async () => {
    assert.equal(await serveOnce(['--data', at('sqlite')]), 0);
    rmSync(at('sqlite/keys/tlog.key'));
    const r = vouch(['serve', '--data', at('sqlite'), '--port', '0']);
    assert.equal(errorCode(r.stderr), 'LOG_KEY_MISMATCH', r.stderr);
    assert.equal(r.status, 2);
  });

  const URL_ = process.env.VOUCH_TEST_PG_URL;
  describe('PostgreSQL', { skip: URL_ ? false : 'VOUCH_TEST_PG_URL is not set (no PostgreSQL server)' }, () => {
    const db = `vouch_keys_${process.pid}_${Date.now()}`;
    let url = '';
    const admin = () => new pg.Client({ connectionString: URL_ });
    before(async () => {
      const c = admin();
      await c.connect();
      await c.query(`CREATE DATABASE ${db}`);
      await c.end();
      const u = new URL(URL_!);
      u.pathname = `/${db}`;
      url = u.href;
    });
    after(async () => {
      const c = admin();
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    });

    it('an existing schema and another --data folder', async () => {
      assert.equal(await serveOnce(['--data', at('pg-1'), '--postgres', url]), 0);
      const r = vouch(['serve', '--data', at('pg-2'), '--port', '0', '--postgres', url]);
      assert.equal(errorCode(r.stderr), 'LOG_KEY_MISMATCH', r.stderr);
      assert.equal(r.status, 2);
      // Its own folder still opens it.
      assert.equal(await serveOnce(['--data', at('pg-1'), '--postgres', url]), 0);
    });
  });
});
