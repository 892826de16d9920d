/**
 * Where an OIDC identity token comes from. `selectIdentityProvider` picks one source in a fixed order, so the same
 * environment always signs as the same identity:
 *   1. an explicit token: `--identity-token`, `--identity-token-file`, else `SIGSTORE_ID_TOKEN` (what GitLab's
 *      `id_tokens:` and most CI recipes set; reported as `gitlab` on GitLab). `--identity-provider NAME` instead forces
 *      one provider and skips detection;
 *   2. the CI service or cloud detected, in the order of `AMBIENT` (CI services first). A CI service that is detected
 *      but gives no token fails at once with TOKEN_INVALID and a hint naming what the job lacks;
 *   3. a login cached by `vouch login` for the instance: a person who logged in at a real issuer means to sign as
 *      that login, even at an instance that also runs a development issuer;
 *   4. the local development issuer of the instance (embedded stack, `vouch serve` on loopback), when it has one;
 *   5. an interactive login (browser, or device flow with --device), only when a person is at a terminal and no CI
 *      is detected (`CI` set counts): a CI job never waits for a person.
 */

import { fetchJson } from '../core/http.ts';
import { readCappedText } from '../core/read.ts';
import { VouchError } from '../errors.ts';
import { aws } from './aws.ts';
import { azure } from './azure.ts';
import { azurePipelines } from './azure-pipelines.ts';
import { buildkite } from './buildkite.ts';
import { circleci } from './circleci.ts';
import { gcp } from './gcp.ts';
import { githubActions } from './github-actions.ts';
import { gitlab } from './gitlab.ts';
import { kubernetes } from './kubernetes.ts';
import { browserLogin, deviceLogin, type LoginOptions, type LoginResult } from './login.ts';
import {
  type AmbientProvider,
  defaultContext,
  type IdentityProvider,
  type ProviderContext,
  type ProviderName,
  SIGSTORE_AUDIENCE,
  truthy,
} from './provider.ts';

export { type IdentityProvider, PROVIDER_NAMES, type ProviderName, SIGSTORE_AUDIENCE } from './provider.ts';

/** CI services first, then clouds; within each, the order in which they are detected. */
export const AMBIENT: readonly AmbientProvider[] = [
  githubActions,
  gitlab,
  buildkite,
  circleci,
  azurePipelines,
  kubernetes,
  gcp,
  aws,
  azure,
];

/** Which source was chosen; shown to the user and in `--json` as `identitySource`. */
export type IdentitySource =
  | 'explicit'
  | 'token-file'
  | 'env'
  | AmbientProvider['name']
  | 'local-issuer'
  | 'cached-login'
  | 'login'
  | 'device-flow';

const MAX_TOKEN_FILE = 16 * 1024;

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

/** `--identity-token-file`: read when the token is needed (a projected file may have been refreshed). */
export class TokenFileProvider implements IdentityProvider {
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }
  async getToken(): Promise<string> {
    // Capped while read: a FIFO or /dev/zero given as the token file stops at the cap (TOKEN_INVALID).
    const text = await readCappedText(this.#path, {
      maxBytes: MAX_TOKEN_FILE,
      code: 'TOKEN_INVALID',
      what: `the identity token file ${this.#path}`,
    });
    return new StaticTokenProvider(text).getToken();
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

/** An interactive login offered to a person at a terminal; the session saves what it returns. */
export interface InteractiveLogin extends LoginOptions {
  /** Device flow instead of the browser. */
  device?: boolean;
  /** Called with each login made, so the caller can keep it (vouch caches it per instance). */
  onLogin?(login: LoginResult): void;
}

/** An interactive login as an identity provider. */
export class LoginProvider implements IdentityProvider {
  readonly #o: InteractiveLogin;
  constructor(options: InteractiveLogin) {
    this.#o = options;
  }
  async getToken(): Promise<string> {
    const login = this.#o.device ? await deviceLogin(this.#o) : await browserLogin(this.#o);
    this.#o.onLogin?.(login);
    return login.idToken;
  }
}

