/**
 * Verification of OIDC identity tokens for the CA. A token is accepted only if (OpenID Connect Core §3.1.3.7):
 * its `iss` is a configured issuer, exactly or through a wildcard pattern (Fulcio's meta-issuers); its signature
 * verifies with a key from that issuer's JWKS (found by OIDC discovery, cached); its algorithm is an asymmetric one
 * we list (so `alg: none` and HMAC tokens, whose "key" would be public, are refused, RFC 8725 §3.1); `aud` contains
 * the issuer's audience (default `sigstore`); and exp/nbf/iat hold within a small clock skew. Any failure is
 * TOKEN_INVALID (HTTP 401) with the reason; an issuer whose discovery or keys cannot be fetched is
 * SERVICE_UNAVAILABLE.
 *
 * Plain-HTTP issuers are refused unless the verifier is built with `allowInsecureLoopback`, and even then only on a
 * loopback host: a token's keys fetched over plain HTTP from the network could be anyone's.
 */
import * as jose from 'jose';
import { request, timeoutMs } from '../../core/http.ts';
import {
  guessIssuerType,
  type IdentityRules,
  ISSUER_TYPES,
  type IssuerType,
  parseClaimPath,
  wildcardRegExp,
} from '../../core/identity-map.ts';
import { VouchError } from '../../errors.ts';

export type { IssuerType };
export { wildcardRegExp };

export interface IssuerConfig extends Partial<IdentityRules> {
  /** The exact `iss` value, or with `wildcard` a pattern in which each `*` stands for one run of [-_a-zA-Z0-9]. */
  issuer: string;
  wildcard?: boolean;
  /** Expected audience; default `sigstore`. */
  audience?: string;
  /** Keys given directly (the stack's own issuers): no discovery. */
  jwks?: jose.JSONWebKeySet;
  description?: string;
  contact?: string;
}

/** An issuer configuration for one concrete `iss` (a wildcard resolved), with its type settled. */
export interface ResolvedIssuer extends IssuerConfig {
  type: IssuerType;
  audience: string;
}

export interface VerifiedToken {
  issuer: string;
  config: ResolvedIssuer;
  claims: jose.JWTPayload & Record<string, unknown>;
}

export interface TokenVerifierOptions {
  clock?: () => Date;
  skewSeconds?: number;
  /** Deadline of each discovery and JWKS request (default VOUCH_HTTP_TIMEOUT, else 10 s). */
  timeoutMs?: number;
  /** Accept issuers served over plain HTTP from a loopback address (tests and local development only). */
  allowInsecureLoopback?: boolean;
}

const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];
const MAX_TOKEN = 16 * 1024;
const KEYS_TTL_MS = 10 * 60_000;
/** A token naming a key the cached set lacks refetches it, at most this often (key rotation, not a DoS lever). */
const KEYS_REFRESH_MS = 30_000;
/** Concrete issuers of wildcard patterns whose keys are kept (Fulcio keeps 100 meta-issuer verifiers). */
const MAX_CACHED_ISSUERS = 100;
/**
 * Discovery and JWKS requests of the CA: shorter than a client's deadline (src/core/http.ts), so a CA whose issuer
 * hangs or drips answers 503 before the client signing through it gives up.
 */
const FETCH_TIMEOUT_MS = 10_000;
/** How long a failed discovery is remembered before the issuer is asked again. */
const FAILURE_TTL_MS = 30_000;
const MAX_DISCOVERY_BYTES = 64 * 1024;
const MAX_JWKS_BYTES = 256 * 1024;

/** An issuer's type: the configured one, else guessed from its URL (`--issuer` flags carry no type). */
export function issuerType(c: Pick<IssuerConfig, 'issuer' | 'type'>): IssuerType {
  return c.type ?? guessIssuerType(c.issuer);
}

function invalid(reason: string, cause?: unknown): VouchError {
  return new VouchError('TOKEN_INVALID', `identity token rejected: ${reason}`, cause ? { cause } : {});
}

