/**
 * A fake upstream OpenID provider (a company's Okta, Keycloak or Google, as a login connector sees it) on 127.0.0.1:
 * discovery, an authorization endpoint where the person approves at once, a token endpoint for a confidential client
 * (client_secret_post or client_secret_basic, PKCE S256 checked), and an RS256 JWKS. Its ID tokens carry the nonce it
 * was sent, unless `wrongNonce` is set, and `email_verified` as configured.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';

export class FakeOidcUpstream {
  readonly issuer: string;
  readonly clientId = 'vouch-login';
  readonly clientSecret = 'fake-upstream-secret';
  claims: Record<string, unknown> = { sub: '00u1abcd', email: 'alice@corp.example.test', email_verified: true };
  wrongNonce = false;
  private readonly codes = new Map<string, { redirectUri: string; challenge: string; nonce?: string }>();
  private readonly server: Server;
  private readonly key: { privateKey: jose.CryptoKey; jwk: jose.JWK };

  private constructor(server: Server, issuer: string, key: FakeOidcUpstream['key']) {
    this.server = server;
    this.issuer = issuer;
    this.key = key;
  }

  static async start(): Promise<FakeOidcUpstream> {
    const pair = await jose.generateKeyPair('RS256', { extractable: true });
    const jwk = await jose.exportJWK(pair.publicKey);
    const key = {
      privateKey: pair.privateKey,
      jwk: { ...jwk, alg: 'RS256', use: 'sig', kid: await jose.calculateJwkThumbprint(jwk) },
    };
    let fake: FakeOidcUpstream | undefined;
    const server = createServer((req, res) => void fake!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeOidcUpstream(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/realm`, key);
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.issuer);
    const path = u.pathname.replace(/^\/realm/, '');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (path === '/.well-known/openid-configuration') {
      json(200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    } else if (path === '/jwks') json(200, { keys: [this.key.jwk] });
    else if (path === '/authorize') {
      const q = u.searchParams;
      if (q.get('client_id') !== this.clientId || q.get('code_challenge_method') !== 'S256' || !q.get('redirect_uri')) {
        json(400, { error: 'invalid_request' });
        return;
      }
      const code = randomBytes(16).toString('base64url');
      const entry: { redirectUri: string; challenge: string; nonce?: string } = {
        redirectUri: q.get('redirect_uri')!,
        challenge: q.get('code_challenge') ?? '',
      };
      if (q.get('nonce') !== null) entry.nonce = q.get('nonce')!;
      this.codes.set(code, entry);
      const back = new URL(entry.redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: back.toString() }).end();
    } else if (path === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const p = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      let id = p.get('client_id');
      let secret = p.get('client_secret');
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic)
        [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent) as [
          string,
          string,
        ];
      if (id !== this.clientId || secret !== this.clientSecret) {
        json(401, { error: 'invalid_client' });
        return;
      }
      const code = this.codes.get(p.get('code') ?? '');
      this.codes.delete(p.get('code') ?? '');
      const s256 = createHash('sha256')
        .update(p.get('code_verifier') ?? '')
        .digest('base64url');
      if (!code || code.redirectUri !== p.get('redirect_uri') || s256 !== code.challenge) {
        json(400, { error: 'invalid_grant' });
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const nonce = this.wrongNonce ? 'not-the-nonce' : code.nonce;
      const idToken = await new jose.SignJWT({ ...this.claims, ...(nonce !== undefined ? { nonce } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: this.key.jwk.kid! })
        .setIssuer(this.issuer)
        .setAudience(this.clientId)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(this.key.privateKey);
      json(200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        id_token: idToken,
      });
    } else json(404, { error: 'not_found' });
  }
}
