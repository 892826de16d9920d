/** Transparency log: domain object and Rekor v1 routes over a real sqlite store (no socket). */
import assert from 'node:assert/strict';
import { createPublicKey, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { hashLeaf, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../../src/core/merkle.ts';
import { isVouchError, VouchError } from '../../src/errors.ts';
import { loadOrCreateKey, type StackKey } from '../../src/server/pki.ts';
import { Router, request } from '../../src/server/routes.ts';
import { SqliteLogStore } from '../../src/server/store/sqlite.ts';
import type { LogStore, StoredEntry, StoredNode } from '../../src/server/store/types.ts';
import { canonicalizeProposedEntry } from '../../src/server/tlog/entries.ts';
import { type EntryView, TransparencyLog } from '../../src/server/tlog/log.ts';
import { MAX_ENTRY_BODY, tlogRoutes } from '../../src/server/tlog/routes.ts';
import { checkKeyPinning, dsseEntry, hashedRekord, intotoEntry, newSigner, verifyCheckpoint } from './helpers.ts';

const hex = (h: string[]) => h.map((x) => Buffer.from(x, 'hex'));

describe('transparency log', () => {
  let dir: string;
  let key: StackKey;
  let store: SqliteLogStore;
  let log: TransparencyLog;
  let router: Router;
  const signer = newSigner();
  const post = (b: unknown, headers?: Record<string, string>) =>
    router.dispatch(request('POST', '/api/v1/log/entries', { body: b, headers }));
  const get = (p: string) => router.dispatch(request('GET', p));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-tlog-'));
    key = await loadOrCreateKey(join(dir, 'keys'), 'tlog');
    store = new SqliteLogStore(join(dir, 'tlog.sqlite3'));
    log = await TransparencyLog.open({ store, key, keyName: '127.0.0.1' });
    router = new Router(tlogRoutes(log, '/tlog'));
  });
  after(async () => {
    await log.drain();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function checkEntry(uuid: string, e: EntryView) {
    const leaf = hashLeaf(Buffer.from(e.body, 'base64'));
    assert.equal(uuid, leaf.toString('hex'));
    const p = e.verification.inclusionProof;
    const cp = verifyCheckpoint(p.checkpoint, key.publicKey, log.logId);
    assert.equal(cp.size, p.treeSize);
    assert.equal(cp.root.toString('hex'), p.rootHash);
    assert.ok(verifyInclusion(leaf, e.logIndex, p.treeSize, hex(p.hashes), cp.root));
  }

  it('admits concurrent entries in group commits, each with a valid proof and checkpoint', async () => {
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 5 === 0 ? post(dsseEntry(signer, Buffer.from(`{"n":${i}}`))) : post(hashedRekord(signer, `artifact ${i}`)),
      ),
    );
    const seen = new Set<number>();
    for (const r of results) {
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const [uuid, e] = Object.entries(r.body as Record<string, EntryView>)[0]!;
      assert.equal(r.headers?.location, `/tlog/api/v1/log/entries/${uuid}`);
      checkEntry(uuid, e);
      seen.add(e.logIndex);
    }
    assert.equal(seen.size, 60);
    assert.equal(log.size, 60);
    const leaves = [];
    for (let i = 0; i < 60; i++) leaves.push((await store.byIndex(i))!.leafHash);
    const info = (await get('/api/v1/log')).body as { rootHash: string; treeSize: number; signedTreeHead: string };
    assert.equal(info.rootHash, rootFromLeafHashes(leaves).toString('hex'));
    verifyCheckpoint(info.signedTreeHead, key.publicKey, log.logId);
  });

  it('answers a duplicate with 409 and the existing entry location', async () => {
    const entry = hashedRekord(signer, 'dup');
    const first = await post(entry);
    assert.equal(first.status, 201);
    const uuid = Object.keys(first.body as object)[0]!;
    const again = await post(entry);
    assert.equal(again.status, 409);
    assert.equal(again.headers?.location, `/tlog/api/v1/log/entries/${uuid}`);
    const existing = (again.body as { existing: Record<string, EntryView> }).existing;
    assert.equal(existing[uuid]!.logIndex, (first.body as Record<string, EntryView>)[uuid]!.logIndex);
    // Also when both copies arrive in the same batch.
    const twin = hashedRekord(signer, 'twin');
    const both = await Promise.all([post(twin), post(twin)]);
    assert.deepEqual(both.map((r) => r.status).sort(), [201, 409]);
    const dup = both.find((r) => r.status === 409)!;
    assert.ok(Object.keys((dup.body as { existing: object }).existing).length === 1, 'twin is fetchable at 409 time');
  });

  it('serves entries by index, uuid (64 and 80 hex) and retrieve', async () => {
    const byIndex = await get('/api/v1/log/entries?logIndex=3');
    assert.equal(byIndex.status, 200);
    const [uuid, e] = Object.entries(byIndex.body as Record<string, EntryView>)[0]!;
    checkEntry(uuid, e);
    const byUuid = await get(`/api/v1/log/entries/${uuid}`);
    assert.deepEqual(Object.keys(byUuid.body as object), [uuid]);
    const treeHex = BigInt(log.treeId).toString(16).padStart(16, '0');
    assert.equal((await get(`/api/v1/log/entries/${treeHex}${uuid}`)).status, 200);
    const otherTree = treeHex === '0'.repeat(16) ? '1'.repeat(16) : '0'.repeat(16);
    assert.equal((await get(`/api/v1/log/entries/${otherTree}${uuid}`)).status, 404);
    const r = await router.dispatch(
      request('POST', '/api/v1/log/entries/retrieve', {
        body: { entryUUIDs: [uuid, 'f'.repeat(64)], logIndexes: [0, 9999] },
      }),
    );
    assert.equal(r.status, 200);
    assert.equal((r.body as unknown[]).length, 2);
  });

  it('serves consistency proofs that verify', async () => {
    const size = log.size;
    const last = (await get('/api/v1/log')).body as { rootHash: string };
    for (const first of [1, 2, 7, 32, size - 1, size]) {
      const r = await get(`/api/v1/log/proof?firstSize=${first}&lastSize=${size}`);
      assert.equal(r.status, 200);
      const b = r.body as { rootHash: string; hashes: string[] };
      assert.equal(b.rootHash, last.rootHash);
      const firstRoot = await log.rootAt(first);
      assert.ok(verifyConsistency(first, size, hex(b.hashes), firstRoot, Buffer.from(b.rootHash, 'hex')), `${first}`);
    }
    // Between two past sizes: roots recomputed independently from the stored leaves.
    const leaves = [];
    for (let i = 0; i < size; i++) leaves.push((await store.byIndex(i))!.leafHash);
    for (const [m, n] of [
      [3, 17],
      [16, 32],
      [1, 5],
      [31, 33],
    ] as const) {
      const b = (await get(`/api/v1/log/proof?firstSize=${m}&lastSize=${n}`)).body as {
        rootHash: string;
        hashes: string[];
      };
      const rootN = rootFromLeafHashes(leaves.slice(0, n));
      assert.equal(b.rootHash, rootN.toString('hex'));
      assert.ok(verifyConsistency(m, n, hex(b.hashes), rootFromLeafHashes(leaves.slice(0, m)), rootN), `${m}->${n}`);
    }
  });

  it('rejects hostile requests with 4xx, never 500 (table)', async () => {
    const other = newSigner();
    const good = hashedRekord(signer, 'x');
    const spec = good.spec as { data: { hash: { value: string } } };
    /** A valid intoto entry with one change to its `spec.content`. */
    const intotoWith = (change: (content: { envelope: Record<string, unknown>; hash?: unknown }) => unknown) => {
      const e = intotoEntry(signer, Buffer.from('{"_type":"x"}')) as { spec: { content: never } };
      change(e.spec.content);
      return e;
    };
    const cases: [string, unknown, number, Record<string, string>?][] = [
      ['signature by another key', hashedRekord(signer, 'y', sign('sha256', Buffer.from('y'), other.privateKey)), 400],
      [
        'digest mismatch',
        {
          ...good,
          spec: { ...(good.spec as object), data: { hash: { algorithm: 'sha256', value: 'ab'.repeat(32) } } },
        },
        400,
      ],
      [
        'short digest',
        {
          ...good,
          spec: {
            ...(good.spec as object),
            data: { hash: { algorithm: 'sha256', value: spec.data.hash.value.slice(2) } },
          },
        },
        400,
      ],
      [
        'md5',
        { ...good, spec: { ...(good.spec as object), data: { hash: { algorithm: 'md5', value: 'ab'.repeat(16) } } } },
        400,
      ],
      ['unknown kind', { ...good, kind: 'rekord' }, 400],
      ['unknown version', { ...good, apiVersion: '0.0.2' }, 400],
      ['no spec', { kind: 'hashedrekord', apiVersion: '0.0.1' }, 400],
      ['dsse bad signature', dsseEntry(signer, Buffer.from('{}'), true), 400],
      [
        'dsse envelope not JSON',
        { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: '{', verifiers: [signer.pemB64] } } },
        400,
      ],
      [
        'dsse no verifiers',
        { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: '{}', verifiers: [] } } },
        400,
      ],
      [
        'key not PEM',
        { ...good, spec: { ...(good.spec as object), signature: { content: 'AAAA', publicKey: { content: 'AAAA' } } } },
        400,
      ],
      ['intoto bad signature', intotoEntry(signer, Buffer.from('{}'), true), 400],
      ['intoto signature by a key not given', intotoEntry(other, Buffer.from('{}'), false, signer.pemB64), 400],
      ['intoto payload encoded once', intotoWith((e) => Object.assign(e.envelope, { payload: 'e30=' })), 400],
      ['intoto no signatures', intotoWith((e) => Object.assign(e.envelope, { signatures: [] })), 400],
      ['intoto no envelope hash', intotoWith((e) => delete e.hash), 400],
      [
        'intoto envelope hash not hex',
        intotoWith((e) => Object.assign(e, { hash: { algorithm: 'sha256', value: 'z'.repeat(64) } })),
        400,
      ],
      [
        'intoto envelope hash md5',
        intotoWith((e) => Object.assign(e, { hash: { algorithm: 'md5', value: 'ab'.repeat(16) } })),
        400,
      ],
      ['intoto empty payload type', intotoWith((e) => Object.assign(e.envelope, { payloadType: '' })), 400],
      ['intoto version 0.0.1', { ...intotoEntry(signer, Buffer.from('{}')), apiVersion: '0.0.1' }, 400],
      ['array body', [], 400],
      ['not JSON', '{"a":', 400, { 'content-type': 'application/json' }],
      ['duplicate keys', '{"kind":"a","kind":"b"}', 400, { 'content-type': 'application/json' }],
      ['no content type', Buffer.from('{}'), 400],
      ['oversized', Buffer.alloc(MAX_ENTRY_BODY + 1, 0x20), 413, { 'content-type': 'application/json' }],
    ];
    for (const [name, body, status, headers] of cases) {
      const r = await post(body, headers);
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
    }
    const gets: [string, number][] = [
      ['/api/v1/log/entries?logIndex=-1', 400],
      ['/api/v1/log/entries?logIndex=1e3', 400],
      ['/api/v1/log/entries', 400],
      ['/api/v1/log/entries?logIndex=99999', 404],
      ['/api/v1/log/entries/xyz', 400],
      [`/api/v1/log/entries/${'a'.repeat(64)}`, 404],
      ['/api/v1/log/proof?lastSize=999999', 400],
      ['/api/v1/log/proof?firstSize=0&lastSize=2', 400],
      ['/api/v1/log/proof?firstSize=3&lastSize=2', 400],
      ['/api/v1/log/proof', 400],
    ];
    for (const [path, status] of gets) assert.equal((await get(path)).status, status, path);
  });

  it('reopens with the same tree and proves consistency with the earlier checkpoint', async () => {
    const before = (await get('/api/v1/log')).body as { rootHash: string; treeSize: number };
    await log.drain();
    await store.close();
    store = new SqliteLogStore(join(dir, 'tlog.sqlite3'));
    const origin = log.origin;
    // Reopened under another host name: same origin (the log's identity), new signer name (for the new URL).
    log = await TransparencyLog.open({ store, key, keyName: 'localhost' });
    router = new Router(tlogRoutes(log, '/tlog'));
    assert.equal(log.origin, origin);
    assert.match((await log.info()).signedTreeHead, /\n\u2014 localhost /);
    assert.equal(log.size, before.treeSize);
    assert.equal((await log.rootAt(log.size)).toString('hex'), before.rootHash);
    await post(hashedRekord(signer, 'after reopen'));
    const p = await log.consistency(before.treeSize, log.size);
    assert.ok(
      verifyConsistency(
        before.treeSize,
        log.size,
        hex(p.hashes),
        Buffer.from(before.rootHash, 'hex'),
        Buffer.from(p.rootHash, 'hex'),
      ),
    );
    await assert.rejects(log.consistency(0, 1), (e) => isVouchError(e, 'REQUEST_INVALID'));
    assert.ok(createPublicKey(key.privateKey).equals(key.publicKey));
  });
});

