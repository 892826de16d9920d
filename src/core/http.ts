/**
 * The one HTTP client of vouch: every request to a registry, CA, log, TSA, OIDC issuer, identity provider or
 * package registry goes through `request`. Two limits hold whatever the server does:
 *
 * - an **overall deadline** for the whole exchange (connect, headers, body). A socket idle timeout is not one: a
 *   server that sends one byte every few seconds resets it forever. Here one timer, started once, destroys the
 *   request when the deadline passes, however the bytes arrive. Several requests of one logical operation (retries,
 *   redirects, a token round) can share one absolute deadline;
 * - a **byte cap** on the answer, checked on the declared Content-Length and again while reading, so a hostile or
 *   broken server cannot make us buffer more than the caller asked for.
 *
 * Failures map to codes once: unreachable, timed out or cut off is SERVICE_UNAVAILABLE; an answer over the cap is
 * SERVICE_ERROR unless the caller names its own code (an oversize manifest is the registry's lie, IMAGE_INVALID).
 * Statuses are returned, not judged, except by `httpRequest`/`fetchJson`. Redirects are never followed here: a
 * token or signature is never forwarded to a host the caller did not name (the registry client follows its own).
 *
 * The default deadline is 30 s, or `VOUCH_HTTP_TIMEOUT` seconds when set (tests use a few seconds); a caller's
 * explicit `timeoutMs` wins over both. Built on node:http/https (loaded on first use) because a registry's extra CA
 * is per client and fetch has no per-request CA without the undici package.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestOptions as NodeRequestOptions } from 'node:https';
import { VouchError } from '../errors.ts';

/** Default overall deadline of a request, when neither the caller nor VOUCH_HTTP_TIMEOUT says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default cap of an answer: the JSON documents of the Sigstore services are a few KiB. */
export const DEFAULT_MAX_BYTES = 64 << 10;
/** Error pages (non-2xx) are read only this far, for a message; a longer one is cut, not refused. */
const ERROR_BODY_BYTES = 64 << 10;

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array | URLSearchParams;
  /** Largest answer body (bytes) of a 2xx answer; beyond it the request is abandoned with `tooLarge`. */
  maxBytes?: number;
  /** Overall deadline in ms from now; default `timeoutMs()`. */
  timeoutMs?: number;
  /** Absolute deadline (epoch ms) shared with other requests; the earlier of this and `timeoutMs` applies. */
  deadline?: number;
  /** Aborts the request early (e.g. a library's own timeout signal). */
  signal?: AbortSignal;
  /** Extra trusted CA certificates (PEM) for HTTPS. */
  ca?: string | Buffer;
  /** The service, for messages: "the certificate authority", "registry ghcr.io". */
  what?: string;
  /** Error for an answer over `maxBytes`; default SERVICE_ERROR. */
  tooLarge?: () => VouchError;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  url: URL;
}

/**
 * The deadline in ms of a request that names none: `explicit` if given, else VOUCH_HTTP_TIMEOUT (seconds, decimals
 * allowed) when set to a positive number, else `fallback`.
 */
export function timeoutMs(explicit?: number, fallback = DEFAULT_TIMEOUT_MS, env = process.env): number {
  if (explicit !== undefined) return explicit;
  const raw = env.VOUCH_HTTP_TIMEOUT;
  if (raw !== undefined && raw !== '') {
    const s = Number(raw);
    if (Number.isFinite(s) && s > 0) return Math.ceil(s * 1000);
  }
  return fallback;
}

/** An absolute deadline `ms` from now, for operations made of several requests. */
export function deadlineIn(ms = timeoutMs()): number {
  return Date.now() + ms;
}

let modules: Promise<[typeof import('node:http'), typeof import('node:https')]> | undefined;

/**
 * One HTTP exchange under a deadline and a cap. Resolves with any status (3xx included: nothing is followed);
 * rejects with SERVICE_UNAVAILABLE (unreachable, deadline passed, connection lost, aborted) or the cap's error.
 */
export async function request(target: string | URL, options: RequestOptions = {}): Promise<HttpResponse> {
  return exchange(target, options, false);
}

