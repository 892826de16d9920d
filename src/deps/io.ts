/**
 * The I/O primitives vouch deps needs, in one place: one HTTP exchange under an overall deadline and a byte cap,
 * a file read under a cap, and a bounded-concurrency map. The signatures follow the project's shared HTTP and
 * capped-read modules (core/http.ts `request`, core/read.ts `readCapped`), so this file becomes re-exports when
 * they land on main.
 *
 * Failures map to codes once: unreachable, timed out or cut off is SERVICE_UNAVAILABLE (exit 3: an unreachable
 * registry is never a pass); an answer over the cap is SERVICE_ERROR unless the caller names its own error.
 */
import { open } from 'node:fs/promises';
import { fileError } from '../core/digest.ts';
import { type ErrorCode, VouchError } from '../errors.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Largest body of a 2xx answer; error pages are read up to 64 KiB. */
  maxBytes: number;
  /** Overall deadline of the exchange (connect, headers, body); default VOUCH_HTTP_TIMEOUT seconds, else 30 s. */
  timeoutMs?: number;
  /** The service, for messages. */
  what: string;
  tooLarge?: () => VouchError;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** The deadline of a request that names none: VOUCH_HTTP_TIMEOUT (seconds) when set, else 30 s. */
export function timeoutMs(explicit?: number, env = process.env): number {
  if (explicit !== undefined) return explicit;
  const s = Number(env.VOUCH_HTTP_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? Math.ceil(s * 1000) : DEFAULT_TIMEOUT_MS;
}

/**
 * One GET under a deadline and a cap; any status is returned (redirects are not followed: credentials are never
 * forwarded to a host the user did not configure).
 */
export async function request(url: string, o: RequestOptions): Promise<HttpResponse> {
  const deadline = AbortSignal.timeout(timeoutMs(o.timeoutMs));
  const unavailable = (reason: string, cause?: unknown) =>
    new VouchError('SERVICE_UNAVAILABLE', `${o.what}: ${reason}`, cause === undefined ? {} : { cause });
  let res: Response;
  try {
    res = await fetch(url, { headers: { 'user-agent': 'vouch', ...o.headers }, signal: deadline, redirect: 'manual' });
  } catch (e) {
    throw unavailable(deadline.aborted ? 'no answer in time' : `unreachable (${errorText(e)})`, e);
  }
  const ok = res.status >= 200 && res.status < 300;
  const cap = ok ? o.maxBytes : Math.min(o.maxBytes, 64 << 10);
  const tooLarge = () => o.tooLarge?.() ?? new VouchError('SERVICE_ERROR', `${o.what} answered more than ${cap} bytes`);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (ok && Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > cap) {
          if (ok) {
            await res.body.cancel().catch(() => {});
            throw tooLarge();
          }
          chunks.push(chunk.subarray(0, chunk.length - (size - cap)));
          await res.body.cancel().catch(() => {});
          break;
        }
        chunks.push(chunk);
      }
    }
  } catch (e) {
    if (e instanceof VouchError) throw e;
    throw unavailable(deadline.aborted ? 'no complete answer in time' : `connection lost (${errorText(e)})`, e);
  }
  return { status: res.status, headers: res.headers, body: Buffer.concat(chunks) };
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${e.message}: ${code}` : e.message;
  }
  return String(e);
}

export interface CapOptions {
  maxBytes: number;
  code: ErrorCode;
  what?: string;
}

/** Read a whole file, refusing more than `maxBytes` while reading (a FIFO or a growing file cannot exceed it). */
export async function readCapped(path: string, o: CapOptions): Promise<Buffer> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  try {
    const st = await fh.stat();
    const tooLarge = () => new VouchError(o.code, `${o.what ?? path} is larger than ${o.maxBytes} bytes`);
    if (st.isFile() && st.size > o.maxBytes) throw tooLarge();
    const chunks: Buffer[] = [];
    let total = 0;
    // A regular file is read in pieces of its size (one more byte shows it did not grow), anything else by 1 MiB.
    const piece = st.isFile() ? st.size + 1 : 1 << 20;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(piece, 1 << 20, o.maxBytes + 1 - total)));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > o.maxBytes) throw tooLarge();
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof VouchError ? e : fileError(e as NodeJS.ErrnoException, path);
  } finally {
    await fh.close();
  }
}

/** `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
