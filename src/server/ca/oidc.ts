/**
 * Verification of OIDC identity tokens for the CA. A token is accepted only if (OpenID Connect Core §3.1.3.7):
 * its `iss` is in the configured allow-list; its signature verifies with a key from that issuer's JWKS (found by
 * OIDC discovery, cached); its algorithm is an asymmetric one we list (so `alg: none` and HMAC tokens, whose "key"
 * would be public, are refused); `aud` contains the expected audience (default `sigstore`); and exp/nbf/iat hold
 * within a small clock skew. Any failure is TOKEN_INVALID (HTTP 401) with the reason.
 */
import * as jose from 'jose';
import { cappedFetch, fetchJson, timeoutMs } from '../../core/http.ts';
import { VouchError } from '../../errors.ts';

export type IssuerType = 'email' | 'github-workflow' | 'gitlab-pipeline' | 'uri';

export interface IssuerConfig {
  /** The exact `iss` value. */
  issuer: string;
  /** Expected audience; default `sigstore`. */
  audience?: string;
  /** How the identity is read from the token; guessed from well-known issuer URLs, else `email`. */
  type?: IssuerType;
  /** Keys given directly (the stack's own dev issuer): no discovery. */
  jwks?: jose.JSONWebKeySet;
}

export interface VerifiedToken {
  issuer: string;
  type: IssuerType;
  claims: jose.JWTPayload & Record<string, unknown>;
}

const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];
const MAX_TOKEN = 16 * 1024;
const DISCOVERY_TTL_MS = 10 * 60_000;
/**
 * Discovery and JWKS requests of the CA: shorter than a client's deadline, so a CA whose issuer hangs answers 503
 * before the client signing through it gives up; a discovery document or key set is a few KiB.
 */
const ISSUER_TIMEOUT_MS = 10_000;
const MAX_ISSUER_ANSWER = 256 << 10;

export function issuerType(c: IssuerConfig): IssuerType {
  if (c.type) return c.type;
  if (c.issuer === 'https://token.actions.githubusercontent.com') return 'github-workflow';
  if (c.issuer === 'https://gitlab.com') return 'gitlab-pipeline';
  return 'email';
}

function invalid(reason: string, cause?: unknown): VouchError {
  return new VouchError('TOKEN_INVALID', `identity token rejected: ${reason}`, cause ? { cause } : {});
}

export class TokenVerifier {
  private readonly issuers: Map<string, IssuerConfig>;
  private readonly clock: () => Date;
  private readonly skewSeconds: number;
  private readonly keySets = new Map<string, { at: number; keys: ReturnType<typeof jose.createRemoteJWKSet> }>();
  private readonly timeoutMs: number | undefined;

  /** `timeoutMs`: deadline of each discovery and JWKS request (default VOUCH_HTTP_TIMEOUT, else 10 s). */
  constructor(issuers: IssuerConfig[], options: { clock?: () => Date; skewSeconds?: number; timeoutMs?: number } = {}) {
    this.issuers = new Map(issuers.map((i) => [i.issuer, i]));
    this.clock = options.clock ?? (() => new Date());
    this.skewSeconds = options.skewSeconds ?? 30;
    this.timeoutMs = options.timeoutMs;
  }

  listIssuers(): IssuerConfig[] {
    return [...this.issuers.values()];
  }

  addIssuer(c: IssuerConfig): void {
    this.issuers.set(c.issuer, c);
  }

  async verify(token: unknown): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0) throw invalid('missing');
    if (token.length > MAX_TOKEN) throw invalid('too large');
    let header: jose.ProtectedHeaderParameters;
    let unverified: jose.JWTPayload;
    try {
      header = jose.decodeProtectedHeader(token);
      unverified = jose.decodeJwt(token);
    } catch (e) {
      throw invalid('not a JWT', e);
    }
    if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) {
      throw invalid(`algorithm ${JSON.stringify(header.alg ?? null)} is not accepted`);
    }
    const iss = unverified.iss;
    const config = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (!config) throw invalid(`issuer ${JSON.stringify(iss ?? null).slice(0, 200)} is not trusted by this CA`);
    const keys = await this.keysFor(config);
    try {
      const { payload } = await jose.jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: config.audience ?? 'sigstore',
        algorithms: ALGORITHMS,
        clockTolerance: this.skewSeconds,
        currentDate: this.clock(),
        requiredClaims: ['exp', 'iat'],
      });
      const iat = payload.iat!;
      if (iat > this.clock().getTime() / 1000 + this.skewSeconds) throw invalid('issued in the future');
      return { issuer: config.issuer, type: issuerType(config), claims: payload as VerifiedToken['claims'] };
    } catch (e) {
      if (e instanceof VouchError) throw e;
      const code = (e as { code?: string }).code ?? 'ERR';
      const reason =
        code === 'ERR_JWT_EXPIRED'
          ? 'expired'
          : code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
            ? 'bad signature'
            : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
              ? `claim check failed (${(e as jose.errors.JWTClaimValidationFailed).claim})`
              : code === 'ERR_JWKS_NO_MATCHING_KEY'
                ? 'no matching key in the issuer JWKS'
                : `invalid (${code})`;
      throw invalid(reason, e);
    }
  }

  private async keysFor(c: IssuerConfig): Promise<jose.JWTVerifyGetKey> {
    if (c.jwks) return jose.createLocalJWKSet(c.jwks);
    const cached = this.keySets.get(c.issuer);
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.keys;
    // OpenID Connect Discovery 1.0 §4: the configuration lives under the issuer URL, and its `issuer` must match.
    const url = `${c.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const deadline = timeoutMs(this.timeoutMs, ISSUER_TIMEOUT_MS);
    const what = `the OIDC issuer ${c.issuer}`;
    let jwksUri: URL;
    try {
      const doc = (await fetchJson(url, what, { timeoutMs: deadline, maxBytes: MAX_ISSUER_ANSWER })) as {
        issuer?: unknown;
        jwks_uri?: unknown;
      };
      if (doc?.issuer !== c.issuer || typeof doc.jwks_uri !== 'string') throw new Error('discovery document mismatch');
      jwksUri = new URL(doc.jwks_uri);
    } catch (e) {
      throw new VouchError('SERVICE_UNAVAILABLE', `OIDC discovery failed for ${c.issuer}`, { cause: e });
    }
    // jose's own fetch has a timeout but no cap on the key set; ours has both.
    const keys = jose.createRemoteJWKSet(jwksUri, {
      timeoutDuration: deadline,
      cooldownDuration: 30_000,
      [jose.customFetch]: cappedFetch({ what, timeoutMs: deadline, maxBytes: MAX_ISSUER_ANSWER }),
    });
    this.keySets.set(c.issuer, { at: Date.now(), keys });
    return keys;
  }
}
