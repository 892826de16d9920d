/**
 * Signing in as a person at the instance's OIDC issuer (Google, Microsoft Entra, Okta, Keycloak, Dex, a `vouch serve`
 * connector). Discovery, PKCE, the token requests and the ID token checks (issuer, audience, expiry, nonce) are
 * openid-client's; this module adds the loopback listener, the browser and the mapping of failures to codes.
 *
 * - `browserLogin`: authorization code with PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252 section 7.3):
 *   a one-shot listener on 127.0.0.1 (and ::1, same port) of an ephemeral port, redirect
 *   http://localhost:PORT/auth/callback (the form public Dex clients accept). `state` (CSRF, RFC 6749 section 10.12)
 *   and `nonce` (OIDC Core section 3.1.2.1) carry fresh random values and are checked on return; a callback whose Host
 *   header is not this listener is refused (DNS rebinding).
 * - `deviceLogin`: the device authorization grant (RFC 8628) for SSH sessions and machines without a browser:
 *   `authorization_pending` and `slow_down` are waited through (openid-client), `access_denied` and
 *   `expired_token` end it. PKCE is sent there too, as Sigstore's clients do.
 *
 * The library never prints: `LoginUi` shows the URL or code and may open a browser.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as OidcClient from 'openid-client';
import { boundedFetch, isLoopback, vouchCause } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import { SIGSTORE_AUDIENCE } from './provider.ts';
import { decodeIdentityToken } from './token.ts';

export interface DeviceCodePrompt {
  verificationUri: string;
  /** The URI with the code filled in, when the issuer offers one. */
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

export interface LoginUi {
  /** Shows the sign-in URL of the browser flow (always called, whether a browser opens or not). */
  showUrl(url: string): void;
  /** Opens a browser at `url`; resolves false when there is none. */
  openBrowser?(url: string): Promise<boolean>;
  /** Shows the device flow's URL and code. */
  showDeviceCode(p: DeviceCodePrompt): void;
}

export interface LoginOptions {
  /** OIDC issuer URL (its discovery document names the endpoints). */
  issuer: string;
  /** OAuth client id; `sigstore` (the public client of Sigstore's Dex) by default. */
  clientId?: string;
  /** Dex connector to go straight to (e.g. https://github.com/login/oauth), skipping Dex's chooser. */
  connectorId?: string;
  ui: LoginUi;
  /** Deadline of each request to the issuer, in ms. */
  timeoutMs?: number;
  /** How long to wait for the person, in ms (default 5 minutes; the device flow also stops at the code's expiry). */
  waitMs?: number;
}

export interface LoginResult {
  idToken: string;
  /** The issuer signed in at (`iss` of the token). */
  issuer: string;
  expiresAt?: Date;
}

const SCOPE = 'openid email';
const CALLBACK_PATH = '/auth/callback';
const DEFAULT_WAIT_MS = 5 * 60_000;

type Client = typeof OidcClient;

async function discover(o: LoginOptions): Promise<{ client: Client; config: OidcClient.Configuration }> {
  const client = await import('openid-client');
  let url: URL;
  try {
    url = new URL(o.issuer);
  } catch (e) {
    throw new VouchError('USAGE', `the OIDC issuer is not a URL: ${o.issuer.slice(0, 200)}`, { cause: e });
  }
  const loopback = isLoopback(url);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new VouchError('USAGE', `the OIDC issuer must be https (plain http only on this machine): ${url.href}`);
  }
  const timeoutMs = o.timeoutMs ?? 10_000;
  try {
    const config = await client.discovery(url, o.clientId ?? SIGSTORE_AUDIENCE, undefined, client.None(), {
      execute: loopback ? [client.allowInsecureRequests] : [],
      [client.customFetch]: boundedFetch('the OIDC issuer', { timeoutMs }),
      timeout: Math.ceil(timeoutMs / 1000),
    });
    return { client, config };
  } catch (e) {
    throw oidcError(e, `OIDC discovery at ${url.href} failed`);
  }
}

