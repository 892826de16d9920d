/**
 * The two roles of the identity layer. An `IdentityProvider` returns an OIDC identity token (what the keyless signer
 * needs). An `AmbientProvider` is one platform that hands its workloads a token (a CI service, a cloud, a cluster):
 * `detect` looks at the environment only (variables and small local files, never the network), and `getToken` asks
 * the platform. A platform that is detected but cannot give a token (a GitHub job without `id-token: write`) fails in
 * `getToken` with TOKEN_INVALID and a hint naming what is missing, before any request: CI jobs never wait for a
 * person (src/identity/providers.ts picks the provider).
 */
import { timeoutMs } from '../core/http.ts';
import { readCappedSync } from '../core/read.ts';
import { VouchError } from '../errors.ts';

/** Returns an OIDC identity token (a compact JWT). */
export interface IdentityProvider {
  getToken(): Promise<string>;
}

/** Names accepted by `--identity-provider`, in the order they are detected (`login` is never detected). */
export const PROVIDER_NAMES = [
  'github-actions',
  'gitlab',
  'buildkite',
  'circleci',
  'azure-pipelines',
  'kubernetes',
  'gcp',
  'aws',
  'azure',
  'login',
] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Audience every Sigstore CA expects in the token unless the instance is configured otherwise. */
export const SIGSTORE_AUDIENCE = 'sigstore';

/** What a provider may read: injected so tests (and odd platforms) can point it elsewhere. */
export interface ProviderContext {
  env: NodeJS.ProcessEnv;
  /** The audience to ask for (default `sigstore`). */
  audience: string;
  /** Deadline of each request a provider makes, in ms. */
  timeoutMs: number;
  /** Reads a small local file (DMI strings under /sys, projected token files); undefined when it is absent. */
  readFile(path: string): string | undefined;
  /** Waits between retries; injectable so tests need not wait. */
  sleep(ms: number): Promise<void>;
}

export interface AmbientProvider {
  readonly name: Exclude<ProviderName, 'login'>;
  /** Whether this is a CI service (its failures are final: no other source is tried after it). */
  readonly ci: boolean;
  /** Whether the environment is this platform. Cheap: no network, no process. */
  detect(ctx: ProviderContext): boolean;
  /** A token for `ctx.audience`. TOKEN_INVALID when the platform gives none; SERVICE_* when it fails. */
  getToken(ctx: ProviderContext): Promise<string>;
}

/** Local files a provider reads are small; a bigger one is not what it looks for. */
const MAX_LOCAL_FILE = 64 * 1024;

/** `readFile` of the real machine: a missing or unreadable file is undefined, never an error. */
export function readLocalFile(path: string): string | undefined {
  try {
    // Capped while read (src/core/read.ts): a token file path pointing at a FIFO or device stops at the cap.
    return readCappedSync(path, { maxBytes: MAX_LOCAL_FILE, code: 'TOKEN_INVALID' }).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * The real machine's context. The deadline of a provider's requests is VOUCH_HTTP_TIMEOUT when set (as for every
 * request of vouch, src/core/http.ts), else 10 s: a token service that is slower than that is down.
 */
export function defaultContext(over: Partial<ProviderContext> = {}): ProviderContext {
  const env = over.env ?? process.env;
  return {
    env,
    audience: SIGSTORE_AUDIENCE,
    timeoutMs: timeoutMs(undefined, 10_000, env),
    readFile: readLocalFile,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...over,
  };
}

/** The platform is here but gives no token: say what the job must add. */
export function tokenUnavailable(platform: string, missing: string, hint: string): VouchError {
  return new VouchError('TOKEN_INVALID', `${platform} detected, but ${missing}`, {
    hint,
    details: { platform },
  });
}

/** A token a platform answered with: a non-empty string of JWT characters, else the platform's answer is broken. */
export function checkTokenText(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new VouchError('SERVICE_ERROR', `${what} answered without a token`);
  const token = value.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token) || token.length > 16 * 1024) {
    throw new VouchError('SERVICE_ERROR', `${what} answered something that is not a JWT`);
  }
  return token;
}

/** Whether a variable is set to a true value the way CI services set them (`true`, `True`, `1`). */
export function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(true|1|yes)$/i.test(v.trim());
}
