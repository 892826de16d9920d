/**
 * People's logins against a Dex-like fake (test/helpers/fake-dex.ts): the browser flow (authorization code + PKCE
 * S256, loopback redirect, state and nonce checked) and the device flow (RFC 8628: pending, slow_down, denied,
 * expired), each end to end through openid-client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { browserLogin, deviceLogin, type LoginUi } from '../../src/identity/login.ts';
import { certificateIssuer, decodeIdentityToken } from '../../src/identity/token.ts';
import { type FakeDex, startDex } from '../helpers/fake-dex.ts';
import { rejectsWith } from '../keyless/helpers.ts';

let dex: FakeDex;
before(async () => {
  dex = await startDex();
});
after(() => dex.close());

/** A person who opens the URL in a browser at once (the browser follows the issuer's redirect to the listener). */
function browserUi(shown: string[] = []): LoginUi {
  return {
    showUrl: (url) => shown.push(url),
    openBrowser: async (url) => {
      setImmediate(() => void dex.browse(url));
      return true;
    },
    showDeviceCode: () => assert.fail('no device code in the browser flow'),
  };
}

describe('browser login (authorization code + PKCE)', () => {
  it('returns the ID token; PKCE S256, loopback redirect, fresh state and nonce', async () => {
    const shown: string[] = [];
    const r = await browserLogin({ issuer: dex.issuer, ui: browserUi(shown), waitMs: 10_000 });
    assert.equal(decodeJwt(r.idToken).email, 'alice@example.com');
    assert.equal(r.issuer, dex.issuer);
    const q = dex.authorizations.at(-1)!;
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    const redirect = new URL(q.get('redirect_uri')!);
    assert.equal(redirect.hostname, 'localhost');
    assert.equal(redirect.pathname, '/auth/callback');
    assert.ok(q.get('state')!.length >= 22 && q.get('nonce')!.length >= 22);
    assert.equal(shown.length, 1);
    // The token endpoint checked the verifier against the challenge: a wrong one would have been invalid_grant.
    const tokenReq = dex.requests.filter((x) => x.url.pathname === '/auth/token').at(-1)!;
    const verifier = new URLSearchParams(tokenReq.body).get('code_verifier')!;
    assert.equal(createHash('sha256').update(verifier).digest('base64url'), q.get('code_challenge'));
  });
  it('the certificate issuer behind Sigstore Dex is the upstream connector', async () => {
    const r = await browserLogin({ issuer: dex.issuer, ui: browserUi(), waitMs: 10_000 });
    const claims = decodeIdentityToken(r.idToken);
    // Our fake is not at oauth2.sigstore.dev, so its own issuer stays; a public-good token names the connector.
    assert.equal(certificateIssuer(claims), dex.issuer);
    assert.equal(
      certificateIssuer({ ...claims, issuer: 'https://oauth2.sigstore.dev/auth' }),
      'https://github.com/login/oauth',
    );
  });
  it('a state that does not match is refused', async () => {
    dex.tamper = 'state';
    try {
      await rejectsWith(browserLogin({ issuer: dex.issuer, ui: browserUi(), waitMs: 10_000 }), 'TOKEN_INVALID');
    } finally {
      dex.tamper = undefined;
    }
  });
  it('a nonce that does not match is refused', async () => {
    dex.tamper = 'nonce';
    try {
      await rejectsWith(browserLogin({ issuer: dex.issuer, ui: browserUi(), waitMs: 10_000 }), 'TOKEN_INVALID');
    } finally {
      dex.tamper = undefined;
    }
  });
  it('the listener is loopback only and refuses a foreign Host (DNS rebinding)', async () => {
    let port = 0;
    let state = '';
    const ui: LoginUi = {
      showUrl: (url) => {
        const q = new URL(url).searchParams;
        port = Number(new URL(q.get('redirect_uri')!).port);
        state = q.get('state')!;
      },
      openBrowser: async () => {
        setImmediate(async () => {
          const { request } = await import('node:http');
          // A page of another site whose name resolves to 127.0.0.1 sends its own Host header.
          const status = await new Promise<number>((resolve) => {
            request(
              {
                host: '127.0.0.1',
                port,
                path: '/auth/callback?code=x&state=y',
                headers: { host: `evil.example:${port}` },
              },
              (res) => resolve(res.statusCode ?? 0),
            ).end();
          });
          assert.equal(status, 421);
          const { networkInterfaces } = await import('node:os');
          const external = Object.values(networkInterfaces())
            .flat()
            .find((i) => i && i.family === 'IPv4' && !i.internal);
          if (external) {
            const refused = await fetch(`http://${external.address}:${port}/auth/callback`).then(
              () => false,
              () => true,
            );
            assert.ok(refused, 'not reachable from another interface');
          }
          await fetch(`http://127.0.0.1:${port}/auth/callback?error=access_denied&state=${state}`);
        });
        return true;
      },
      showDeviceCode: () => {},
    };
    await rejectsWith(browserLogin({ issuer: dex.issuer, ui, waitMs: 10_000 }), 'TOKEN_INVALID');
  });
  it('no callback in time: TOKEN_INVALID', async () => {
    const ui: LoginUi = { showUrl: () => {}, showDeviceCode: () => {} };
    await rejectsWith(browserLogin({ issuer: dex.issuer, ui, waitMs: 200 }), 'TOKEN_INVALID');
  });
  it('an http issuer that is not on this machine is refused', async () => {
    await rejectsWith(browserLogin({ issuer: 'http://issuer.example/auth', ui: browserUi() }), 'USAGE');
  });
});

