/** Fulcio v2 REST routes over a CertificateAuthority. */
import { asObject } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { jsonBody, type Route } from '../routes.ts';
import type { CertificateAuthority } from './ca.ts';

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
        if (body.certificateSigningRequest !== undefined) {
          throw new VouchError(R, 'certificateSigningRequest is not supported; send publicKeyRequest');
        }
        const pkr = asObject(body.publicKeyRequest, 'publicKeyRequest', R);
        const publicKey = asObject(pkr.publicKey, 'publicKeyRequest.publicKey', R);
        // issue() checks the token before anything else: an unauthenticated caller gets 401, never a 400 hint.
        const issued = await ca.issue(credentials.oidcIdentityToken, publicKey.content, pkr.proofOfPossession);
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
      handler: () => ({
        status: 200,
        body: {
          issuers: ca.tokens.listIssuers().map((i) => ({
            issuerUrl: i.issuer,
            audience: i.audience ?? 'sigstore',
            challengeClaim: i.type === 'email' || i.type === undefined ? 'email' : 'sub',
          })),
        },
      }),
    },
  ];
}
