/**
 * TSA: DER queries made by OpenSSL and answers checked by `openssl ts -verify` (an independent RFC 3161
 * implementation: ESS certificate binding, critical timeStamping EKU, nonce, imprint), the JSON form parsed by
 * @sigstore/core, and a hostile-input table.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RFC3161Timestamp } from '@sigstore/core';
import { certDer, loadOrCreateAuthorities } from '../../src/server/pki.ts';
import { Router, request } from '../../src/server/routes.ts';
import { tsaRoutes } from '../../src/server/tsa/routes.ts';
import { TimestampAuthority } from '../../src/server/tsa/tsa.ts';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('TSA (RFC 3161)', () => {
  let dir: string;
  let router: Router;
  let tsaKeyPub: import('node:crypto').KeyObject;
  const fixed = new Date('2026-01-02T03:04:05.678Z');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-tsa-'));
    const m = await loadOrCreateAuthorities(dir, 'test', new Date('2025-12-01T00:00:00Z'));
    tsaKeyPub = m.tsaKey.publicKey;
    const tsa = new TimestampAuthority({ key: m.tsaKey, chain: [certDer(m.tsa), certDer(m.root)], clock: () => fixed });
    router = new Router(tsaRoutes(tsa));
    writeFileSync(join(dir, 'root.pem'), m.root.toString('pem'));
    writeFileSync(join(dir, 'tsa.pem'), m.tsa.toString('pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const post = (body: Buffer<ArrayBufferLike> | string, ct: string) =>
    router.dispatch(request('POST', '/api/v1/timestamp', { body, headers: { 'content-type': ct } }));

  it(
    'answers an OpenSSL query with a token OpenSSL verifies',
    { skip: !hasOpenssl() && 'openssl not installed' },
    async () => {
      const data = join(dir, 'data');
      writeFileSync(data, 'timestamp me');
      const tsq = join(dir, 'req.tsq');
      execFileSync('openssl', ['ts', '-query', '-data', data, '-sha256', '-cert', '-out', tsq]);
      const res = await post(readFileSync(tsq), 'application/timestamp-query');
      assert.equal(res.status, 201);
      assert.equal(res.headers?.['content-type'], 'application/timestamp-reply');
      const tsr = join(dir, 'resp.tsr');
      writeFileSync(tsr, res.body as Buffer);
      const out = execFileSync(
        'openssl',
        [
          'ts',
          '-verify',
          '-in',
          tsr,
          '-queryfile',
          tsq,
          '-CAfile',
          join(dir, 'root.pem'),
          '-untrusted',
          join(dir, 'tsa.pem'),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      assert.match(out, /Verification: OK/);
      // Another artifact's query must not verify against this reply.
      writeFileSync(data, 'something else');
      const other = join(dir, 'other.tsq');
      execFileSync('openssl', ['ts', '-query', '-data', data, '-sha256', '-out', other]);
      assert.throws(() =>
        execFileSync(
          'openssl',
          [
            'ts',
            '-verify',
            '-in',
            tsr,
            '-queryfile',
            other,
            '-CAfile',
            join(dir, 'root.pem'),
            '-untrusted',
            join(dir, 'tsa.pem'),
          ],
          { stdio: 'ignore' },
        ),
      );
    },
  );

  it('answers the JSON form with a token @sigstore/core verifies', async () => {
    const sig = Buffer.from('a signature');
    const res = await post(
      JSON.stringify({ artifactHash: createHash('sha256').update(sig).digest('base64'), hashAlgorithm: 'sha256' }),
      'application/json',
    );
    assert.equal(res.status, 201);
    const ts = RFC3161Timestamp.parse(res.body as Buffer<ArrayBuffer>);
    assert.equal(ts.signingTime.toISOString(), '2026-01-02T03:04:05.000Z');
    ts.verify(sig, tsaKeyPub);
    assert.throws(() => ts.verify(Buffer.from('other'), tsaKeyPub));
  });

  it('rejects hostile queries with 4xx (table)', async () => {
    const good = JSON.stringify({ artifactHash: Buffer.alloc(32).toString('base64'), hashAlgorithm: 'sha256' });
    const cases: [string, Buffer<ArrayBufferLike> | string, string, number][] = [
      ['garbage DER', Buffer.from('hello'), 'application/timestamp-query', 400],
      ['empty', Buffer.alloc(0), 'application/timestamp-query', 400],
      [
        'short hash',
        JSON.stringify({ artifactHash: Buffer.alloc(31).toString('base64'), hashAlgorithm: 'sha256' }),
        'application/json',
        400,
      ],
      [
        'md5',
        JSON.stringify({ artifactHash: Buffer.alloc(16).toString('base64'), hashAlgorithm: 'md5' }),
        'application/json',
        400,
      ],
      [
        'non-canonical base64',
        JSON.stringify({ artifactHash: 'AAAA AAAA', hashAlgorithm: 'sha256' }),
        'application/json',
        400,
      ],
      ['bad nonce', JSON.stringify({ ...JSON.parse(good), nonce: -1 }), 'application/json', 400],
      ['other policy', JSON.stringify({ ...JSON.parse(good), tsaPolicyOID: '1.2.3' }), 'application/json', 400],
      ['wrong content type', good, 'text/plain', 400],
      ['oversized', Buffer.alloc(20_000), 'application/timestamp-query', 413],
    ];
    for (const [name, body, ct, status] of cases) assert.equal((await post(body, ct)).status, status, name);
  });

  it('serves its certificate chain', async () => {
    const res = await router.dispatch(request('GET', '/api/v1/timestamp/certchain'));
    assert.equal((res.body as string).match(/BEGIN CERTIFICATE/g)?.length, 2);
  });
});