export interface SelectOptions {
  /** `--identity-token` */
  token?: string;
  /** `--identity-token-file` */
  tokenFile?: string;
  /** `--identity-provider`: use this one, without detection. */
  provider?: ProviderName;
  env?: NodeJS.ProcessEnv;
  /** Audience, deadlines and file reads of the ambient providers (defaults: `sigstore`, 10 s, the real files). */
  context?: Partial<Omit<ProviderContext, 'env'>>;
  /** Token endpoint of the instance's local development issuer, if it has one. */
  localIssuerTokenUrl?: string;
  /**
   * The instance is the embedded one, whose CA accepts only its own development issuer: clouds are not detected
   * (a developer on a cloud VM signs locally); CI services still are, so the session can say why their token fails.
   */
  embedded?: boolean;
  /** The token of a valid cached login for the instance, if there is one. */
  cachedLogin?: () => string | undefined;
  /** Interactive login, offered only when a person is at a terminal (the CLI passes it). */
  interactive?: InteractiveLogin;
}

export interface SelectedProvider {
  source: IdentitySource;
  provider: IdentityProvider;
}

/** Pick the identity provider, in the documented order; TOKEN_INVALID when none applies. */
export function selectIdentityProvider(options: SelectOptions): SelectedProvider {
  const env = options.env ?? process.env;
  const ctx = defaultContext({ ...options.context, env });
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new VouchError('USAGE', 'give --identity-token or --identity-token-file, not both');
  }
  if ((options.token !== undefined || options.tokenFile !== undefined) && options.provider !== undefined) {
    throw new VouchError('USAGE', '--identity-provider chooses where the token comes from: drop the explicit token');
  }
  if (options.token !== undefined) return { source: 'explicit', provider: new StaticTokenProvider(options.token) };
  if (options.tokenFile !== undefined) {
    return { source: 'token-file', provider: new TokenFileProvider(options.tokenFile) };
  }
  if (options.provider !== undefined) return forced(options.provider, ctx, options);
  const envToken = env.SIGSTORE_ID_TOKEN;
  if (envToken !== undefined && envToken !== '') {
    return { source: truthy(env.GITLAB_CI) ? 'gitlab' : 'env', provider: new StaticTokenProvider(envToken) };
  }
  for (const p of AMBIENT) {
    if (options.embedded && !p.ci) continue;
    if (p.detect(ctx)) return { source: p.name, provider: ambient(p, ctx) };
  }
  const cached = options.cachedLogin?.();
  if (cached !== undefined) return { source: 'cached-login', provider: new StaticTokenProvider(cached) };
  if (options.localIssuerTokenUrl !== undefined) {
    return { source: 'local-issuer', provider: new LocalIssuerProvider(options.localIssuerTokenUrl) };
  }
  if (truthy(env.CI)) {
    throw new VouchError('TOKEN_INVALID', 'no identity token in this CI job, and CI jobs never sign in interactively', {
      hint: 'Pass --identity-token-file or set SIGSTORE_ID_TOKEN to a token with audience sigstore, or name the provider with --identity-provider.',
    });
  }
  if (options.interactive !== undefined) return interactive(options.interactive);
  throw new VouchError('TOKEN_INVALID', 'no identity token: none given, none in the environment, no login', {
    hint: 'Run `vouch login` (at a terminal), pass --identity-token or --identity-token-file, set SIGSTORE_ID_TOKEN, or sign with a key (--key).',
  });
}

function forced(name: ProviderName, ctx: ProviderContext, options: SelectOptions): SelectedProvider {
  if (name === 'login') {
    const cached = options.cachedLogin?.();
    if (cached !== undefined) return { source: 'cached-login', provider: new StaticTokenProvider(cached) };
    if (options.interactive !== undefined) return interactive(options.interactive);
    throw new VouchError('TOKEN_INVALID', 'no login for this instance, and no terminal to sign in at', {
      hint: 'Run `vouch login` first (or `vouch login --device` without a browser).',
    });
  }
  const p = AMBIENT.find((a) => a.name === name);
  if (!p) throw new VouchError('USAGE', `unknown identity provider "${String(name).slice(0, 40)}"`);
  return { source: p.name, provider: ambient(p, ctx) };
}

function ambient(p: AmbientProvider, ctx: ProviderContext): IdentityProvider {
  return { getToken: () => p.getToken(ctx) };
}

function interactive(o: InteractiveLogin): SelectedProvider {
  return { source: o.device ? 'device-flow' : 'login', provider: new LoginProvider(o) };
}
