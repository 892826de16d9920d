/**
 * The HTTP client's retry of a kept-alive socket the server closed as the client reused it (Node's http docs,
 * `request.reusedSocket`): the request never reached the server, so it is sent once more on a new connection.
 * Only once, and only then: any other failure is the server's (SERVICE_UNAVAILABLE).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { request } from '../src/core/http.ts';
import { VouchError } from '../src/errors.ts';

/** A server that answers a connection's first request, and cuts the later ones when `cut` says so. */
async function serve(cut: (seen: number) => boolean): Promise<{ url: string; server: Server; seen: () => number }> {
  let seen = 0;
  const perSocket = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    seen++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1 || cut(seen)) {
      req.socket.destroy();
      return;
    }
    res.setHeader('connection', 'keep-alive');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server, seen: () => seen };
}

describe('a kept-alive socket closed under the client', () => {
  it('is retried once on a new connection', async () => {
    const s = await serve(() => false);
    try {
      assert.equal((await request(s.url)).body.toString(), 'ok');
      // The same socket again: the server cuts it, the client sends the request once more on a new one.
      assert.equal((await request(s.url)).body.toString(), 'ok');
      assert.equal(s.seen(), 3);
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it('a second cut is the server failing: SERVICE_UNAVAILABLE, no third try', async () => {
    const s = await serve((seen) => seen > 1);
    try {
      await request(s.url);
      await assert.rejects(request(s.url), (e) => e instanceof VouchError && e.code === 'SERVICE_UNAVAILABLE');
      assert.equal(s.seen(), 3);
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it('a cut on a new connection is not retried', async () => {
    const s = await serve(() => true);
    try {
      await assert.rejects(request(s.url), (e) => e instanceof VouchError && e.code === 'SERVICE_UNAVAILABLE');
      assert.equal(s.seen(), 1);
    } finally {
      s.server.close();
    }
  });
});
