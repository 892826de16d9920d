/**
 * Small HTTP helpers for the clients of the identity, CA and instance services: a timeout on every request, a cap on
 * every answer, and one mapping of failures to codes: unreachable (refused, DNS, timeout) is SERVICE_UNAVAILABLE, an
 * HTTP error or an unreadable answer is SERVICE_ERROR. Both exit 3.
 */
import { VouchError } from '../errors.ts';

const FETCH_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

/** GET/POST a small JSON document with a timeout; network failures are SERVICE_UNAVAILABLE, HTTP errors SERVICE_ERROR. */
export async function fetchJson(
  url: string,
  init: RequestInit,
  what: string,
  options: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (e) {
    throw new VouchError('SERVICE_UNAVAILABLE', `${what} is unreachable (${url}): ${errorText(e)}`, { cause: e });
  }
  const text = await readCapped(res, options.maxBytes ?? MAX_RESPONSE_BYTES, what);
  if (!res.ok) {
    throw new VouchError('SERVICE_ERROR', `${what} answered HTTP ${res.status}: ${text.slice(0, 200)}`, {
      details: { status: res.status },
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `${what} answered something that is not JSON`, { cause: e });
  }
}

/** Read a response body, refusing more than `max` bytes (a hostile or broken server cannot exhaust memory). */
export async function readCapped(res: Response, max: number, what: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) {
    await res.body?.cancel();
    throw new VouchError('SERVICE_ERROR', `${what} answered more than ${max} bytes`);
  }
  if (!res.body) return '';
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
  return Buffer.concat(chunks).toString('utf8');
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
