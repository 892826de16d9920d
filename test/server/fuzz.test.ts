/**
 * Hostile input is the normal case: random and mutated JSON bodies against every POST route of a real stack
 * (called through the routes, no socket). Any 5xx is a bug. Seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CertificateAuthority } from '../../src/server/ca/ca.ts';
import { TokenVerifier } from '../../src/server/ca/oidc.ts';
import { caRoutes } from '../../src/server/ca/routes.ts';
import { LocalIssuer } from '../../src/server/oidc/issuer.ts';
import { certDer, loadOrCreateAuthorities, loadOrCreateKey } from '../../src/server/pki.ts';
import { Router, request } from '../../src/server/routes.ts';
import { SqliteLogStore } from '../../src/server/store/sqlite.ts';
import { TransparencyLog } from '../../src/server/tlog/log.ts';
import { tlogRoutes } from '../../src/server/tlog/routes.ts';
import { tsaRoutes } from '../../src/server/tsa/routes.ts';
import { TimestampAuthority } from '../../src/server/tsa/tsa.ts';
import { dsseEntry, hashedRekord, intotoEntry, newSigner } from './helpers.ts';

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ATOMS: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  2 ** 53,
  '',
  'AAAA',
  '0.0.1',
  'sha256',
  'ab'.repeat(32),
  '\u0000',
  [],
  {},
];
const KEYS = [
  'kind',
  'apiVersion',
  'spec',
  'data',
  'hash',
  'algorithm',
  'value',
  'signature',
  'content',
  'publicKey',
  'proposedContent',
  'envelope',
  'verifiers',
  'credentials',
  'oidcIdentityToken',
  'publicKeyRequest',
  'proofOfPossession',
  'artifactHash',
  'hashAlgorithm',
  'nonce',
  'entryUUIDs',
  'logIndexes',
  '__proto__',
];

function randomValue(r: () => number, depth: number): unknown {
  const x = r();
  if (depth > 4 || x < 0.4) return ATOMS[Math.floor(r() * ATOMS.length)];
  if (x < 0.55) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[KEYS[Math.floor(r() * KEYS.length)]!] = randomValue(r, depth + 1);
  return o;
}

/** Replace one random leaf of a valid document with a random value. */
function mutate(r: () => number, v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return randomValue(r, 3);
  const copy = structuredClone(v) as Record<string, unknown>;
  const keys = Object.keys(copy);
  if (keys.length === 0 || r() < 0.15) return randomValue(r, 2);
  const k = keys[Math.floor(r() * keys.length)]!;
  copy[k] = r() < 0.7 ? mutate(r, copy[k]) : randomValue(r, 2);
  return copy;
}

describe('fuzzing the POST routes', () => {
  let dir: string;
  let store: SqliteLogStore;
  let log: TransparencyLog;
  const routers: Record<string, Router> = {};
  let token = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-fuzz-'));
    const m = await loadOrCreateAuthorities(dir, 'fuzz', new Date());
    const issuer = new LocalIssuer({
      issuer: 'http://127.0.0.1:1/oidc',
      key: await loadOrCreateKey(join(dir, 'keys'), 'oidc'),
      email: 'f@example.test',
    });
    token = await issuer.mint();
    const ca = new CertificateAuthority({
      material: m,
      tokens: new TokenVerifier([{ issuer: issuer.issuer, jwks: await issuer.jwks() }]),
    });
    store = new SqliteLogStore(join(dir, 'tlog.sqlite3'));
    log = await TransparencyLog.open({ store, key: await loadOrCreateKey(join(dir, 'keys'), 'tlog'), keyName: 'fuzz' });
    routers.ca = new Router(caRoutes(ca));
    routers.tlog = new Router(tlogRoutes(log));
    routers.tsa = new Router(
      tsaRoutes(new TimestampAuthority({ key: m.tsaKey, chain: [certDer(m.tsa), certDer(m.root)] })),
    );
  });
  after(async () => {
    await log.drain();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never answers 5xx', async () => {
    const signer = newSigner();
    const valid: [string, string, unknown][] = [
      ['tlog', '/api/v1/log/entries', hashedRekord(signer, 'seed')],
      ['tlog', '/api/v1/log/entries', dsseEntry(signer, Buffer.from('{}'))],
      ['tlog', '/api/v1/log/entries', intotoEntry(signer, Buffer.from('{}'))],
      ['tlog', '/api/v1/log/entries/retrieve', { entryUUIDs: ['a'.repeat(64)], logIndexes: [0] }],
      [
        'ca',
        '/api/v2/signingCert',
        {
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: Buffer.from(signer.pemB64, 'base64').toString() },
            proofOfPossession: 'AAAA',
          },
        },
      ],
      ['tsa', '/api/v1/timestamp', { artifactHash: Buffer.alloc(32).toString('base64'), hashAlgorithm: 'sha256' }],
    ];
    const r = rng(0x5eed);
    for (let i = 0; i < 1000; i++) {
      const [svc, path, doc] = valid[i % valid.length]!;
      const body = i % 3 === 0 ? randomValue(r, 0) : mutate(r, doc);
      const res = await routers[svc]!.dispatch(
        request('POST', path, {
          body: JSON.stringify(body) ?? 'null',
          headers: { 'content-type': 'application/json' },
        }),
      );
      assert.ok(res.status < 500, `${svc} ${path} #${i}: ${res.status} for ${JSON.stringify(body).slice(0, 300)}`);
    }
  });

  it('never answers 5xx to mutated DER timestamp queries', async () => {
    const query = new pkijs.TimeStampReq({
      version: 1,
      messageImprint: new pkijs.MessageImprint({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.1' }),
        hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(32) }),
      }),
      nonce: new asn1js.Integer({ value: 42 }),
      certReq: true,
    });
    const der = Buffer.from(query.toSchema().toBER());
    const post = (b: Buffer) =>
      routers.tsa!.dispatch(
        request('POST', '/api/v1/timestamp', { body: b, headers: { 'content-type': 'application/timestamp-query' } }),
      );
    assert.equal((await post(der)).status, 201);
    const r = rng(0xde5);
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(der);
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
      const cut = r() < 0.2 ? m.subarray(0, Math.floor(r() * m.length)) : m;
      const res = await post(cut);
      assert.ok(res.status < 500, `#${i}: ${res.status} for ${cut.toString('hex')}`);
    }
  });
});
