/**
 * How a trusted root says "local development" so that the mark travels with the root (issue 10 item 7): a vouch
 * stack lists the certificate authority that certifies its development issuer's identities with this organization
 * in the authority's `subject` (protobuf-specs CertificateAuthority.subject, a DistinguishedName). The embedded
 * instance marks every CA of its root; `vouch serve` marks the separate intermediate that certifies its own `/oidc`
 * issuer's identities (whose certificate carries the organization too). `trust export`/`trust import` copy the root byte
 * for byte and `--trusted-root` reads it as is, so every verifier, on any machine, sees the mark.
 *
 * Such an issuer mints a token for whoever asks, and the CA key sits in a data folder: a local development CA is
 * trusted for nothing but identities of its own development issuer, and those are always reported as local
 * development identities.
 */

/** The organization of a local development certificate authority, in the trusted root and in its certificate. */
export const LOCAL_DEVELOPMENT_ORGANIZATION = 'vouch local development';

/**
 * Whether `issuer` is the development issuer of the stack whose CA is at `caUri`: a stack serves both from one base
 * URL (`<base>/ca`, `<base>/oidc`). The port is not compared: the embedded instance runs on the port that is free,
 * so its issuer's port changes from one run to the next while its root names the CA at one of them.
 */
export function isOwnDevelopmentIssuer(caUri: string, issuer: string): boolean {
  let ca: URL;
  let iss: URL;
  try {
    ca = new URL(caUri);
    iss = new URL(issuer);
  } catch {
    return false;
  }
  return (
    (iss.protocol === 'http:' || iss.protocol === 'https:') &&
    iss.protocol === ca.protocol &&
    iss.hostname === ca.hostname &&
    iss.pathname.replace(/\/+$/, '') === ca.pathname.replace(/\/+$/, '').replace(/\/ca$/, '/oidc') &&
    iss.search === '' &&
    iss.hash === '' &&
    iss.username === '' &&
    iss.password === ''
  );
}