function configError(message: string): VouchError {
  return new VouchError('CONFIG_INVALID', message);
}

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/**
 * Check one issuer's configuration (Fulcio's validateConfig rules plus vouch's transport rule); CONFIG_INVALID with
 * the reason. Returns it with its type settled.
 */
export function validateIssuer(c: IssuerConfig, allowInsecureLoopback = false): ResolvedIssuer {
  const where = `issuer ${c.issuer}`;
  if (c.wildcard && !c.issuer.includes('*')) throw configError(`${where}: a wildcard issuer needs a "*"`);
  if (!c.wildcard && c.issuer.includes('*')) throw configError(`${where}: "*" is only allowed in wildcard issuers`);
  const sample = c.issuer.replaceAll('*', 'x');
  if (!URL.canParse(sample)) throw configError(`${where}: not a URL`);
  const url = new URL(sample);
  if (url.search || url.hash || url.username || url.password) {
    throw configError(`${where}: an issuer URL has no query, fragment or user info`);
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) throw configError(`${where}: plain HTTP is refused; use https`);
    if (!allowInsecureLoopback && !c.jwks) {
      throw new VouchError('CONFIG_INVALID', `${where}: plain HTTP issuers are for tests and development only`, {
        hint: 'Set allow-insecure-loopback-issuers: true (or --allow-insecure-loopback-issuers) to accept it.',
      });
    }
  } else if (url.protocol !== 'https:') throw configError(`${where}: the scheme must be https`);
  const type = issuerType(c);
  if (!ISSUER_TYPES.includes(type)) throw configError(`${where}: unknown type ${type}`);
  if (c.issuerClaim !== undefined) {
    if (type !== 'email') throw configError(`${where}: only email issuers can take issuer-claim`);
    if (!parseClaimPath(c.issuerClaim)) throw configError(`${where}: issuer-claim must be of the form $.a.b`);
  }
  if (type === 'spiffe') {
    if (c.wildcard) throw configError(`${where}: a SPIFFE issuer cannot be a wildcard`);
    if (!c.spiffeTrustDomain || !/^[a-z0-9._-]+$/.test(c.spiffeTrustDomain)) {
      throw configError(`${where}: a spiffe issuer needs spiffe-trust-domain (lower-case letters, digits, . _ -)`);
    }
  }
  if (type === 'uri' || type === 'username') checkSubjectDomain(c, type, url, where);
  if (c.baseUrl !== undefined && !/^https?:\/\/[^/?#]+(?:\/[^?#]*[^/?#])?$/.test(c.baseUrl)) {
    throw configError(`${where}: base-url must be an http(s) URL without a trailing slash, query or fragment`);
  }
  return { ...c, type, audience: c.audience ?? 'sigstore' };
}

/**
 * Fulcio's subject-domain rules: a `uri` issuer's subject domain is a URL with the issuer's scheme, a `username`
 * issuer's a bare host name; both must share the issuer host's last two DNS labels, so an issuer can only vouch for
 * names under its own domain.
 */
function checkSubjectDomain(c: IssuerConfig, type: 'uri' | 'username', issuer: URL, where: string): void {
  const d = c.subjectDomain;
  if (!d) throw configError(`${where}: a ${type} issuer needs subject-domain`);
  let host: string;
  if (type === 'uri') {
    if (!URL.canParse(d) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(d)) {
      throw configError(`${where}: subject-domain of a uri issuer is a URL with a scheme`);
    }
    const u = new URL(d);
    if (u.protocol !== issuer.protocol) throw configError(`${where}: subject-domain and issuer schemes differ`);
    host = u.hostname;
  } else {
    if (d.includes('://') || !/^[A-Za-z0-9.-]+$/.test(d)) {
      throw configError(`${where}: subject-domain of a username issuer is a host name without a scheme`);
    }
    host = d;
  }
  if (host === issuer.hostname) return;
  const a = host.split('.');
  const b = issuer.hostname.split('.');
  if (a.length < 2 || b.length < 2 || a.at(-1) !== b.at(-1) || a.at(-2) !== b.at(-2)) {
    throw configError(`${where}: subject-domain ${d} is not under the issuer's domain`);
  }
}