describe('sqlite log store', () => {
  it('records the log key at creation and refuses to open with another (LOG_KEY_MISMATCH)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-pin-'));
    try {
      const path = join(dir, 'tlog.sqlite3');
      const keys = {
        a: await loadOrCreateKey(join(dir, 'a'), 'tlog'),
        b: await loadOrCreateKey(join(dir, 'b'), 'tlog'),
      };
      const forgetKey = async () => {
        const db = new DatabaseSync(path);
        db.exec("DELETE FROM meta WHERE key = 'public_key'");
        db.close();
      };
      await checkKeyPinning(async () => new SqliteLogStore(path), forgetKey, keys);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second writer on the same database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-lock-'));
    const a = new SqliteLogStore(join(dir, 'db'));
    try {
      assert.throws(
        () => new SqliteLogStore(join(dir, 'db')),
        (e) => isVouchError(e, 'SERVICE_UNAVAILABLE'),
      );
    } finally {
      void a.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('canonical bodies match production Rekor', () => {
  // Independent vectors: entries the public-good Rekor admitted, from /work/shared/realbundles. Rebuilding the
  // proposed entry a client would have sent and canonicalizing it must give Rekor's exact leaf bytes.
  const CASES = '/work/shared/realbundles/cases';
  const load = (name: string) => {
    const bundle = JSON.parse(readFileSync(join(CASES, name, 'bundle.sigstore.json'), 'utf8'));
    const tlog = bundle.verificationMaterial.tlogEntries[0];
    const body = Buffer.from(tlog.canonicalizedBody, 'base64');
    return { bundle, body, parsed: JSON.parse(body.toString()) };
  };
  const skip = existsSync(CASES) ? false : 'realbundles not present';

  it('hashedrekord 0.0.1', { skip }, () => {
    const { bundle, body, parsed } = load('prod-v0.3-hashedrekord');
    const proposed = {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: parsed.spec.data.hash },
        signature: { content: bundle.messageSignature.signature, publicKey: parsed.spec.signature.publicKey },
      },
    };
    assert.equal(canonicalizeProposedEntry(proposed).body.toString(), body.toString());
  });

  it('dsse 0.0.1', { skip }, () => {
    const { bundle, body, parsed } = load('prod-v0.3-dsse-intoto');
    const proposed = {
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        proposedContent: {
          envelope: JSON.stringify(bundle.dsseEnvelope),
          verifiers: [parsed.spec.signatures[0].verifier],
        },
      },
    };
    assert.equal(canonicalizeProposedEntry(proposed).body.toString(), body.toString());
  });

  it('intoto 0.0.2 (npm provenance)', { skip }, () => {
    const { bundle, body, parsed } = load('prod-npm-provenance-sigstore-2.0.0');
    const logged = parsed.spec.content;
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    // What the client sent (sigstore-js toProposedIntotoEntry): payload and signature base64-encoded twice, the
    // signer's certificate beside the signature, its own envelope hash; the payload hash is the log's to compute.
    const proposed = {
      apiVersion: '0.0.2',
      kind: 'intoto',
      spec: {
        content: {
          envelope: {
            payloadType: bundle.dsseEnvelope.payloadType,
            payload: b64(bundle.dsseEnvelope.payload),
            signatures: [
              { sig: b64(bundle.dsseEnvelope.signatures[0].sig), publicKey: logged.envelope.signatures[0].publicKey },
            ],
          },
          hash: logged.hash,
          payloadHash: { algorithm: 'sha256', value: '00'.repeat(32) },
        },
      },
    };
    assert.equal(canonicalizeProposedEntry(proposed).body.toString(), body.toString());
    // The signature is checked before admission: another payload under the same signature is refused.
    const forged = structuredClone(proposed);
    forged.spec.content.envelope.payload = b64(b64('{"_type":"https://in-toto.io/Statement/v1"}'));
    assert.throws(
      () => canonicalizeProposedEntry(forged),
      (e: { code?: string }) => e.code === 'SIGNATURE_INVALID',
    );
  });
});

