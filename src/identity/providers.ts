/**
 * Where an OIDC identity token comes from. Each source is an `IdentityProvider` (one method: `getToken`), and
 * `selectIdentityProvider` picks the first that applies, in a fixed order so the same environment always signs
 * as the same identity:
 *   1. an explicit token (`--identity-token`),
 *   2. `SIGSTORE_ID_TOKEN` (what GitLab CI `id_tokens:` and most CI recipes set; reported as `gitlab` on GitLab),
 *   3. GitHub Actions ambient credentials (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, which exist
 *      only when the workflow has `permissions: id-token: write`),
 *   4. the local development issuer of the instance being used (embedded stack or `vouch serve`), when it has one;
 *   5. at a terminal, an interactive sign-in with the instance's OIDC issuer (device flow, identity/device.ts).
 */

import { fetchJson } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { type DeviceCodePrompt, DeviceFlowProvider } from './device.ts';

/** Returns an OIDC identity token (a compact JWT). */
export interface IdentityProvider {
  getToken(): Promise<string>;
}

/** Which provider was chosen; shown to the user and in `--json`. */
export type IdentitySource = 'explicit' | 'env' | 'gitlab' | 'github-actions' | 'local-issuer' | 'device-flow';

/** Audience every Sigstore CA expects in the token. */
export const SIGSTORE_AUDIENCE = 'sigstore';

export class StaticTokenProvider implements IdentityProvider {
  readonly #token: string;
  constructor(token: string) {
    this.#token = token.trim();
  }
  async getToken(): Promise<string> {
    if (this.#token === '') throw new VouchError('TOKEN_INVALID', 'the identity token is empty');
    return this.#token;
  }
}

/**
 * GitHub Actions: ask the runner's token service for a token with audience `sigstore` (GitHub docs, "Configuring
 * OpenID Connect": GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=..., bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN, answer
 * `{"value": JWT}`).
 */
export class GitHubActionsProvider implements IdentityProvider {
  readonly #url: string;
  readonly #bearer: string;
  constructor(requestUrl: string, requestToken: string) {
    this.#url = requestUrl;
    this.#bearer = requestToken;
  }
  async getToken(): Promise<string> {
    let url: URL;
    try {
      url = new URL(this.#url);
    } catch (e) {
      throw new VouchError('TOKEN_INVALID', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', { cause: e });
    }
    url.searchParams.set('audience', SIGSTORE_AUDIENCE);
    const body = await fetchJson(url.href, 'GitHub Actions', { headers: { authorization: `Bearer ${this.#bearer}` } });
    if (typeof body !== 'object' || body === null || typeof (body as { value?: unknown }).value !== 'string') {
      throw new VouchError('SERVICE_ERROR', 'the GitHub Actions token service answered without a token');
    }
    return (body as { value: string }).value;
  }
}

/**
 * The local development issuer of a vouch stack: it mints a token for whoever asks, so every certificate it backs
 * is marked as a local development identity by the trust store. `POST {tokenUrl}` mints a token for the user the
 * issuer was configured with; the answer carries it as `id_token` (OAuth 2.0 token response shape).
 */
export class LocalIssuerProvider implements IdentityProvider {
  readonly #tokenUrl: string;
  constructor(tokenUrl: string) {
    this.#tokenUrl = tokenUrl;
  }
  async getToken(): Promise<string> {
    const request = { audience: SIGSTORE_AUDIENCE };
    const body = await fetchJson(this.#tokenUrl, 'local issuer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const token = b.id_token ?? b.token ?? b.access_token;
    if (typeof token !== 'string') throw new VouchError('SERVICE_ERROR', 'the local issuer answered without a token');
    return token;
  }
}

export interface SelectOptions {
  /** `--identity-token` */
  token?: string;
  env?: NodeJS.ProcessEnv;
  /** Token endpoint of the instance's local development issuer, if it has one. */
  localIssuerTokenUrl?: string;
  /** Interactive sign-in, offered only when a person is at a terminal (the CLI passes the prompt). */
  deviceFlow?: { issuer: string; prompt: (p: DeviceCodePrompt) => void };
}

export interface SelectedProvider {
  source: IdentitySource;
  provider: IdentityProvider;
}

/** Pick the identity provider, in the documented order; TOKEN_INVALID when none applies. */
export function selectIdentityProvider(options: SelectOptions): SelectedProvider {
  const env = options.env ?? process.env;
  if (options.token !== undefined) return { source: 'explicit', provider: new StaticTokenProvider(options.token) };
  const envToken = env.SIGSTORE_ID_TOKEN;
  if (envToken !== undefined && envToken !== '') {
    return { source: env.GITLAB_CI ? 'gitlab' : 'env', provider: new StaticTokenProvider(envToken) };
  }
  const ghUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const ghToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (ghUrl && ghToken) return { source: 'github-actions', provider: new GitHubActionsProvider(ghUrl, ghToken) };
  if (options.localIssuerTokenUrl !== undefined) {
    return {
      source: 'local-issuer',
      provider: new LocalIssuerProvider(options.localIssuerTokenUrl),
    };
  }
  if (options.deviceFlow !== undefined) {
    return { source: 'device-flow', provider: new DeviceFlowProvider(options.deviceFlow) };
  }
  throw new VouchError('TOKEN_INVALID', 'no identity token: none given, none in the environment', {
    hint: 'Pass --identity-token, set SIGSTORE_ID_TOKEN, grant `id-token: write` on GitHub Actions, or sign with a key (--key).',
  });
}
