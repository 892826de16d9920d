/**
 * Durability: a child process runs `serve`; while a stream of appends is in flight it is killed with SIGKILL.
 * After a restart on the same data directory every acknowledged entry must be there at the index it was given,
 * and a consistency proof from a checkpoint taken before the crash must verify. Then a SIGTERM must stop the
 * server cleanly.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { verifyConsistency } from '../../src/core/merkle.ts';
import { hashedRekord, newSigner } from './helpers.ts';

const CHILD = join(import.meta.dirname, 'serve-child.ts');

function start(dir: string): Promise<{ child: ChildProcess; tlog: string; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return lines.next().then((first) => {
    if (first.done) throw new Error('child exited before listening');
    return { child, tlog: (JSON.parse(first.value) as { tlog: string }).tlog, lines };
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('crash safety of the log (kill -9 during appends)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-crash-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged entry and stays consistent with an earlier checkpoint', async () => {
    const signer = newSigner();
    const first = await start(dir);
    const rootBefore = JSON.parse(readFileSync(join(dir, 'trusted_root.json'), 'utf8')) as {
      tlogs: { logId: unknown }[];
    };
    children.push(first.child);
    const acked = new Map<string, number>();
    let n = 0;
    let checkpoint: { treeSize: number; rootHash: string } | undefined;
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const i = n++;
        try {
          const res = await fetch(`${first.tlog}/api/v1/log/entries`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(hashedRekord(signer, `crash ${i}`)),
          });
          if (res.status !== 201) continue;
          const [uuid, e] = Object.entries((await res.json()) as Record<string, { logIndex: number }>)[0]!;
          acked.set(uuid, e.logIndex);
          if (acked.size === 40 && !checkpoint) {
            checkpoint = (await (await fetch(`${first.tlog}/api/v1/log`)).json()) as typeof checkpoint;
          }
          if (acked.size >= 150 && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch {
          // connection reset by the kill: not acknowledged, so not required to survive
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await exited(first.child);
    assert.ok(acked.size >= 150 && checkpoint);

    const second = await start(dir);
    children.push(second.child);
    const info = (await (await fetch(`${second.tlog}/api/v1/log`)).json()) as { treeSize: number; rootHash: string };
    assert.ok(info.treeSize >= acked.size);
    for (const [uuid, index] of acked) {
      const res = await fetch(`${second.tlog}/api/v1/log/entries/${uuid}`);
      assert.equal(res.status, 200, uuid);
      const e = Object.values((await res.json()) as Record<string, { logIndex: number }>)[0]!;
      assert.equal(e.logIndex, index);
    }
    const proof = (await (
      await fetch(`${second.tlog}/api/v1/log/proof?firstSize=${checkpoint.treeSize}&lastSize=${info.treeSize}`)
    ).json()) as { hashes: string[]; rootHash: string };
    assert.ok(
      verifyConsistency(
        checkpoint.treeSize,
        info.treeSize,
        proof.hashes.map((h) => Buffer.from(h, 'hex')),
        Buffer.from(checkpoint.rootHash, 'hex'),
        Buffer.from(info.rootHash, 'hex'),
      ),
    );
    // The trusted root rewritten by the restarted server names the new URL and the same log key.
    const root = JSON.parse(readFileSync(join(dir, 'trusted_root.json'), 'utf8')) as {
      tlogs: { baseUrl: string; logId: unknown }[];
    };
    assert.equal(root.tlogs[0]!.baseUrl, second.tlog);
    assert.deepEqual(root.tlogs[0]!.logId, rootBefore.tlogs[0]!.logId);

    // Clean shutdown on SIGTERM.
    second.child.kill('SIGTERM');
    assert.equal((await second.lines.next()).value, 'stopped');
    assert.equal(await exited(second.child), 0);
  });
});
