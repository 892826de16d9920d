/**
 * Reading an OIDC identity token (a JWT, RFC 7519) without trusting it. The signer never verifies the token's
 * signature: the CA does that. We only decode the claims to tell the user who will sign, to pick the value the
 * proof of possession signs, and to fail early (exit 2) on a token that is garbled or already expired instead of
 * sending it to the CA.
 */
import { decodeBase64Url } from '../core/encoding.ts';
import { asObject, parseStrictJson } from '../core/json.ts';
import { VouchError } from '../errors.ts';

/** A JWT bigger than this is not an identity token (real ones are 1-2 KB). */
const MAX_TOKEN_BYTES = 16 * 1024;
/** Tolerated clock difference with the issuer when checking `exp` and `nbf`, in seconds. */
const CLOCK_SKEW_S = 60;

/** The claims vouch uses, decoded but NOT verified. */
export interface IdentityClaims {
  issuer: string;
  subject: string;
  email?: string;
  audience: string[];
  /** Expiry (`exp`), when the token has one. */
  expiresAt?: Date;
  /** All claims, for display (`--json`). */
  raw: Record<string, unknown>;
}

/** Decode a compact JWS (header.payload.signature) and check its shape and validity window. */
export function decodeIdentityToken(token: string, now: Date = new Date()): IdentityClaims {
  if (typeof token !== 'string' || token.length === 0) throw invalid('the identity token is empty');
  if (token.length > MAX_TOKEN_BYTES) throw invalid(`the identity token is larger than ${MAX_TOKEN_BYTES} bytes`);
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw invalid('the identity token is not a JWT (header.payload.signature)');
  const [h, p, s] = parts as [string, string, string];
  if (s.length === 0) throw invalid('the identity token is unsigned');
  const header = asObject(parseJsonPart(h, 'header'), 'JWT header', 'TOKEN_INVALID');
  // "none" is never a valid algorithm for an identity token (RFC 8725 section 3.1): refuse it before the CA does.
  if (typeof header.alg !== 'string' || header.alg === 'none') throw invalid('the identity token has no algorithm');
  const raw = asObject(parseJsonPart(p, 'payload'), 'JWT claims', 'TOKEN_INVALID');

  const issuer = raw.iss;
  const subject = raw.sub;
  if (typeof issuer !== 'string' || issuer === '') throw invalid('the identity token has no issuer (iss)');
  if (typeof subject !== 'string' || subject === '') throw invalid('the identity token has no subject (sub)');
  const audience = typeof raw.aud === 'string' ? [raw.aud] : raw.aud;
  if (!Array.isArray(audience) || !audience.every((a) => typeof a === 'string')) {
    throw invalid('the identity token has no audience (aud)');
  }
  const claims: IdentityClaims = { issuer, subject, audience, raw };
  if (raw.email !== undefined) {
    if (typeof raw.email !== 'string') throw invalid('the email claim is not a string');
    claims.email = raw.email;
  }
  const nowS = now.getTime() / 1000;
  if (raw.exp !== undefined) {
    if (typeof raw.exp !== 'number' || !Number.isFinite(raw.exp)) throw invalid('exp is not a number');
    claims.expiresAt = new Date(raw.exp * 1000);
    if (raw.exp + CLOCK_SKEW_S < nowS) {
      throw invalid(`the identity token expired at ${claims.expiresAt.toISOString()}`, 'Get a fresh token.');
    }
  }
  if (raw.nbf !== undefined) {
    if (typeof raw.nbf !== 'number' || !Number.isFinite(raw.nbf)) throw invalid('nbf is not a number');
    if (raw.nbf - CLOCK_SKEW_S > nowS) throw invalid('the identity token is not valid yet (nbf)');
  }
  return claims;
}

/**
 * The value the proof of possession signs. Fulcio checks a signature over the principal's name: the email address
 * for email identities, the `sub` claim for every other kind (Fulcio v2 API, CreateSigningCertificateRequest
 * `proof_of_possession`). A token with a verified `email` claim is an email identity.
 */
export function proofSubject(claims: IdentityClaims): string {
  if (claims.email !== undefined && claims.raw.email_verified !== false) return claims.email;
  return claims.subject;
}

/** What the certificate will name as the signer, to show before signing. */
export function displayIdentity(claims: IdentityClaims): string {
  return proofSubject(claims);
}

function parseJsonPart(part: string, what: string): unknown {
  const bytes = decodeBase64Url(part, `JWT ${what}`, 'TOKEN_INVALID');
  return parseStrictJson(bytes.toString('utf8'), { code: 'TOKEN_INVALID', what: `JWT ${what}`, maxDepth: 16 });
}

function invalid(message: string, hint?: string): VouchError {
  return new VouchError('TOKEN_INVALID', message, hint === undefined ? {} : { hint });
}

/**
 * Sigstore's public Dex federates GitHub, Google and Microsoft; the public CA writes the upstream connector
 * (`federated_claims.connector_id`, e.g. https://github.com/login/oauth) as the certificate's issuer, not the Dex URL
 * (Fulcio config `issuer-claim: $.federated_claims.connector_id`). Verifiers must use that value.
 */
const SIGSTORE_DEX = new Set(['https://oauth2.sigstore.dev/auth', 'https://oauth2.sigstage.dev/auth']);

/** The OIDC issuer the certificate will name for this token (what `--certificate-oidc-issuer` must say). */
export function certificateIssuer(claims: IdentityClaims): string {
  if (SIGSTORE_DEX.has(claims.issuer)) {
    const federated = claims.raw.federated_claims as { connector_id?: unknown } | undefined;
    if (typeof federated?.connector_id === 'string' && /^https:\/\//.test(federated.connector_id)) {
      return federated.connector_id;
    }
  }
  return claims.issuer;
}
