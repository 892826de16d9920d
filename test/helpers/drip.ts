/**
 * A raw HTTP/1.1 server on 127.0.0.1 whose answers can drip: one byte per second (by default) forever, from the
 * status line on or after complete headers. It models the hostile or broken service of issue 10 item 9, which an
 * idle timeout never catches because every byte resets it. Other answers are sent whole; every answer closes the
 * connection (no keep-alive to reason about).
 */
import { createServer, type Socket } from 'node:net';

export interface DripRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string | object;
  /** No Content-Length: the body ends when the connection closes. */
  unsized?: boolean;
}

/** `all`: even the status line drips; `body`: status and headers at once, then the body drips. */
export type Drip = { drip: 'all' | 'body' };

export interface DripServer {
  url: string;
  port: number;
  /** Requests seen, in order (method and path). */
  seen: string[];
  close(): Promise<void>;
}

export async function dripServer(
  route: (req: DripRequest, server: DripServer) => Reply | Drip | Promise<Reply | Drip>,
  options: { intervalMs?: number } = {},
): Promise<DripServer> {
  const interval = options.intervalMs ?? 1000;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const self: DripServer = { url: '', port: 0, seen: [], close: async () => {} };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let handled = false;
    socket.on('data', (chunk) => {
      if (handled) return;
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method = '', path = ''] = lines[0]!.split(' ');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) return;
      handled = true;
      const body = buf.subarray(end + 4, end + 4 + length);
      self.seen.push(`${method} ${path}`);
      Promise.resolve(route({ method, path, headers, body }, self)).then(
        (r) => ('drip' in r ? drip(socket, r.drip) : send(socket, r)),
        () => send(socket, { status: 500, body: 'test server error' }),
      );
    });
  });
  const drip = (socket: Socket, mode: 'all' | 'body') => {
    const head =
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n';
    const filler = '{"drip": "                                                                                ';
    let bytes = mode === 'all' ? head + filler : filler;
    if (mode === 'body') socket.write(head);
    const timer = setInterval(() => {
      if (socket.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      if (bytes.length === 0) bytes = '                                ';
      socket.write(bytes.slice(0, 1));
      bytes = bytes.slice(1);
    }, interval);
    timers.add(timer);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  self.port = port;
  self.url = `http://127.0.0.1:${port}`;
  self.close = async () => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return self;
}

function send(socket: Socket, r: Reply): void {
  const body =
    r.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(r.body)
        ? r.body
        : Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  const headers: Record<string, string> = {
    ...(typeof r.body === 'object' && !Buffer.isBuffer(r.body) ? { 'content-type': 'application/json' } : {}),
    ...r.headers,
    ...(r.unsized ? {} : { 'content-length': String(body.length) }),
    connection: 'close',
  };
  const head = [`HTTP/1.1 ${r.status} X`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]));
}

/** A reverse proxy in front of `target`: answers pass through whole, except those `dripIf` picks, which drip. */
export function proxyTo(target: string, dripIf: (req: DripRequest) => Drip | undefined) {
  return async (req: DripRequest): Promise<Reply | Drip> => {
    const d = dripIf(req);
    if (d) return d;
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'accept', 'authorization']) if (req.headers[h]) headers[h] = req.headers[h]!;
    const res = await fetch(target + req.path, {
      method: req.method,
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: req.body }),
      redirect: 'manual',
    });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'connection' && k !== 'transfer-encoding' && k !== 'keep-alive') out[k] = v;
    });
    return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
  };
}
