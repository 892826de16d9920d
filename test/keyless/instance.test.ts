import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveInstance } from '../../src/instance/instance.ts';
import { makeToken, rejectsWith, signKeyless, tempHome } from './helpers.ts';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('instances', () => {
  it('public-good is a real code path: unreachable here -> SERVICE_UNAVAILABLE, no bundle written', async (t) => {
    const home = tempHome(t);
    const file = join(home, 'app.bin');
    writeFileSync(file, 'hello');
    const token = await makeToken({ iss: 'https://accounts.example', sub: 'u', email: 'a@example.com' });
    const err = await rejectsWith(
      signKeyless(file, { instance: 'public-good', identityToken: token, home, env: {}, timeoutMs: 3000 }),
      'SERVICE_UNAVAILABLE',
    );
    assert.equal(err.exitStatus, 3);
    assert.equal(existsSync(`${file}.sigstore.json`), false);
  });

  it('public-good without any identity -> TOKEN_INVALID before any network call', async (t) => {
    const home = tempHome(t);
    writeFileSync(join(home, 'f'), 'x');
    await rejectsWith(signKeyless(join(home, 'f'), { instance: 'public-good', home, env: {} }), 'TOKEN_INVALID');
  });

  it('an expired token is refused before it is sent -> TOKEN_INVALID', async (t) => {
    const home = tempHome(t);
    writeFileSync(join(home, 'f'), 'x');
    const token = await makeToken({ iss: 'https://i.example', sub: 'u' }, { expiresIn: -600 });
    await rejectsWith(
      signKeyless(join(home, 'f'), { instance: 'public-good', identityToken: token, home, env: {} }),
      'TOKEN_INVALID',
    );
  });

  it('an unreachable --instance URL -> SERVICE_UNAVAILABLE', async (t) => {
    const port = await closedPort();
    await rejectsWith(
      resolveInstance({ instance: `http://127.0.0.1:${port}`, home: tempHome(t), timeoutMs: 3000 }),
      'SERVICE_UNAVAILABLE',
    );
  });

  it('an instance serving unusable trust material -> SERVICE_ERROR (exit 3)', async (t) => {
    const { createServer: httpServer } = await import('node:http');
    const docs: Record<string, string> = {
      '/.well-known/vouch/trusted_root.json':
        '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}',
      '/.well-known/vouch/signing_config.json': '{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}',
    };
    const server = httpServer((req, res) => res.writeHead(200).end(docs[req.url ?? ''] ?? '{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const err = await rejectsWith(resolveInstance({ instance: url, home: tempHome(t) }), 'SERVICE_ERROR');
      assert.equal(err.exitStatus, 3);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('unknown instance names and non-http URLs are usage errors', async (t) => {
    const home = tempHome(t);
    await rejectsWith(resolveInstance({ instance: 'staging', home }), 'USAGE');
    await rejectsWith(resolveInstance({ instance: 'ftp://x', home }), 'USAGE');
  });

  it('config.json chooses the instance when --instance is absent', async (t) => {
    const home = tempHome(t);
    writeFileSync(join(home, 'config.json'), '{"instance":"public-good"}');
    const instance = await resolveInstance({ home });
    assert.equal(instance.kind, 'public-good');
    assert.equal(instance.services.ca, 'https://fulcio.sigstore.dev');
    assert.equal(instance.services.tsa, 'https://timestamp.sigstore.dev/api/v1/timestamp');
    await instance.close();
  });
});
