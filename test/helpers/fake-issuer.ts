/**
 * A fake OIDC issuer on 127.0.0.1 for tests: a real key pair (RS256 or ES384, as the provider it stands in for
 * uses), OpenID discovery whose `issuer` is byte-for-byte the tokens' `iss`, and the JWKS at the provider's own
 * path, so a CA (`vouch serve --issuer`) verifies its tokens exactly as it would the real ones. Provider fakes
 * (test/helpers/fake-*.ts) add their token endpoints as extra routes on the same server.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A route answers (returns true) or passes (false). */
export type Route = (req: FakeRequest, res: ServerResponse) => boolean | Promise<boolean>;

export interface FakeIssuerOptions {
  alg?: 'RS256' | 'ES384';
  /** Path of the issuer under the server's origin ('' = the origin itself), e.g. `/auth` for Dex. */
  issuerPath?: string;
  /** Where the JWKS is served (the provider's real path), e.g. `/.well-known/jwks`. */
  jwksPath?: string;
  /** Extra fields of the discovery document (endpoints). */
  discovery?: (base: string) => Record<string, unknown>;
  routes?: Route[];
}

export interface FakeIssuer {
  /** The server's origin, http://127.0.0.1:PORT */
  base: string;
  /** The `iss` of its tokens. */
  issuer: string;
  alg: 'RS256' | 'ES384';
  /** Every request received, in order. */
  requests: FakeRequest[];
  /** A signed token with these claims over the defaults (iss, iat, exp in 10 min, jti). */
  mint(claims: Record<string, unknown>, options?: { expiresIn?: number; alg?: 'RS256' | 'ES384' }): Promise<string>;
  close(): Promise<void>;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  return true;
}

export async function startIssuer(o: FakeIssuerOptions = {}): Promise<FakeIssuer> {
  const algs = { RS256: await keyFor('RS256'), ES384: await keyFor('ES384') };
  const alg = o.alg ?? 'RS256';
  const requests: FakeRequest[] = [];
  const jwksPath = o.jwksPath ?? `${o.issuerPath ?? ''}/.well-known/jwks.json`;
  let base = '';
  let issuer = '';
  const routes: Route[] = [
    (req, res) => {
      if (req.method !== 'GET' || req.url.pathname !== `${o.issuerPath ?? ''}/.well-known/openid-configuration`)
        return false;
      return json(res, 200, {
        issuer,
        jwks_uri: base + jwksPath,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [alg],
        ...o.discovery?.(base),
      });
    },
    (req, res) => {
      if (req.method !== 'GET' || req.url.pathname !== jwksPath) return false;
      return json(res, 200, { keys: [algs.RS256.jwk, algs.ES384.jwk] });
    },
    ...(o.routes ?? []),
  ];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r: FakeRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', base),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      try {
        for (const route of routes) if (await route(r, res)) return;
        json(res, 404, { message: 'not found' });
      } catch (e) {
        json(res, 500, { message: String(e) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = base + (o.issuerPath ?? '');
  return {
    base,
    get issuer() {
      return issuer;
    },
    alg,
    requests,
    async mint(claims, options = {}) {
      const k = algs[options.alg ?? alg];
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + (options.expiresIn ?? 600), jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: k.alg, kid: k.jwk.kid!, typ: 'JWT' })
        .sign(k.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function keyFor(alg: 'RS256' | 'ES384'): Promise<{ alg: string; jwk: JWK; privateKey: KeyLike }> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = {
    ...(await exportJWK(publicKey)),
    kid: `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`,
    alg,
    use: 'sig',
  };
  return { alg, jwk, privateKey };
}