describe('device login (RFC 8628)', () => {
  const ui = (codes: string[] = []): LoginUi => ({
    showUrl: () => assert.fail('no URL in the device flow'),
    showDeviceCode: (p) => codes.push(`${p.verificationUriComplete} ${p.userCode}`),
  });
  it('shows the code, waits through authorization_pending, returns the ID token', async () => {
    dex.deviceScript = ['authorization_pending', 'authorization_pending', 'ok'];
    const codes: string[] = [];
    const r = await deviceLogin({ issuer: dex.issuer, ui: ui(codes) });
    assert.equal(decodeJwt(r.idToken).email, 'alice@example.com');
    assert.deepEqual(codes, [`${dex.base}/auth/device?user_code=WDJB-MJHT WDJB-MJHT`]);
    const poll = new URLSearchParams(dex.requests.filter((x) => x.url.pathname === '/auth/token').at(-1)!.body);
    assert.equal(poll.get('grant_type'), 'urn:ietf:params:oauth:grant-type:device_code');
    assert.equal(poll.get('client_id'), 'sigstore');
    assert.ok(poll.get('code_verifier'));
  });
  it('slow_down adds 5 s to the interval (RFC 8628 section 3.5)', async () => {
    dex.deviceScript = ['slow_down', 'ok'];
    dex.polls = [];
    await deviceLogin({ issuer: dex.issuer, ui: ui() });
    assert.equal(dex.polls.length, 2);
    assert.ok(dex.polls[1]! - dex.polls[0]! >= 4900, 'waited the longer interval');
  });
  for (const step of ['access_denied', 'expired_token'] as const) {
    it(`${step} ends the sign-in: TOKEN_INVALID`, async () => {
      dex.deviceScript = ['authorization_pending', step];
      await rejectsWith(deviceLogin({ issuer: dex.issuer, ui: ui() }), 'TOKEN_INVALID');
    });
  }
  it('an issuer without a device endpoint: SERVICE_ERROR', async () => {
    const plain = await startDex({ deviceFlow: false });
    try {
      await rejectsWith(deviceLogin({ issuer: plain.issuer, ui: ui() }), 'SERVICE_ERROR');
    } finally {
      await plain.close();
    }
  });
});
