/**
 * A local OIDC issuer for development identities: discovery document, JWKS, and a token endpoint that mints an
 * ES256 ID token (aud `sigstore`, email of the local user, email_verified) for whoever can reach it. It is trusted
 * only by the stack that runs it (its URL goes into that stack's CA allow-list and nowhere else), which is why it
 * binds to loopback by default: reaching it is the authentication.
 */
import * as jose from 'jose';
import type { StackKey } from '../pki.ts';
import type { Route } from '../routes.ts';

export interface LocalIssuerOptions {
  /** The issuer URL (exact `iss`), e.g. http://127.0.0.1:PORT/oidc. */
  issuer: string;
  key: StackKey;
  /** Email put in minted tokens. */
  email: string;
  audience?: string;
  lifetimeSeconds?: number;
  clock?: () => Date;
}

export class LocalIssuer {
  readonly issuer: string;
  readonly email: string;
  private readonly key: StackKey;
  private readonly audience: string;
  private readonly lifetime: number;
  private readonly clock: () => Date;
  private jwk: jose.JWK | undefined;

  constructor(o: LocalIssuerOptions) {
    this.issuer = o.issuer;
    this.key = o.key;
    this.email = o.email;
    this.audience = o.audience ?? 'sigstore';
    this.lifetime = o.lifetimeSeconds ?? 300;
    this.clock = o.clock ?? (() => new Date());
  }

  async jwks(): Promise<jose.JSONWebKeySet> {
    if (!this.jwk) {
      const jwk = await jose.exportJWK(this.key.publicKey);
      const kid = await jose.calculateJwkThumbprint(jwk);
      this.jwk = { ...jwk, kid, alg: 'ES256', use: 'sig' };
    }
    return { keys: [this.jwk] };
  }

  /** Mint an ID token for the local user (or another email, for tests of the CA's identity handling). */
  async mint(claims: Record<string, unknown> = {}): Promise<string> {
    const { keys } = await this.jwks();
    const now = Math.floor(this.clock().getTime() / 1000);
    const email = (claims.email as string | undefined) ?? this.email;
    return new jose.SignJWT({ email, email_verified: true, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: keys[0]!.kid!, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(email)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.lifetime)
      .sign(this.key.privateKey);
  }

  routes(): Route[] {
    return [
      {
        method: 'GET',
        pattern: '/.well-known/openid-configuration',
        handler: () => ({
          status: 200,
          body: {
            issuer: this.issuer,
            jwks_uri: `${this.issuer}/jwks`,
            token_endpoint: `${this.issuer}/token`,
            response_types_supported: ['id_token'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
            grant_types_supported: ['client_credentials'],
          },
        }),
      },
      { method: 'GET', pattern: '/jwks', handler: async () => ({ status: 200, body: await this.jwks() }) },
      {
        method: 'POST',
        pattern: '/token',
        handler: async () => {
          const token = await this.mint();
          return {
            status: 200,
            body: { access_token: token, id_token: token, token_type: 'Bearer', expires_in: this.lifetime },
          };
        },
      },
    ];
  }
}
