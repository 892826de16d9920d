/**
 * The login connector's device grant (RFC 8628), for machines without a browser: the device asks for a code, the
 * person enters it at `/login/device` on any browser and logs in upstream there, and the device polls the token
 * endpoint until that login is done, refused or expired. Grants live in memory, bounded, for 5 minutes.
 */
import { randomBytes } from 'node:crypto';
import type { LoginConfig } from '../config.ts';
import type { RouteRequest, RouteResponse } from '../routes.ts';
import {
  connectorLabel,
  type DeviceRequest,
  escapeHtml,
  type LoggedIn,
  type LoginRefused,
  MAX_FORM_BYTES,
  page,
  random,
  readForm,
  remember,
  tokenError,
} from './login-common.ts';

interface DeviceGrant {
  expires: number;
  userCode: string;
  interval: number;
  lastPoll: number;
  status: 'pending' | 'denied' | 'done' | { who: LoggedIn };
}

const DEVICE_MS = 5 * 60_000;
const DEVICE_INTERVAL_S = 5;
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export interface DeviceFlowOptions {
  issuer: string;
  config: LoginConfig;
  now(): number;
  /** Sends the person to a connector's upstream for this device's login (or shows an error page). */
  toUpstream(connectorId: string, request: DeviceRequest): Promise<RouteResponse>;
  /** The token answer for a finished login. */
  issue(who: LoggedIn): Promise<RouteResponse>;
}

export class DeviceFlow {
  readonly #o: DeviceFlowOptions;
  readonly #grants = new Map<string, DeviceGrant>();
  readonly #userCodes = new Map<string, string>();

  constructor(o: DeviceFlowOptions) {
    this.#o = o;
  }

