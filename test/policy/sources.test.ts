/**
 * Where a policy comes from, against hostile input: a local file (missing, a folder, too large, endless), a
 * digest that is not one, and a policy URL whose server misbehaves (an error status, a redirect, an oversize or
 * endless answer, one byte at a time past the deadline, another document than the digest says). One row per case,
 * its expected code. The last tests check the cache and the pins: a cache file that lost its digest is fetched
 * again, a corrupt pins file is CONFIG_INVALID, a pinned URL needs no flag.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, isVouchError } from '../../src/errors.ts';
import { pinPolicy, readPolicySource } from '../../src/instance/policies.ts';
import { MAX_POLICY_BYTES } from '../../src/policy/load.ts';
import { tempDir } from '../helpers/cli.ts';
import { type DripServer, dripServer } from '../helpers/drip.ts';

const POLICY = Buffer.from(
  'apiVersion: vouch.dev/policy/v1\nsigners:\n  rm: {identity: rm@acme.test, issuer: https://idp.acme.test}\nrequire: rm\n',
);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const DIGEST = sha256(POLICY);

async function code(p: Promise<unknown>): Promise<ErrorCode | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    assert.ok(isVouchError(e), `not a VouchError: ${String(e)}`);
    return e.code;
  }
}

describe('policy sources refused', () => {
  const tmp = tempDir('vouch-policy-src-');
  const at = (p: string) => join(tmp.path, p);
  let server: DripServer;
  const saved = process.env.VOUCH_HTTP_TIMEOUT;

  before(async () => {
    // The drip rows wait for the deadline: two seconds, not thirty.
    process.env.VOUCH_HTTP_TIMEOUT = '2';
    writeFileSync(at('big.yaml'), Buffer.alloc(MAX_POLICY_BYTES + 1, 0x23));
    writeFileSync(at('good.yaml'), POLICY);
    mkdirSync(at('folder.yaml'));
    server = await dripServer(
      (req) => {
        switch (req.path) {
          case '/good.yaml':
            return { status: 200, body: POLICY };
          case '/missing.yaml':
            return { status: 404, body: 'not found' };
          case '/moved.yaml':
            return { status: 302, headers: { location: '/good.yaml' } };
          case '/other.yaml':
            return { status: 200, body: Buffer.concat([POLICY, Buffer.from('# changed\n')]) };
          case '/huge.yaml':
            return { status: 200, body: Buffer.alloc(MAX_POLICY_BYTES + 1, 0x23) };
          case '/huge-unsized.yaml':
            return { status: 200, body: Buffer.alloc(MAX_POLICY_BYTES + 1, 0x23), unsized: true };
          case '/drip-all.yaml':
            return { drip: 'all' };
          case '/drip-body.yaml':
            return { drip: 'body' };
          default:
            return { status: 500, body: 'no route' };
        }
      },
      { intervalMs: 200 },
    );
  });

  after(async () => {
    if (saved === undefined) delete process.env.VOUCH_HTTP_TIMEOUT;
    else process.env.VOUCH_HTTP_TIMEOUT = saved;
    await server?.close();
    tmp.dispose();
  });

  const rows: [string, () => [string, { digest?: string }], ErrorCode][] = [
    ['a file that does not exist', () => [at('nope.yaml'), {}], 'FILE_NOT_FOUND'],
    [
      'a folder (the capped reader says TARGET_UNSUPPORTED of a directory)',
      () => [at('folder.yaml'), {}],
      'TARGET_UNSUPPORTED',
    ],
    ['a file over the cap', () => [at('big.yaml'), {}], 'POLICY_INVALID'],
    ['an endless device (/dev/zero), stopped at the cap while reading', () => ['/dev/zero', {}], 'POLICY_INVALID'],
    [
      'a file with another digest than the one given',
      () => [at('good.yaml'), { digest: `sha256:${'0'.repeat(64)}` }],
      'POLICY_DIGEST_MISMATCH',
    ],
    ['a digest that is not sha256:<64 hex>', () => [at('good.yaml'), { digest: 'sha256:abc' }], 'USAGE'],
    ['an uppercase digest', () => [at('good.yaml'), { digest: DIGEST.toUpperCase() }], 'USAGE'],
    ['another algorithm', () => [at('good.yaml'), { digest: `md5:${'0'.repeat(32)}` }], 'USAGE'],
    ['a URL without a digest or a pin', () => [`${server.url}/good.yaml`, {}], 'USAGE'],
    ['plain http to another machine', () => ['http://policy.example.invalid/p.yaml', { digest: DIGEST }], 'USAGE'],
    ['an error status', () => [`${server.url}/missing.yaml`, { digest: DIGEST }], 'SERVICE_ERROR'],
    ['a redirect (never followed)', () => [`${server.url}/moved.yaml`, { digest: DIGEST }], 'SERVICE_ERROR'],
    [
      'another document than the digest',
      () => [`${server.url}/other.yaml`, { digest: DIGEST }],
      'POLICY_DIGEST_MISMATCH',
    ],
    ['an answer over the cap (declared)', () => [`${server.url}/huge.yaml`, { digest: DIGEST }], 'POLICY_INVALID'],
    [
      'an answer over the cap (unsized)',
      () => [`${server.url}/huge-unsized.yaml`, { digest: DIGEST }],
      'POLICY_INVALID',
    ],
    [
      'a status line one byte at a time past the deadline',
      () => [`${server.url}/drip-all.yaml`, { digest: DIGEST }],
      'SERVICE_UNAVAILABLE',
    ],
    [
      'a body one byte at a time past the deadline',
      () => [`${server.url}/drip-body.yaml`, { digest: DIGEST }],
      'SERVICE_UNAVAILABLE',
    ],
    ['a server that is not there', () => ['http://127.0.0.1:9/p.yaml', { digest: DIGEST }], 'SERVICE_UNAVAILABLE'],
  ];
  for (const [name, input, expected] of rows) {
    it(name, async () => {
      const [ref, o] = input();
      assert.equal(await code(readPolicySource(ref, { ...o, home: at('home') })), expected);
    });
  }

  it('nothing refused is cached: the mismatching document left no file', () => {
    const dir = at('home/policies');
    const files = (() => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    })();
    assert.deepEqual(files, []);
  });

  it('a cache file that lost its digest is fetched again; a fetched policy is then read offline', async () => {
    const home = at('home-cache');
    const url = `${server.url}/good.yaml`;
    const count = () => server.seen.filter((s) => s.endsWith(' /good.yaml')).length;
    const before = count();
    assert.equal((await readPolicySource(url, { digest: DIGEST, home })).digest, DIGEST);
    assert.equal(count(), before + 1);
    await readPolicySource(url, { digest: DIGEST, home });
    assert.equal(count(), before + 1, 'read from the cache');
    writeFileSync(join(home, 'policies', DIGEST.slice('sha256:'.length)), 'apiVersion: tampered\n');
    assert.ok((await readPolicySource(url, { digest: DIGEST, home })).text.equals(POLICY));
    assert.equal(count(), before + 2, 'fetched again');
  });

  it('a pinned URL needs no digest flag; a corrupt pins file is CONFIG_INVALID', async () => {
    const home = at('home-pin');
    const url = `${server.url}/good.yaml`;
    await pinPolicy(url, DIGEST, home);
    assert.equal((await readPolicySource(url, { home })).digest, DIGEST);
    assert.equal(await code(pinPolicy(at('good.yaml'), DIGEST, home)), 'USAGE', 'a file is not pinned');
    writeFileSync(join(home, 'trust', 'policies.json'), '{"a": 1, "a": 2}');
    assert.equal(await code(readPolicySource(url, { home })), 'CONFIG_INVALID');
  });
});