async function exchange(target: string | URL, options: RequestOptions, fresh: boolean): Promise<HttpResponse> {
  const what = options.what ?? 'the server';
  let url: URL;
  try {
    url = typeof target === 'string' ? new URL(target) : target;
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `${what}: malformed URL`, { cause: e });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new VouchError('SERVICE_ERROR', `${what}: ${url.protocol} URLs are not HTTP`);
  }
  const until = Math.min(Date.now() + timeoutMs(options.timeoutMs), options.deadline ?? Infinity);
  const left = until - Date.now();
  if (left <= 0) throw new VouchError('SERVICE_UNAVAILABLE', `${what} (${url.host}): no answer in time`);
  modules ??= Promise.all([import('node:http'), import('node:https')]);
  const [http, https] = await modules;
  const method = (options.method ?? 'GET').toUpperCase();
  const body = bodyBytes(options.body);
  const headers: Record<string, string> = { 'user-agent': 'vouch', ...options.headers };
  if (body !== undefined) {
    headers['content-length'] = String(body.length);
    if (options.body instanceof URLSearchParams && !hasHeader(headers, 'content-type')) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
  }
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const tooLarge = () =>
    options.tooLarge?.() ?? new VouchError('SERVICE_ERROR', `${what} answered more than ${max} bytes`);

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let res: IncomingMessage | undefined;
    const finish = (error: VouchError | undefined, value?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        res?.destroy();
        req.destroy();
        reject(error);
      } else resolve(value!);
    };
    const unavailable = (reason: string, cause?: unknown) =>
      new VouchError('SERVICE_UNAVAILABLE', `${what} (${url.host}): ${reason}`, cause ? { cause } : {});
    // The one deadline of the exchange: armed once, never re-armed by progress.
    const timer = setTimeout(() => finish(unavailable(`no complete answer within ${left / 1000} s`)), left);
    const onAbort = () => finish(unavailable('request aborted', options.signal?.reason));
    const opts: NodeRequestOptions = { method, headers };
    // A retry never takes a pooled socket: it is the pool's stale socket that failed (below).
    if (fresh) opts.agent = false;
    if (url.protocol === 'https:' && options.ca !== undefined) opts.ca = options.ca;
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (incoming) => {
      res = incoming;
      const status = incoming.statusCode ?? 0;
      if (status < 200 || status > 599)
        return finish(new VouchError('SERVICE_ERROR', `${what} answered HTTP ${status}`));
      const ok = status >= 200 && status < 300;
      // Caps apply to the content of successful answers; an error page is read up to 64 KiB, then cut.
      const cap = method === 'HEAD' ? 0 : ok ? max : Math.min(max, ERROR_BODY_BYTES);
      const declared = Number(incoming.headers['content-length']);
      if (ok && method !== 'HEAD' && Number.isFinite(declared) && declared > cap) return finish(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => finish(undefined, { status, headers: incoming.headers, body: Buffer.concat(chunks), url });
      incoming.on('data', (c: Buffer) => {
        if (settled) return;
        size += c.length;
        if (size > cap) {
          if (ok && method !== 'HEAD') return finish(tooLarge());
          // An error page or a HEAD body beyond the cap: keep what fits, drop the connection.
          chunks.push(c.subarray(0, c.length - (size - cap)));
          done();
          res?.destroy();
          return;
        }
        chunks.push(c);
      });
      incoming.on('end', done);
      incoming.on('error', (e) => finish(unavailable(`connection lost while reading the answer: ${errorText(e)}`, e)));
      // Closed without an end: the server cut the answer short (a no-op after 'end', which settles first).
      incoming.on('close', () => finish(unavailable('connection closed before the answer ended')));
    });
    req.on('error', (e) => {
      // A kept-alive socket the server closed as we reused it: the request never reached the server, so it is
      // sent once more on a new connection, under the same deadline (the race Node's http docs describe for
      // `request.reusedSocket`). Any other failure, or a second one, is the server's.
      if (
        !fresh &&
        !settled &&
        res === undefined &&
        req.reusedSocket &&
        (e as NodeJS.ErrnoException).code === 'ECONNRESET'
      ) {
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(exchange(url, { ...options, deadline: until }, true));
        return;
      }
      finish(unavailable(`unreachable: ${errorText(e)}`, e));
    });
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

export interface CheckedRequestOptions extends Omit<RequestOptions, 'what'> {
  /** Non-2xx statuses that are answers, not failures (e.g. 400 from an OAuth token endpoint while polling). */
  allowStatus?: number[];
}

/**
 * A request whose only good answers are 2xx (and `allowStatus`): any other status is SERVICE_ERROR with the status
 * in `details`; a redirect counts as another status (never followed).
 */
export async function httpRequest(
  url: string,
  what: string,
  options: CheckedRequestOptions = {},
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await request(url, { ...options, what });
  if ((res.status < 200 || res.status >= 300) && !options.allowStatus?.includes(res.status)) {
    const text = res.body.toString('utf8').replace(/\s+/g, ' ').slice(0, 200);
    throw new VouchError('SERVICE_ERROR', `${what} answered HTTP ${res.status}: ${text}`, {
      details: { status: res.status },
    });
  }
  return { status: res.status, body: res.body, headers: toHeaders(res.headers) };
}

function toHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
  }
  return out;
}

/** GET/POST a small JSON document (see httpRequest for the failure codes; not JSON is SERVICE_ERROR). */
export async function fetchJson(url: string, what: string, options: CheckedRequestOptions = {}): Promise<unknown> {
  const { body } = await httpRequest(url, what, options);
  return parseJsonAnswer(body, what);
}

/** An answer's body as JSON; what a service sends is its own error when unreadable (exit 3). */
export function parseJsonAnswer(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `${what} answered something that is not JSON`, { cause: e });
  }
}

/**
 * A `fetch`-shaped function over `request`, for libraries that take one (openid-client's `[customFetch]`,
 * google-auth-library's `fetchImplementation`, jose's `[customFetch]`): their requests get the same deadline and cap,
 * and fail with the same codes (`vouchCause` digs the VouchError out of a library's wrapping). The answer is
 * buffered (at most `maxBytes`) before the library sees it. Redirects are never followed (openid-client asks for
 * `manual` and refuses them).
 */
export function boundedFetch(
  what: string,
  defaults: Omit<RequestOptions, 'method' | 'headers' | 'body' | 'signal' | 'what'> = {},
): typeof fetch {
  return async (input, init = {}) => {
    const url = typeof input === 'string' || input instanceof URL ? input : input.url;
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const options: RequestOptions = { ...defaults, what, method: init.method ?? 'GET', headers };
    if (init.signal) options.signal = init.signal;
    if (init.body !== undefined && init.body !== null) {
      const b = init.body;
      if (typeof b === 'string' || b instanceof Uint8Array || b instanceof URLSearchParams) options.body = b;
      else if (b instanceof ArrayBuffer) options.body = new Uint8Array(b);
      else throw new VouchError('INTERNAL', 'boundedFetch: unsupported request body type');
    }
    const res = await request(url, options);
    // A Response cannot carry a body with these statuses (Fetch standard, "null body status").
    const nullBody = [101, 103, 204, 205, 304].includes(res.status);
    return new Response(nullBody ? null : new Uint8Array(res.body), {
      status: res.status,
      headers: toHeaders(res.headers),
    });
  };
}

/**
 * Bounds an operation made by a library that does not send all its requests through `request` (the AWS SDK's
 * credential sources open their own sockets): it settles by `deadline` whatever the library does, rejecting with
 * SERVICE_UNAVAILABLE and aborting `signal` so the library can drop its work. Requests the library sends through
 * `request` with the same deadline are destroyed at that moment too; others end at their own timeouts, after the
 * caller has its answer.
 */
export async function withinDeadline<T>(
  what: string,
  deadline: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const left = Math.max(0, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new VouchError('SERVICE_UNAVAILABLE', `${what}: no answer within ${left / 1000} s`);
      controller.abort(e);
      reject(e);
    }, left);
  });
  try {
    // Both promises are handled by the race: a late rejection of `run` after the deadline is not unhandled.
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

const TRIES = 3;
const FIRST_DELAY_MS = 500;

/**
 * Retry `fn` on failures that may pass (unreachable, HTTP 5xx or 429), three tries in all, doubling the delay; a
 * refusal (any other status) is final. For token services that fail now and then, never for the CA or the log.
 */
export async function withRetries<T>(
  ctx: { sleep(ms: number): Promise<void> },
  fn: () => Promise<T>,
  tries = TRIES,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= tries || !transient(e)) throw e;
      await ctx.sleep(FIRST_DELAY_MS * 2 ** (attempt - 1));
    }
  }
}

function transient(e: unknown): boolean {
  if (!(e instanceof VouchError)) return false;
  if (e.code === 'SERVICE_UNAVAILABLE') return true;
  const status = (e.details as { status?: number } | undefined)?.status;
  return e.code === 'SERVICE_ERROR' && status !== undefined && (status >= 500 || status === 429);
}

/** Plain HTTP is allowed only to this machine (tests, local emulators, a `vouch serve` on loopback). */
export function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Libraries (openid-client, gaxios) wrap what our bounded fetch threw; dig it out so the code stays ours. */
export function vouchCause(e: unknown): VouchError | undefined {
  for (let c: unknown = e, i = 0; c !== undefined && c !== null && i < 6; i++) {
    if (c instanceof VouchError) return c;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code ?? ((e as { cause?: unknown }).cause as { code?: unknown })?.code;
    return typeof code === 'string' ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

function bodyBytes(body: RequestOptions['body']): Buffer | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}
