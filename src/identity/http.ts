/**
 * Small HTTP helpers for the clients of the identity, CA and instance services: a timeout on every request, a cap on
 * every answer, and one mapping of failures to codes: unreachable (refused, DNS, timeout) is SERVICE_UNAVAILABLE, an
 * HTTP error or an unreadable answer is SERVICE_ERROR. Both exit 3.
 */
import { VouchError } from '../errors.ts';

const FETCH_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Non-2xx statuses that are answers, not failures (e.g. 400 from an OAuth token endpoint while polling). */
  allowStatus?: number[];
}

/**
 * One request with a timeout and a capped answer. Unreachable (refused, DNS, timeout, connection lost) is
 * SERVICE_UNAVAILABLE; any status but 2xx is SERVICE_ERROR with the status in `details`. Redirects are refused: a
 * token or signature is never forwarded to a host the user did not name.
 */
export async function httpRequest(
  url: string,
  init: RequestInit,
  what: string,
  options: HttpOptions = {},
): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (e) {
    throw new VouchError('SERVICE_UNAVAILABLE', `${what} is unreachable (${url}): ${errorText(e)}`, { cause: e });
  }
  const body = await readCapped(res, options.maxBytes ?? MAX_RESPONSE_BYTES, what);
  if (!res.ok && !options.allowStatus?.includes(res.status)) {
    const text = body.toString('utf8').replace(/\s+/g, ' ').slice(0, 200);
    throw new VouchError('SERVICE_ERROR', `${what} answered HTTP ${res.status}: ${text}`, {
      details: { status: res.status },
    });
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * A `fetch` with this module's deadline and cap, for libraries that take a fetch function (openid-client, gaxios):
 * their requests then obey the same rules as ours. The answer is read whole (capped) before it is handed back.
 * Redirects are left to the caller's `redirect` setting (openid-client asks for `manual` and refuses them).
 */
export function boundedFetch(what: string, options: HttpOptions = {}): typeof fetch {
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const max = options.maxBytes ?? MAX_RESPONSE_BYTES;
  return async (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    let res: Response;
    try {
      res = await fetch(input, { ...init, signal });
    } catch (e) {
      if (init?.signal?.aborted) throw e;
      throw new VouchError('SERVICE_UNAVAILABLE', `${what} is unreachable: ${errorText(e)}`, { cause: e });
    }
    const body = await readCapped(res, max, what);
    // A 204/304 answer cannot carry a body, not even an empty one.
    const nullBody = res.status === 204 || res.status === 304;
    return new Response(nullBody ? null : new Uint8Array(body), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}

/** GET/POST a small JSON document (see httpRequest for the failure codes). */
export async function fetchJson(url: string, init: RequestInit, what: string, options: HttpOptions = {}) {
  const { body } = await httpRequest(url, init, what, options);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `${what} answered something that is not JSON`, { cause: e });
  }
}

/** Read a response body, refusing more than `max` bytes (a hostile or broken server cannot exhaust memory). */
export async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) {
    await res.body?.cancel();
    throw new VouchError('SERVICE_ERROR', `${what} answered more than ${max} bytes`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > max) {
        await res.body.cancel().catch(() => {});
        throw new VouchError('SERVICE_ERROR', `${what} answered more than ${max} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof VouchError) throw e;
    throw new VouchError('SERVICE_UNAVAILABLE', `${what}: connection lost while reading: ${errorText(e)}`, {
      cause: e,
    });
  }
  return Buffer.concat(chunks);
}

export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const code = (cause as { code?: unknown } | undefined)?.code;
    if (e.name === 'TimeoutError') return 'timed out';
    return typeof code === 'string' ? `${e.message} (${code})` : e.message;
  }
  return String(e);
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
