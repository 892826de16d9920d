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
): Promise<{ status: number; body: Buffer }> {
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
  return { status: res.status, body };
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