/** Authorization code + PKCE through the person's browser and a loopback listener. */
export async function browserLogin(o: LoginOptions): Promise<LoginResult> {
  const { client, config } = await discover(o);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const callback = await listenLoopback();
  try {
    const redirectUri = `http://localhost:${callback.port}${CALLBACK_PATH}`;
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (o.connectorId) params.connector_id = o.connectorId;
    const url = client.buildAuthorizationUrl(config, params).href;
    o.ui.showUrl(url);
    await o.ui.openBrowser?.(url);
    const returned = await callback.wait(o.waitMs ?? DEFAULT_WAIT_MS);
    // RFC 6749 section 10.12: an answer whose state is not ours was not asked for by this sign-in (CSRF); checked
    // here before anything else it says, then again by openid-client.
    if (returned.searchParams.get('state') !== state) {
      throw new VouchError('TOKEN_INVALID', 'the sign-in answer does not belong to this sign-in (state mismatch)');
    }
    const refused = returned.searchParams.get('error');
    if (refused !== null) {
      const said = `${refused} ${returned.searchParams.get('error_description') ?? ''}`.trim().slice(0, 200);
      throw new VouchError('TOKEN_INVALID', `the issuer refused the sign-in: ${said}`);
    }
    let tokens: OidcClient.TokenEndpointResponse;
    try {
      tokens = await client.authorizationCodeGrant(config, returned, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      throw oidcError(e, 'the sign-in failed');
    }
    return result(tokens);
  } finally {
    callback.close();
  }
}

/** The device authorization grant (RFC 8628). */
export async function deviceLogin(o: LoginOptions): Promise<LoginResult> {
  const { client, config } = await discover(o);
  if (config.serverMetadata().device_authorization_endpoint === undefined) {
    throw new VouchError('SERVICE_ERROR', `the OIDC issuer ${o.issuer.slice(0, 200)} offers no device sign-in`, {
      hint: 'Sign in with the browser flow (vouch login without --device).',
    });
  }
  const verifier = client.randomPKCECodeVerifier();
  const params: Record<string, string> = {
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (o.connectorId) params.connector_id = o.connectorId;
  let auth: OidcClient.DeviceAuthorizationResponse;
  try {
    auth = await client.initiateDeviceAuthorization(config, params);
  } catch (e) {
    throw oidcError(e, 'the device sign-in could not start');
  }
  const waitS = Math.min(auth.expires_in, (o.waitMs ?? DEFAULT_WAIT_MS * 3) / 1000);
  const prompt: DeviceCodePrompt = {
    verificationUri: auth.verification_uri,
    userCode: auth.user_code,
    expiresInSeconds: waitS,
  };
  if (auth.verification_uri_complete) prompt.verificationUriComplete = auth.verification_uri_complete;
  o.ui.showDeviceCode(prompt);
  const signal = AbortSignal.timeout(waitS * 1000);
  try {
    return result(await client.pollDeviceAuthorizationGrant(config, auth, { code_verifier: verifier }, { signal }));
  } catch (e) {
    if (signal.aborted) throw new VouchError('TOKEN_INVALID', 'the device sign-in expired; run again');
    throw oidcError(e, 'the device sign-in failed');
  }
}

function result(tokens: OidcClient.TokenEndpointResponse): LoginResult {
  const idToken = tokens.id_token;
  if (typeof idToken !== 'string')
    throw new VouchError('SERVICE_ERROR', 'the OIDC issuer answered without an ID token');
  const claims = decodeIdentityToken(idToken);
  const out: LoginResult = { idToken, issuer: claims.issuer };
  if (claims.expiresAt) out.expiresAt = claims.expiresAt;
  return out;
}

/**
 * openid-client's errors as vouch codes: the person or the issuer said no (OAuth error codes), or what came back does
 * not belong to this sign-in (state, nonce, issuer, audience): TOKEN_INVALID. An issuer that answers nonsense:
 * SERVICE_ERROR. Failures of our own fetch keep their code.
 */
function oidcError(e: unknown, what: string): VouchError {
  const ours = vouchCause(e);
  if (ours) return ours;
  const err = e as Error & { error?: string; error_description?: string; code?: string };
  if (typeof err.error === 'string') {
    const said = `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`.slice(0, 200);
    switch (err.error) {
      case 'access_denied':
        return new VouchError('TOKEN_INVALID', `${what}: the sign-in was denied (${said})`, { cause: e });
      case 'expired_token':
        return new VouchError('TOKEN_INVALID', `${what}: the code expired before it was used; run again`, { cause: e });
      case 'invalid_grant':
      case 'invalid_request':
      case 'unauthorized_client':
      case 'invalid_client':
        return new VouchError('TOKEN_INVALID', `${what}: the issuer refused (${said})`, {
          cause: e,
          hint: 'Check the client id (--client-id) is registered at the issuer for this flow.',
        });
      default:
        return new VouchError('SERVICE_ERROR', `${what}: the issuer answered ${said}`, { cause: e });
    }
  }
  const message = (err.message ?? String(e)).slice(0, 200);
  // state, nonce, iss, aud and the ID token's times: the answer is not for this request.
  if (err.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || err.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') {
    return new VouchError('TOKEN_INVALID', `${what}: the answer does not match this sign-in (${message})`, {
      cause: e,
    });
  }
  if (err.code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') {
    return new VouchError('TOKEN_INVALID', `${what}: the ID token is expired or not valid yet`, { cause: e });
  }
  return new VouchError('SERVICE_ERROR', `${what}: ${message}`, { cause: e });
}

interface LoopbackCallback {
  port: number;
  /** The callback URL the browser came back with (its query: code and state, or error). */
  wait(ms: number): Promise<URL>;
  close(): void;
}

/** A one-shot HTTP listener on the loopback interface only, for the redirect back from the issuer. */
async function listenLoopback(): Promise<LoopbackCallback> {
  let deliver: (u: URL) => void = () => {};
  let fail: (e: VouchError) => void = () => {};
  const arrived = new Promise<URL>((resolve, reject) => {
    deliver = resolve;
    fail = reject;
  });
  arrived.catch(() => {});
  let port = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // DNS rebinding: a page on another site that resolves its name to 127.0.0.1 sends its own Host.
    const host = req.headers.host ?? '';
    if (!new Set([`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]).has(host)) {
      res.writeHead(421).end();
      return;
    }
    const url = new URL(req.url ?? '/', `http://localhost:${port}`);
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      res.writeHead(404).end();
      return;
    }
    const failed = url.searchParams.has('error');
    res
      .writeHead(failed ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      .end(
        `<!doctype html><title>vouch</title><p>${failed ? 'Sign-in failed.' : 'Signed in.'} You can close this window and return to the terminal.</p>`,
      );
    deliver(url);
  };
  const servers: Server[] = [];
  const first = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    first.once('error', reject);
    first.listen(0, '127.0.0.1', resolve);
  });
  servers.push(first);
  port = (first.address() as AddressInfo).port;
  // Browsers may resolve localhost to ::1 first; listen there too when the machine has IPv6 loopback.
  const second = createServer(handler);
  await new Promise<void>((resolve) => {
    second.once('error', () => resolve());
    second.listen(port, '::1', () => {
      servers.push(second);
      resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  return {
    port,
    wait(ms) {
      timer = setTimeout(
        () => fail(new VouchError('TOKEN_INVALID', `no sign-in arrived within ${Math.round(ms / 1000)} s`)),
        ms,
      );
      return arrived;
    },
    close() {
      if (timer) clearTimeout(timer);
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
    },
  };
}
