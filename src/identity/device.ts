/**
 * Interactive identity for people at a terminal: the OAuth 2.0 Device Authorization Grant (RFC 8628), as the
 * Sigstore public-good issuer (Dex at oauth2.sigstore.dev, client `sigstore`) supports it. vouch asks for a user
 * code, the person opens the verification URL in any browser and signs in, and vouch polls the token endpoint for
 * the ID token. No local web server and no browser on this machine are needed (works over SSH).
 *
 * The library never prints: the CLI passes `prompt`, which shows the URL and code.
 */

import { fetchJson, httpRequest, parseJsonAnswer } from '../core/http.ts';
import { VouchError } from '../errors.ts';
import type { IdentityProvider } from './providers.ts';

export interface DeviceCodePrompt {
  verificationUri: string;
  /** The URI with the code filled in, when the issuer offers one. */
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

export interface DeviceFlowOptions {
  /** OIDC issuer URL; its discovery document names the device and token endpoints. */
  issuer: string;
  clientId?: string;
  prompt: (p: DeviceCodePrompt) => void;
  /** Sleep between polls; injectable so tests need not wait for real seconds. */
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_WAIT_S = 15 * 60;

export class DeviceFlowProvider implements IdentityProvider {
  readonly #o: DeviceFlowOptions;
  constructor(options: DeviceFlowOptions) {
    this.#o = options;
  }

  async getToken(): Promise<string> {
    const o = this.#o;
    const clientId = o.clientId ?? 'sigstore';
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const http = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
    // OpenID Connect Discovery 1.0 section 4; RFC 8628 section 4 adds device_authorization_endpoint.
    const discovery = obj(
      await fetchJson(`${o.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, 'the OIDC issuer', http),
    );
    const deviceEndpoint = discovery.device_authorization_endpoint;
    const tokenEndpoint = discovery.token_endpoint;
    if (typeof deviceEndpoint !== 'string' || typeof tokenEndpoint !== 'string') {
      throw new VouchError('SERVICE_ERROR', `the OIDC issuer ${o.issuer} offers no device sign-in`);
    }
    // RFC 8628 section 3.1-3.2: device authorization request and response.
    const auth = obj(await postForm(deviceEndpoint, { client_id: clientId, scope: 'openid email' }, http));
    const deviceCode = str(auth.device_code, 'device_code');
    const expiresIn = Math.min(num(auth.expires_in, 'expires_in'), MAX_WAIT_S);
    const prompt: DeviceCodePrompt = {
      verificationUri: str(auth.verification_uri, 'verification_uri'),
      userCode: str(auth.user_code, 'user_code'),
      expiresInSeconds: expiresIn,
    };
    if (typeof auth.verification_uri_complete === 'string')
      prompt.verificationUriComplete = auth.verification_uri_complete;
    o.prompt(prompt);
    // RFC 8628 section 3.4-3.5: poll at `interval` seconds (default 5), 5 s more after each slow_down.
    let interval = auth.interval === undefined ? 5 : num(auth.interval, 'interval');
    const deadline = Date.now() + expiresIn * 1000;
    for (;;) {
      await sleep(interval * 1000);
      if (Date.now() > deadline) throw new VouchError('TOKEN_INVALID', 'the device sign-in expired; run again');
      const { status, body } = await pollToken(
        tokenEndpoint,
        { grant_type: GRANT, device_code: deviceCode, client_id: clientId },
        http,
      );
      if (status === 200) {
        const token = body.id_token;
        if (typeof token !== 'string') throw new VouchError('SERVICE_ERROR', 'the issuer answered without an ID token');
        return token;
      }
      switch (body.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          interval += 5;
          continue;
        case 'access_denied':
          throw new VouchError('TOKEN_INVALID', 'the sign-in was denied');
        case 'expired_token':
          throw new VouchError('TOKEN_INVALID', 'the device sign-in expired; run again');
        default:
          throw new VouchError(
            'SERVICE_ERROR',
            `the issuer refused the device sign-in: ${String(body.error).slice(0, 100)}`,
          );
      }
    }
  }
}

async function postForm(url: string, form: Record<string, string>, http: { timeoutMs?: number }): Promise<unknown> {
  return fetchJson(url, 'the OIDC issuer', { ...http, method: 'POST', body: new URLSearchParams(form) });
}

/** Token polls answer 400 with an `error` while pending (RFC 8628 section 3.5): an answer, not a failure. */
async function pollToken(
  url: string,
  form: Record<string, string>,
  http: { timeoutMs?: number },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { status, body } = await httpRequest(url, 'the OIDC issuer', {
    ...http,
    method: 'POST',
    body: new URLSearchParams(form),
    allowStatus: [400],
  });
  return { status, body: obj(parseJsonAnswer(body, 'the OIDC issuer')) };
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new VouchError('SERVICE_ERROR', 'the OIDC issuer answered something that is not a JSON object');
  }
  return v as Record<string, unknown>;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '' || v.length > 4096)
    throw new VouchError('SERVICE_ERROR', `the issuer sent no ${what}`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new VouchError('SERVICE_ERROR', `the issuer sent a bad ${what}`);
  return v;
}
