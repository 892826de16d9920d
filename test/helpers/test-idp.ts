/**
 * A local OIDC identity provider for CA tests: one HTTP server on 127.0.0.1:0 that is the issuer at every path under
 * it (`http://127.0.0.1:P/<any path>`), each with its discovery document (OpenID Connect Discovery 1.0 §4: `issuer`
 * equal to the URL it is served under) and a real JWKS, and tokens signed with real keys: RS256 as most providers
 * use, ES384 as AWS STS can. What a CA sees from it is what it sees from GitHub, GitLab or AWS, but the transport.
 */
import type { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';

export type TestAlg = 'RS256' | 'ES384';

export interface MintOptions {
  alg?: TestAlg;
  audience?: string | string[];
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  issuedAt?: number;
  /** Sign with this key instead of the published one (a forged token). */
  key?: webcrypto.CryptoKey;
}

export class TestIdp {
  readonly origin: string;
  private readonly keys: Record<TestAlg, { privateKey: webcrypto.CryptoKey; jwk: jose.JWK }>;
  private readonly server: Server;
  /** Requests served, by path (tests that count discovery round trips). */
  readonly hits = new Map<string, number>();

  private constructor(server: Server, origin: string, keys: TestIdp['keys']) {
    this.server = server;
    this.origin = origin;
    this.keys = keys;
  }

  static async start(): Promise<TestIdp> {
    const keys = {} as TestIdp['keys'];
    for (const alg of ['RS256', 'ES384'] as const) {
      const pair = await jose.generateKeyPair(alg, { extractable: true });
      const jwk = await jose.exportJWK(pair.publicKey);
      keys[alg] = {
        privateKey: pair.privateKey,
        jwk: { ...jwk, alg, use: 'sig', kid: await jose.calculateJwkThumbprint(jwk) },
      };
    }
    let idp: TestIdp | undefined;
    const server = createServer((req, res) => idp!.handle(req.url ?? '/', res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    idp = new TestIdp(server, `http://127.0.0.1:${port}`, keys);
    return idp;
  }

  /** The issuer URL at `path` (no trailing slash unless given). */
  issuer(path: string): string {
    return `${this.origin}/${path.replace(/^\/+/, '')}`;
  }

  jwks(): jose.JSONWebKeySet {
    return { keys: [this.keys.RS256.jwk, this.keys.ES384.jwk] };
  }

  /** The public key of `alg`, as PEM (what an attacker signs an HS256 token with). */
  async publicKeyPem(alg: TestAlg): Promise<string> {
    return jose.exportSPKI((await jose.importJWK(this.keys[alg].jwk, alg)) as webcrypto.CryptoKey);
  }

  async mint(issuer: string, claims: Record<string, unknown>, o: MintOptions = {}): Promise<string> {
    const alg = o.alg ?? 'RS256';
    const now = o.issuedAt ?? Math.floor(Date.now() / 1000);
    const jwt = new jose.SignJWT(claims)
      .setProtectedHeader({ alg, kid: this.keys[alg].jwk.kid!, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(o.audience ?? 'sigstore')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + (o.expiresIn ?? 300));
    return jwt.sign(o.key ?? this.keys[alg].privateKey);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(url: string, res: import('node:http').ServerResponse): void {
    const path = url.split('?')[0]!;
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const discovery = '/.well-known/openid-configuration';
    // Issuers under /down/ are down: every request answers 503, as an unreachable provider's proxy would.
    if (path.startsWith('/down/')) send(503, { error: 'unavailable' });
    else if (path.endsWith(discovery)) {
      const issuer = this.origin + path.slice(0, -discovery.length);
      send(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES384'],
      });
    } else if (path.endsWith('/.well-known/jwks.json')) send(200, this.jwks());
    else send(404, { error: 'not found' });
  }
}
