/**
 * What an instance's CA will write in a certificate for a token, worked out before asking it, so `vouch whoami` shows
 * the identity, issuer and extensions the certificate will carry rather than a guess. A `vouch serve` lists its
 * issuers at the CA's `GET /api/v2/configuration` (Fulcio's listing, plus each issuer's type and mapping settings);
 * the issuer is resolved as the CA resolves it (an exact entry first, else the first wildcard pattern that matches
 * the whole URL), the audience is checked as the CA checks it, and the claims go through the CA's own mapping
 * (core/identity-map.ts). Instances that list no types (public Sigstore's Fulcio) or that have no CA to ask before a
 * session starts (the embedded stack, which certifies only its own email-type issuer) get the type guessed from the
 * issuer URL, as `vouch serve --issuer` guesses it.
 */

import { fetchJson } from '../core/http.ts';
import {
  type CertificateIdentity,
  guessIssuerType,
  type IdentityRules,
  ISSUER_TYPES,
  type IssuerType,
  mapIdentity,
  wildcardRegExp,
} from '../core/identity-map.ts';
import { asArray, asObject, optString } from '../core/json.ts';
import { VouchError } from '../errors.ts';
import { SIGSTORE_AUDIENCE } from '../identity/provider.ts';
import { certificateIssuer, type IdentityClaims, proofSubject } from '../identity/token.ts';
import type { Instance } from './instance.ts';

/** One issuer of a CA's listing. */
export interface ListedIssuer {
  /** The issuer URL, or with `wildcard` the pattern (each `*` one run of [-_a-zA-Z0-9]). */
  issuer: string;
  wildcard: boolean;
  audience: string;
  /** The mapping settings; `type` absent when the CA does not say (Fulcio lists no types). */
  rules: Omit<IdentityRules, 'type'> & { type?: IssuerType };
}

const MAX_LISTING_BYTES = 1 << 20;
const MAX_ISSUERS = 10_000;

/** Read a CA's `GET /api/v2/configuration` answer; anything malformed is the service's error. */
export function parseIssuerListing(body: unknown, what: string): ListedIssuer[] {
  const E = 'SERVICE_ERROR' as const;
  const list = asArray(asObject(body, what, E).issuers ?? [], `${what}: issuers`, E);
  if (list.length > MAX_ISSUERS) throw new VouchError(E, `${what} lists more than ${MAX_ISSUERS} issuers`);
  return list.map((raw, n) => {
    const at = `${what}: issuers[${n}]`;
    const o = asObject(raw, at, E);
    const url = optString(o.issuerUrl, `${at}.issuerUrl`, E);
    const pattern = optString(o.wildcardIssuerUrl, `${at}.wildcardIssuerUrl`, E);
    if ((url === undefined) === (pattern === undefined)) {
      throw new VouchError(E, `${at} must have exactly one of issuerUrl and wildcardIssuerUrl`);
    }
    const type = optString(o.issuerType, `${at}.issuerType`, E);
    if (type !== undefined && !(ISSUER_TYPES as readonly string[]).includes(type)) {
      throw new VouchError(E, `${at}: unknown issuer type ${JSON.stringify(type.slice(0, 40))}`);
    }
    const rules: ListedIssuer['rules'] = {};
    if (type !== undefined) rules.type = type as IssuerType;
    const text: [keyof Omit<IdentityRules, 'type' | 'skipEmailVerification'>, string][] = [
      ['subjectDomain', 'subjectDomain'],
      ['spiffeTrustDomain', 'spiffeTrustDomain'],
      ['issuerClaim', 'issuerClaim'],
      ['challengeClaim', 'challengeClaim'],
      ['baseUrl', 'baseUrl'],
    ];
    for (const [key, field] of text) {
      const v = optString(o[field], `${at}.${field}`, E);
      if (v !== undefined && v !== '') rules[key] = v;
    }
    if (o.skipEmailVerification === true) rules.skipEmailVerification = true;
    return {
      issuer: (url ?? pattern)!,
      wildcard: pattern !== undefined,
      audience: optString(o.audience, `${at}.audience`, E) || SIGSTORE_AUDIENCE,
      rules,
    };
  });
}

/** The listed issuer a token's `iss` falls under, as the CA picks it: an exact entry first, else the first pattern. */
export function resolveListedIssuer(issuers: ListedIssuer[], iss: string): ListedIssuer | undefined {
  return (
    issuers.find((i) => !i.wildcard && i.issuer === iss) ??
    issuers.find((i) => i.wildcard && wildcardRegExp(i.issuer).test(iss))
  );
}

/**
 * The certificate identity the instance's CA will issue for these (decoded, unverified) claims. TOKEN_INVALID when
 * that CA lists its issuers and would refuse the token (issuer not listed, wrong audience, a claim the type needs
 * missing), so `whoami` fails where signing would.
 */
export async function expectedCertificate(
  instance: Pick<Instance, 'kind' | 'name' | 'services'> | undefined,
  claims: IdentityClaims,
  options: { timeoutMs?: number } = {},
): Promise<CertificateIdentity> {
  if (instance?.kind !== 'remote') return guessed(claims);
  const what = `the CA of ${instance.name}`;
  const body = await fetchJson(`${instance.services.ca.replace(/\/+$/, '')}/api/v2/configuration`, what, {
    maxBytes: MAX_LISTING_BYTES,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const listed = resolveListedIssuer(parseIssuerListing(body, what), claims.issuer);
  if (listed === undefined) {
    throw new VouchError('TOKEN_INVALID', `${what} does not accept tokens of ${claims.issuer.slice(0, 200)}`, {
      hint: `Its accepted issuers are listed at ${instance.services.ca}/api/v2/configuration; the operator adds one to \`vouch serve --config\`.`,
    });
  }
  if (listed.rules.type === undefined) return guessed(claims);
  if (!claims.audience.includes(listed.audience)) {
    throw new VouchError(
      'TOKEN_INVALID',
      `${what} wants tokens of ${claims.issuer.slice(0, 200)} for audience ${listed.audience}, this one is for ${claims.audience.join(', ').slice(0, 200)}`,
      { hint: `Ask the provider for audience ${listed.audience} (--identity-audience).` },
    );
  }
  return mapIdentity(claims.issuer, claims.raw, { ...listed.rules, type: listed.rules.type });
}

/**
 * Without a listing: the type guessed from the issuer URL, and public Sigstore's Dex read as Fulcio reads it (the
 * upstream connector is the certificate's issuer). A token the guessed type cannot map is shown by the principal
 * the proof of possession names, without extensions.
 */
function guessed(claims: IdentityClaims): CertificateIdentity {
  const type = guessIssuerType(claims.issuer);
  const federated = certificateIssuer(claims) !== claims.issuer;
  try {
    return mapIdentity(claims.issuer, claims.raw, {
      type,
      ...(federated ? { issuerClaim: '$.federated_claims.connector_id' } : {}),
    });
  } catch {
    const principal = proofSubject(claims);
    return {
      san: { type: principal === claims.email ? 'email' : 'uri', value: principal },
      challenge: principal,
      issuer: certificateIssuer(claims),
      extensions: [],
    };
  }
}
