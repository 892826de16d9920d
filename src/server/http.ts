/**
 * The one HTTP adapter: Fastify receives every request as raw bytes (no framework parsing, so the strict parsers
 * in the routes see exactly what was sent) and hands it to the Router mounted at the longest matching path prefix.
 * Bodies over the cap are refused by Fastify with 413 before they are buffered whole.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MAX_BODY, type RouteResponse, type Router } from './routes.ts';

export interface Mount {
  prefix: string;
  router: Router;
}

export interface HttpOptions {
  /** Cap of every request body (default MAX_BODY). */
  bodyLimit?: number;
  /** POST paths that take larger bodies (a log entry carries a whole DSSE envelope), each with its own cap. */
  largeBodies?: { path: string; limit: number }[];
}

export function createHttpServer(mounts: Mount[], options: HttpOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? MAX_BODY,
    return503OnClosing: true,
    // A slow client must not hold a connection (and its buffers) forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status =
      typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    void reply.status(status).send({ code: status, message: status === 500 ? 'internal error' : err.message });
  });
  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    // Split the raw target ourselves: new URL('//host/x', base) would read a path as an authority.
    const q = req.url.indexOf('?');
    const url = {
      pathname: q < 0 ? req.url : req.url.slice(0, q),
      searchParams: new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1)),
    };
    const mount = mounts
      .filter((m) => url.pathname === m.prefix || url.pathname.startsWith(`${m.prefix}/`) || m.prefix === '')
      .sort((a, b) => b.prefix.length - a.prefix.length)[0];
    let res: RouteResponse;
    if (!mount) res = { status: 404, body: { code: 404, message: 'not found' } };
    else {
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      res = await mount.router.dispatch({
        method: req.method,
        path: url.pathname.slice(mount.prefix.length) || '/',
        query,
        headers,
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      });
    }
    reply.status(res.status);
    for (const [k, v] of Object.entries(res.headers ?? {})) reply.header(k, v);
    if (Buffer.isBuffer(res.body) || typeof res.body === 'string') {
      if (!res.headers?.['content-type']) reply.header('content-type', 'application/octet-stream');
      return reply.send(res.body);
    }
    reply.header('content-type', 'application/json');
    return reply.send(JSON.stringify(res.body));
  };
  app.all('/*', handle);
  for (const big of options.largeBodies ?? []) app.post(big.path, { bodyLimit: big.limit }, handle);
  return app;
}