interface KeySet {
  at: number;
  keys: jose.JWTVerifyGetKey;
}

export class TokenVerifier {
  private readonly exact = new Map<string, ResolvedIssuer>();
  private readonly wildcards: { pattern: RegExp; config: ResolvedIssuer }[] = [];
  private readonly clock: () => Date;
  private readonly skewSeconds: number;
  private readonly timeoutMs: number | undefined;
  private readonly allowInsecureLoopback: boolean;
  /** Keys per concrete issuer URL, oldest first (Map order), capped at MAX_CACHED_ISSUERS + the exact issuers. */
  private readonly keySets = new Map<string, KeySet>();
  /** Issuers whose discovery failed lately, oldest first, capped at MAX_CACHED_ISSUERS. */
  private readonly failures = new Map<string, { at: number; error: VouchError }>();
  /** Key sets given directly, imported once. */
  private readonly localKeys = new WeakMap<jose.JSONWebKeySet, KeySet>();
  /** One discovery at a time per issuer: concurrent first requests share it. */
  private readonly pending = new Map<string, Promise<KeySet>>();

  constructor(issuers: IssuerConfig[], options: TokenVerifierOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
    this.skewSeconds = options.skewSeconds ?? 30;
    this.timeoutMs = options.timeoutMs;
    this.allowInsecureLoopback = options.allowInsecureLoopback ?? false;
    for (const i of issuers) this.addIssuer(i);
  }

  listIssuers(): ResolvedIssuer[] {
    return [...this.exact.values(), ...this.wildcards.map((w) => w.config)];
  }

  addIssuer(c: IssuerConfig): void {
    const r = validateIssuer(c, this.allowInsecureLoopback);
    const known = this.listIssuers().some((i) => i.issuer === r.issuer && Boolean(i.wildcard) === Boolean(r.wildcard));
    if (known) throw configError(`issuer ${r.issuer} is configured twice`);
    if (r.wildcard) this.wildcards.push({ pattern: wildcardRegExp(r.issuer), config: r });
    else this.exact.set(r.issuer, r);
  }

