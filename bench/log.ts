/**
 * Transparency log: durable appends per second over HTTP with 100 concurrent clients (group commit, beside the
 * same server with group commit disabled: one transaction and fsync per entry), and inclusion / consistency proof
 * latency at 10^3 and 10^6 entries (trees built directly in the sqlite store), beside the O(n) baseline of
 * recomputing the root from every leaf.
 * Run: npm run bench -- log     (or: node bench/log.ts)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Frontier, hashLeaf, rootFromLeafHashes } from '../src/core/merkle.ts';
import { loadOrCreateKey } from '../src/server/pki.ts';
import { SqliteLogStore } from '../src/server/store/sqlite.ts';
import type { StoredEntry, StoredNode } from '../src/server/store/types.ts';
import { TransparencyLog } from '../src/server/tlog/log.ts';
import { hashedRekordEntries, postJson } from './lib.ts';

const CLIENTS = 100;

async function appendsPerSecond(maxBatch: number, n: number, pgUrl?: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-log-'));
  const args = [join(import.meta.dirname, 'log-server.ts'), dir, String(maxBatch), ...(pgUrl ? [pgUrl] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
    const url = `${first.value as string}/api/v1/log/entries`;
    const bodies = hashedRekordEntries(n);
    let next = 0;
    let ok = 0;
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const post = (body: string) => postJson(agent, url, body);
    const client = async () => {
      while (next < bodies.length) if ((await post(bodies[next++]!)) === 201) ok++;
    };
    // Warm up connections and the JIT, then measure.
    await Promise.all(
      Array.from({ length: CLIENTS }, () => fetch(url.replace('/entries', '')).then((r) => r.arrayBuffer())),
    );
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const secs = (performance.now() - t0) / 1000;
    agent.destroy();
    if (ok !== n) throw new Error(`only ${ok}/${n} appends acknowledged`);
    return n / secs;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fill a store with n entries directly (bodies of 200 random bytes; SETs are placeholders, never read here). */
function build(store: SqliteLogStore, n: number): Buffer[] {
  const f = new Frontier();
  const leaves: Buffer[] = [];
  const set = Buffer.alloc(72);
  const BATCH = 50_000;
  for (let start = 0; start < n; start += BATCH) {
    const es: StoredEntry[] = [];
    const ns: StoredNode[] = [];
    for (let i = start; i < Math.min(n, start + BATCH); i++) {
      const body = randomBytes(200);
      const leafHash = hashLeaf(body);
      leaves.push(leafHash);
      es.push({ index: i, leafHash, body, integratedTime: 1_700_000_000, set });
      for (const node of f.append(leafHash)) ns.push(node);
    }
    store.appendSync(es, ns);
  }
  return leaves;
}

function stats(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `${(mean * 1e6).toFixed(0)} | ${(q(0.5) * 1e6).toFixed(0)} | ${(q(0.99) * 1e6).toFixed(0)}`;
}

async function proofs(n: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-bench-proof-'));
  try {
    const store = new SqliteLogStore(join(dir, 'tlog.sqlite3'));
    const t0 = performance.now();
    const leaves = build(store, n);
    const buildSecs = (performance.now() - t0) / 1000;
    const log = await TransparencyLog.open({
      store,
      key: await loadOrCreateKey(join(dir, 'keys'), 'tlog'),
      keyName: 'bench',
    });
    const size = log.size;
    await log.checkpoint(size); // sign the current checkpoint once, as a serving log does
    const inc: number[] = [];
    const con: number[] = [];
    for (let k = 0; k < 2000; k++) {
      const i = Math.floor(Math.random() * size);
      let t = performance.now();
      await log.inclusionProof(i, size);
      inc.push((performance.now() - t) / 1000);
      const m = 1 + Math.floor(Math.random() * (size - 1));
      t = performance.now();
      await log.consistency(m, size);
      con.push((performance.now() - t) / 1000);
    }
    const t1 = performance.now();
    rootFromLeafHashes(leaves);
    const naive = (performance.now() - t1) / 1000;
    await store.close();
    return [
      `| inclusion proof, ${n.toLocaleString('en')} entries | ${stats(inc)} |`,
      `| consistency proof, ${n.toLocaleString('en')} entries | ${stats(con)} |`,
      `| baseline: root from all leaves (O(n)), ${n.toLocaleString('en')} entries | ${(naive * 1e6).toFixed(0)} | | |`,
      `| (building the ${n.toLocaleString('en')}-entry store directly took ${buildSecs.toFixed(1)} s) | | | |`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const out: string[] = ['### Transparency log', ''];
const grouped = await appendsPerSecond(1000, 4000);
const single = await appendsPerSecond(1, 1000);
// PostgreSQL when a server is given (fresh schema per run is not needed: entries are random, so never duplicates).
const pgUrl = process.env.VOUCH_TEST_PG_URL;
const pgRate = pgUrl ? await appendsPerSecond(1000, 4000, pgUrl) : undefined;
out.push(
  `Durable appends over HTTP, ${CLIENTS} concurrent clients, sqlite WAL synchronous=FULL (every acknowledged entry fsynced):`,
  '',
  '| mode | appends/s |',
  '|---|---|',
  `| group commit (batches of up to 1000) | ${grouped.toFixed(0)} |`,
  `| baseline: one transaction per entry | ${single.toFixed(0)} |`,
  ...(pgRate ? [`| group commit, PostgreSQL store (synchronous_commit=on) | ${pgRate.toFixed(0)} |`] : []),
  '',
  'Proof latency (2000 random proofs each; µs):',
  '',
  '| operation | mean | p50 | p99 |',
  '|---|---|---|---|',
  ...(await proofs(1000)),
  ...(process.env.BENCH_LOG_SMALL ? [] : await proofs(1_000_000)),
);
process.stdout.write(`${out.join('\n')}\n`);