  /** POST /device/code (RFC 8628 §3.1-3.2). */
  code(req: RouteRequest): RouteResponse {
    const f = readForm(req);
    if ('status' in f) return f;
    if (f.clientId !== this.#o.config.clientId) return tokenError('invalid_client', 'unknown client', 401);
    const deviceCode = random();
    let userCode: string;
    do {
      const b = randomBytes(8);
      const chars = [...b].map((x) => USER_CODE_ALPHABET[x % USER_CODE_ALPHABET.length]).join('');
      userCode = `${chars.slice(0, 4)}-${chars.slice(4)}`;
    } while (this.#userCodes.has(userCode));
    const now = this.#o.now();
    remember(this.#grants, deviceCode, {
      expires: now + DEVICE_MS,
      userCode,
      interval: DEVICE_INTERVAL_S,
      lastPoll: 0,
      status: 'pending',
    });
    remember(this.#userCodes, userCode, deviceCode);
    const issuer = this.#o.issuer;
    return {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      body: {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${issuer}/device`,
        verification_uri_complete: `${issuer}/device?user_code=${userCode}`,
        expires_in: DEVICE_MS / 1000,
        interval: DEVICE_INTERVAL_S,
      },
    };
  }

  /** The device grant at POST /token (RFC 8628 §3.4-3.5), the client already checked. */
  async poll(params: URLSearchParams): Promise<RouteResponse> {
    const code = params.get('device_code') ?? '';
    const g = this.#grants.get(code);
    if (!g) return tokenError('invalid_grant', 'unknown device code');
    const now = this.#o.now();
    if (g.expires < now) {
      this.#grants.delete(code);
      return tokenError('expired_token', 'the device code has expired');
    }
    if (g.status === 'denied') {
      this.#grants.delete(code);
      return tokenError('access_denied', 'the login was refused');
    }
    if (g.status === 'pending') {
      // RFC 8628 §3.5: polling faster than the interval earns slow_down and 5 more seconds.
      const early = now - g.lastPoll < g.interval * 1000;
      g.lastPoll = now;
      if (early) {
        g.interval += 5;
        return tokenError('slow_down', `poll at most every ${g.interval} s`);
      }
      return tokenError('authorization_pending', 'the login is not finished yet');
    }
    if (g.status === 'done') return tokenError('invalid_grant', 'the device code was already used');
    const who = g.status.who;
    g.status = 'done';
    this.#userCodes.delete(g.userCode);
    return this.#o.issue(who);
  }

  /** The upstream sent the person back for a device's login: record who it was (or the refusal) for the poll. */
  finish(deviceCode: string, outcome: LoggedIn | LoginRefused): RouteResponse {
    const grant = this.#grants.get(deviceCode);
    if (!grant || grant.expires < this.#o.now())
      return page(400, 'Login expired', '<p>The device code has expired.</p>');
    if ('error' in outcome) {
      grant.status = 'denied';
      return page(403, 'Login refused', `<p>${escapeHtml(outcome.description)}</p>`);
    }
    grant.status = { who: outcome };
    return page(200, 'Logged in', `<p>Logged in as ${escapeHtml(outcome.email)}. You can return to your terminal.</p>`);
  }

  /**
   * GET /device: the person enters the code shown on their device, or, arriving by `verification_uri_complete`, sees
   * it and is asked to compare it with their device's before going on (RFC 8628 §5.4: a link with the code filled in
   * is what a phisher sends). Going on is a POST from this page.
   */
  enter(req: RouteRequest): RouteResponse {
    const action = escapeHtml(`${this.#o.issuer}/device`);
    const entered = req.query.user_code ?? '';
    const grant = entered === '' ? undefined : this.#pending(entered);
    if (entered === '' || !grant) {
      const note = entered === '' ? '' : '<p>That code is unknown, used or expired. Check the code on your device.</p>';
      return page(
        entered === '' ? 200 : 400,
        'Log in a device',
        `${note}<form method="post" action="${action}"><label>Code shown on your device <input name="user_code" autocomplete="off"></label> <button>Continue</button></form>`,
      );
    }
    const buttons = this.#o.config.connectors
      .map(
        (c) =>
          `<form method="post" action="${action}"><input type="hidden" name="user_code" value="${escapeHtml(grant.userCode)}"><input type="hidden" name="connector_id" value="${escapeHtml(c.id)}"><button>Log in with ${escapeHtml(connectorLabel(c))}</button></form>`,
      )
      .join('');
    return page(
      200,
      'Log in a device',
      `<p>A device is asking to sign as you with the code <strong>${escapeHtml(grant.userCode)}</strong>. Continue only if you started this and your device shows the same code.</p>${buttons}`,
    );
  }

  /** POST /device: from the page above (never from another site's page), log in upstream for that device. */
  async confirm(req: RouteRequest): Promise<RouteResponse> {
    // A form another site submits in the person's browser carries that site's Origin (or Sec-Fetch-Site: cross-site).
    const origin = req.headers.origin;
    const fetchSite = req.headers['sec-fetch-site'];
    if (
      (origin !== undefined && origin !== new URL(this.#o.issuer).origin) ||
      (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none')
    ) {
      return page(403, 'Refused', '<p>This form must be sent from this server’s own page.</p>');
    }
    if (req.body.length > MAX_FORM_BYTES) return page(413, 'Refused', '<p>Request too large.</p>');
    const form = new URLSearchParams(req.body.toString('utf8'));
    const grant = this.#pending(form.get('user_code') ?? '');
    if (!grant) {
      return page(400, 'Unknown code', '<p>This code is unknown, used or expired. Check the code on your device.</p>');
    }
    if (!form.get('connector_id')) {
      // Typed in by hand: show the code back and the login buttons.
      return this.enter({ ...req, query: { user_code: grant.userCode } });
    }
    return this.#o.toUpstream(form.get('connector_id')!, { kind: 'device', deviceCode: grant.deviceCode });
  }

  /** The pending device grant of a user code as a person typed it (any case, with or without the dash). */
  #pending(entered: string): { userCode: string; deviceCode: string } | undefined {
    const letters = entered.toUpperCase().replace(/[^A-Z]/g, '');
    const userCode = `${letters.slice(0, 4)}-${letters.slice(4)}`;
    const deviceCode = this.#userCodes.get(userCode);
    const grant = deviceCode === undefined ? undefined : this.#grants.get(deviceCode);
    if (!grant || grant.expires < this.#o.now() || grant.status !== 'pending') return undefined;
    return { userCode, deviceCode: deviceCode! };
  }
}