  /** The configuration for a token's `iss`: an exact entry first, else the first wildcard (in order) it matches. */
  resolve(iss: string): ResolvedIssuer | undefined {
    const exact = this.exact.get(iss);
    if (exact) return exact;
    const w = this.wildcards.find((x) => x.pattern.test(iss));
    return w ? { ...w.config, issuer: iss, wildcard: false } : undefined;
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
    const config = typeof iss === 'string' ? this.resolve(iss) : undefined;
    if (!config) throw invalid(`issuer ${JSON.stringify(iss ?? null).slice(0, 200)} is not trusted by this CA`);
    let keys = await this.keysFor(config, false);
    for (let attempt = 0; ; attempt++) {
      try {
        const { payload } = await jose.jwtVerify(token, keys.keys, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: ALGORITHMS,
          clockTolerance: this.skewSeconds,
          currentDate: this.clock(),
          requiredClaims: ['exp', 'iat'],
        });
        if (payload.iat! > this.clock().getTime() / 1000 + this.skewSeconds) throw invalid('issued in the future');
        return { issuer: config.issuer, config, claims: payload as VerifiedToken['claims'] };
      } catch (e) {
        if (e instanceof VouchError) throw e;
        const code = (e as { code?: string }).code ?? 'ERR';
        // A key the cached set lacks may be a rotated-in one: refetch once, unless the set is fresh.
        if (
          code === 'ERR_JWKS_NO_MATCHING_KEY' &&
          attempt === 0 &&
          !config.jwks &&
          Date.now() - keys.at > KEYS_REFRESH_MS
        ) {
          keys = await this.keysFor(config, true);
          continue;
        }
        throw invalid(reasonOf(code, e), e);
      }
    }
  }

  private async keysFor(c: ResolvedIssuer, refresh: boolean): Promise<KeySet> {
    if (c.jwks) {
      let local = this.localKeys.get(c.jwks);
      if (!local) {
        local = { at: Date.now(), keys: jose.createLocalJWKSet(c.jwks) };
        this.localKeys.set(c.jwks, local);
      }
      return local;
    }
    const cached = this.keySets.get(c.issuer);
    if (cached && !refresh && Date.now() - cached.at < KEYS_TTL_MS) return cached;
    // An issuer that just failed is not asked again at once: tokens naming an unreachable (or made-up, wildcard-
    // matching) issuer must not turn each request into an outbound fetch.
    const failed = this.failures.get(c.issuer);
    if (failed && Date.now() - failed.at < FAILURE_TTL_MS) throw failed.error;
    let p = this.pending.get(c.issuer);
    if (!p) {
      p = this.discover(c.issuer).finally(() => this.pending.delete(c.issuer));
      this.pending.set(c.issuer, p);
    }
    let keys: KeySet;
    try {
      keys = await p;
    } catch (e) {
      this.failures.delete(c.issuer);
      this.failures.set(c.issuer, { at: Date.now(), error: e as VouchError });
      for (const k of this.failures.keys()) {
        if (this.failures.size <= MAX_CACHED_ISSUERS) break;
        this.failures.delete(k);
      }
      throw e;
    }
    this.failures.delete(c.issuer);
    this.keySets.delete(c.issuer);
    this.keySets.set(c.issuer, keys);
    const limit = MAX_CACHED_ISSUERS + this.exact.size;
    for (const k of this.keySets.keys()) {
      if (this.keySets.size <= limit) break;
      this.keySets.delete(k);
    }
    return keys;
  }

  /** OpenID Connect Discovery 1.0 §4: the configuration lives under the issuer URL, and its `issuer` must match. */
  private async discover(issuer: string): Promise<KeySet> {
    try {
      const doc = (await this.getJson(
        `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
        MAX_DISCOVERY_BYTES,
      )) as {
        issuer?: unknown;
        jwks_uri?: unknown;
      };
      if (doc.issuer !== issuer) throw new Error('the discovery document names another issuer');
      if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
      const jwks = (await this.getJson(doc.jwks_uri, MAX_JWKS_BYTES)) as jose.JSONWebKeySet;
      if (!Array.isArray(jwks?.keys)) throw new Error('the JWKS has no keys');
      return { at: Date.now(), keys: jose.createLocalJWKSet(jwks) };
    } catch (e) {
      throw new VouchError('SERVICE_UNAVAILABLE', `OIDC discovery failed for ${issuer}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  private async getJson(url: string, maxBytes: number): Promise<unknown> {
    if (!URL.canParse(url)) throw new Error(`not a URL: ${url.slice(0, 200)}`);
    const u = new URL(url);
    const plainOk = this.allowInsecureLoopback && isLoopbackHost(u.hostname);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && plainOk))
      throw new Error(`refusing ${u.protocol} ${u.host}`);
    // One overall deadline and a cap (src/core/http.ts): an issuer that drips its keys cannot hold the CA.
    const res = await request(u, {
      headers: { accept: 'application/json' },
      maxBytes,
      timeoutMs: timeoutMs(this.timeoutMs, FETCH_TIMEOUT_MS),
      what: `issuer ${u.host}`,
    });
    if (res.status < 200 || res.status >= 300) throw new Error(`${u.host} answered HTTP ${res.status}`);
    return JSON.parse(res.body.toString('utf8'));
  }
}

function reasonOf(code: string, e: unknown): string {
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim check failed (${(e as jose.errors.JWTClaimValidationFailed).claim})`;
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no matching key in the issuer JWKS';
    default:
      return `invalid (${code})`;
  }
}
