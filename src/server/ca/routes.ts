/** Fulcio v2 REST routes over a CertificateAuthority. */

import { challengeClaimOf } from '../../core/identity-map.ts';
import { asObject } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { jsonBody, type Route } from '../routes.ts';
import type { CertificateAuthority, KeyProof } from './ca.ts';
import type { ResolvedIssuer } from './oidc.ts';

const MAX_CSR_BODY = 64 * 1024;

export function caRoutes(ca: CertificateAuthority): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/api/v2/signingCert',
      handler: async (req) => {
        const body = jsonBody(req, MAX_CSR_BODY);
        const R = 'REQUEST_INVALID' as const;
        const credentials = asObject(body.credentials, 'credentials', R);
        // `publicKeyRequest` and `certificateSigningRequest` are one protobuf oneof: exactly one of them.
        const csr = body.certificateSigningRequest;
        if ((csr === undefined) === (body.publicKeyRequest === undefined)) {
          throw new VouchError(R, 'send exactly one of publicKeyRequest and certificateSigningRequest');
        }
        let proof: KeyProof;
        if (csr !== undefined) proof = { kind: 'csr', csr };
        else {
          const pkr = asObject(body.publicKeyRequest, 'publicKeyRequest', R);
          const publicKey = asObject(pkr.publicKey, 'publicKeyRequest.publicKey', R);
          proof = { kind: 'publicKey', publicKeyPem: publicKey.content, proofOfPossession: pkr.proofOfPossession };
        }
        // issue() checks the token before anything else: an unauthenticated caller gets 401, never a 400 hint.
        const issued = await ca.issue(credentials.oidcIdentityToken, proof);
        // Fulcio answers a detached-SCT response without an SCT when it logs to no CT log.
        return { status: 201, body: { signedCertificateDetachedSct: { chain: { certificates: issued.chain } } } };
      },
    },
    {
      method: 'GET',
      pattern: '/api/v2/trustBundle',
      handler: () => ({
        status: 200,
        body: { chains: ca.chainsPem().map((certificates) => ({ certificates })) },
      }),
    },
    {
      method: 'GET',
      pattern: '/api/v2/configuration',
      handler: () => ({ status: 200, body: { issuers: ca.tokens.listIssuers().map(configurationEntry) } }),
    },
  ];
}

/**
 * One issuer as Fulcio's GET /api/v2/configuration lists it (fulcio.proto OIDCIssuer in protobuf JSON: camelCase,
 * fields at their default value left out), plus every setting of the claim mapping (type, subject domain, email
 * verification, issuer claim, base URL): with them a client maps a token exactly as this CA will
 * (src/instance/ca-issuers.ts), so `vouch whoami` names the certificate's identity before signing.
 */
function configurationEntry(i: ResolvedIssuer): Record<string, unknown> {
  const entry: Record<string, unknown> = i.wildcard ? { wildcardIssuerUrl: i.issuer } : { issuerUrl: i.issuer };
  entry.audience = i.audience;
  entry.challengeClaim = challengeClaimOf(i);
  if (i.spiffeTrustDomain) entry.spiffeTrustDomain = i.spiffeTrustDomain;
  entry.issuerType = i.type;
  if (i.subjectDomain) entry.subjectDomain = i.subjectDomain;
  if (i.skipEmailVerification) entry.skipEmailVerification = true;
  if (i.issuerClaim) entry.issuerClaim = i.issuerClaim;
  if (i.baseUrl) entry.baseUrl = i.baseUrl;
  return entry;
}
