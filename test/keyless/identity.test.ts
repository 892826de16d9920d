import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { LocalIssuerProvider } from '../../src/identity/providers.ts';
import { decodeIdentityToken, proofSubject } from '../../src/identity/token.ts';
import { makeToken, rejectsWith, throwsWith } from './helpers.ts';

const b64u = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('identity token decoding', () => {
  it('reads issuer, subject, email and expiry', async () => {
    const token = await makeToken({ iss: 'https://issuer.example', sub: 'u-123', email: 'alice@example.com' });
    const claims = decodeIdentityToken(token);
    assert.equal(claims.issuer, 'https://issuer.example');
    assert.equal(claims.subject, 'u-123');
    assert.equal(claims.email, 'alice@example.com');
    assert.deepEqual(claims.audience, ['sigstore']);
    assert.ok(claims.expiresAt && claims.expiresAt > new Date());
    assert.equal(proofSubject(claims), 'alice@example.com');
  });

  it('proves possession over sub when there is no email (CI workload identities)', async () => {
    const sub = 'repo:octo/app:ref:refs/heads/main';
    const claims = decodeIdentityToken(await makeToken({ iss: 'https://token.actions.githubusercontent.com', sub }));
    assert.equal(proofSubject(claims), sub);
  });

  const header = b64u({ alg: 'ES256' });
  const body = (o: Record<string, unknown>) =>
    b64u({ iss: 'https://i.example', sub: 's', aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600, ...o });
  const rows: [string, () => Promise<string> | string][] = [
    ['empty', () => ''],
    ['two parts', () => `${header}.${body({})}`],
    ['unsigned', () => `${header}.${body({})}.`],
    ['payload not base64url', () => `${header}.@@@.c2ln`],
    ['payload not JSON', () => `${header}.${b64u('nope')}.c2ln`],
    ['payload is an array', () => `${header}.${b64u([1])}.c2ln`],
    ['duplicate claim', () => `${header}.${b64u('{"iss":"a","sub":"b","aud":"x","sub":"c"}')}.c2ln`],
    ['alg none', () => `${b64u({ alg: 'none' })}.${body({})}.c2ln`],
    ['no issuer', () => `${header}.${body({ iss: undefined })}.c2ln`],
    ['no subject', () => `${header}.${body({ sub: '' })}.c2ln`],
    ['audience not strings', () => `${header}.${body({ aud: [1] })}.c2ln`],
    ['exp not a number', () => `${header}.${body({ exp: '1' })}.c2ln`],
    ['not valid yet', () => `${header}.${body({ nbf: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`],
    ['expired (real signed token)', () => makeToken({ iss: 'https://i.example', sub: 's' }, { expiresIn: -3600 })],
    ['oversize', () => `${header}.${'A'.repeat(20000)}.c2ln`],
  ];
  for (const [name, make] of rows) {
    it(`rejects: ${name}`, async () => {
      const token = await make();
      throwsWith(() => decodeIdentityToken(token), 'TOKEN_INVALID');
    });
  }
});

/** A real HTTP endpoint standing in for an external token service (GitHub's runner service, a local issuer). */
async function withServer(
  handler: (req: { url: string; method: string; headers: Record<string, unknown>; body: string }) => [number, string],
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const [status, text] = handler({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('local issuer provider', () => {
  it('posts for audience sigstore and reads id_token', async () => {
    await withServer(
      (req) => {
        const body = JSON.parse(req.body) as Record<string, string>;
        return req.method === 'POST' && body.audience === 'sigstore'
          ? [200, JSON.stringify({ id_token: 'i.d.t' })]
          : [400, '{}'];
      },
      async (base) => {
        assert.equal(await new LocalIssuerProvider(`${base}/token`).getToken(), 'i.d.t');
      },
    );
  });
  it('an oversize answer is refused', async () => {
    await withServer(
      () => [200, JSON.stringify({ id_token: 'x'.repeat(100_000) })],
      (base) => rejectsWith(new LocalIssuerProvider(base).getToken(), 'SERVICE_ERROR').then(() => {}),
    );
  });
});