describe('log recovery after an ambiguous commit failure', () => {
  it('continues from the stored tree when a commit landed but reported failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-lost-ack-'));
    const inner = new SqliteLogStore(join(dir, 'db'));
    let failNext = false;
    // Fault injection around the real store: the batch is committed, then the acknowledgement is "lost".
    const store: LogStore = Object.assign(Object.create(inner) as SqliteLogStore, {
      append: async (e: readonly StoredEntry[], n: readonly StoredNode[]) => {
        await inner.append(e, n);
        if (failNext) {
          failNext = false;
          throw new VouchError('SERVICE_UNAVAILABLE', 'connection lost after COMMIT');
        }
      },
    });
    try {
      const log = await TransparencyLog.open({
        store,
        key: await loadOrCreateKey(join(dir, 'k'), 'tlog'),
        keyName: 'x',
      });
      const signer = newSigner();
      await log.add(hashedRekord(signer, 'a'));
      const lost = hashedRekord(signer, 'b');
      failNext = true;
      await assert.rejects(log.add(lost), (e) => isVouchError(e, 'SERVICE_UNAVAILABLE'));
      await assert.rejects(log.add(lost), (e) => isVouchError(e, 'ENTRY_EXISTS')); // it did land
      const c = await log.add(hashedRekord(signer, 'c'));
      assert.equal(c.entry.logIndex, 2);
      const leaves = [];
      for (let i = 0; i < 3; i++) leaves.push((await inner.byIndex(i))!.leafHash);
      assert.deepEqual(await log.rootAt(3), rootFromLeafHashes(leaves));
      await log.drain();
    } finally {
      await inner.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('log backpressure', () => {
  it('refuses appends with 503 beyond the queue bound instead of buffering them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-queue-'));
    const store = new SqliteLogStore(join(dir, 'db'));
    try {
      const log = await TransparencyLog.open({
        store,
        key: await loadOrCreateKey(join(dir, 'k'), 'tlog'),
        keyName: 'x',
        maxQueue: 2,
      });
      const signer = newSigner();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => log.add(hashedRekord(signer, `q${i}`))),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected'],
      );
      for (const r of results.slice(2))
        assert.ok(isVouchError((r as PromiseRejectedResult).reason, 'SERVICE_UNAVAILABLE'));
      await log.drain();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
