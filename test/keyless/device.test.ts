/**
 * Device sign-in (RFC 8628) against an issuer on a real loopback socket that follows the RFC's answers: pending,
 * slow_down, denied, expired. Sleeps are recorded instead of waited, so the test takes milliseconds.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DeviceFlowProvider } from '../../src/identity/device.ts';
import { selectIdentityProvider } from '../../src/identity/providers.ts';
import { rejectsWith } from './helpers.ts';

let polls: string[] = [];
let script: [number, Record<string, unknown>][] = [];
let discovery: Record<string, unknown> = {};
let base = '';
const forms: Record<string, string>[] = [];
const server = createServer((req, res) => {
  let text = '';
  req.on('data', (c) => {
    text += c;
  });
  req.on('end', () => {
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/auth/.well-known/openid-configuration') return send(200, discovery);
    const form = Object.fromEntries(new URLSearchParams(text));
    forms.push(form);
    if (req.url === '/auth/device/code') {
      return send(200, {
        device_code: 'DEV',
        user_code: 'ABCD-EFGH',
        verification_uri: `${base}/auth/device`,
        expires_in: 600,
        interval: 1,
      });
    }
    if (req.url === '/auth/token') {
      polls.push(form.device_code ?? '');
      const [status, body] = script.shift() ?? [400, { error: 'authorization_pending' }];
      return send(status, body);
    }
    send(404, {});
  });
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((r) => server.close(r)));

function provider(sleeps: number[], shown: string[]) {
  discovery = {
    issuer: `${base}/auth`,
    device_authorization_endpoint: `${base}/auth/device/code`,
    token_endpoint: `${base}/auth/token`,
  };
  return new DeviceFlowProvider({
    issuer: `${base}/auth`,
    prompt: (p) => shown.push(`${p.verificationUri} ${p.userCode}`),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

describe('device sign-in (RFC 8628)', () => {
  it('shows the code, polls through pending and slow_down, returns the ID token', async () => {
    polls = [];
    script = [
      [400, { error: 'authorization_pending' }],
      [400, { error: 'slow_down' }],
      [200, { id_token: 'h.p.s', token_type: 'Bearer' }],
    ];
    const sleeps: number[] = [];
    const shown: string[] = [];
    assert.equal(await provider(sleeps, shown).getToken(), 'h.p.s');
    assert.deepEqual(shown, [`${base}/auth/device ABCD-EFGH`]);
    assert.deepEqual(sleeps, [1000, 1000, 6000]);
    assert.deepEqual(polls, ['DEV', 'DEV', 'DEV']);
    const poll = forms.at(-1)!;
    assert.equal(poll.grant_type, 'urn:ietf:params:oauth:grant-type:device_code');
    assert.equal(poll.client_id, 'sigstore');
  });
  const rows: [string, [number, Record<string, unknown>], string][] = [
    ['denied', [400, { error: 'access_denied' }], 'TOKEN_INVALID'],
    ['expired', [400, { error: 'expired_token' }], 'TOKEN_INVALID'],
    ['unknown error', [400, { error: 'invalid_client' }], 'SERVICE_ERROR'],
    ['success without id_token', [200, { access_token: 'x' }], 'SERVICE_ERROR'],
    ['server error', [500, { error: 'boom' }], 'SERVICE_ERROR'],
  ];
  for (const [name, answer, code] of rows) {
    it(`fails: ${name}`, async () => {
      script = [answer];
      await rejectsWith(provider([], []).getToken(), code as 'SERVICE_ERROR');
    });
  }
  it('an issuer without a device endpoint is SERVICE_ERROR', async () => {
    const p = provider([], []);
    discovery = { issuer: `${base}/auth`, token_endpoint: `${base}/auth/token` };
    await rejectsWith(p.getToken(), 'SERVICE_ERROR');
  });
  it('is chosen only after every non-interactive source', () => {
    const deviceFlow = { issuer: 'https://oauth2.sigstore.dev/auth', prompt: () => {} };
    assert.equal(selectIdentityProvider({ env: {}, deviceFlow }).source, 'device-flow');
    assert.equal(
      selectIdentityProvider({ env: {}, deviceFlow, localIssuerTokenUrl: 'http://l' }).source,
      'local-issuer',
    );
    assert.equal(selectIdentityProvider({ env: { SIGSTORE_ID_TOKEN: 'a.b.c' }, deviceFlow }).source, 'env');
  });
});
