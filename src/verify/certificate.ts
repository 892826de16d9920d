/**
 * The checks of a keyless bundle's certificate once its signature and trusted times are known: issued by a CA of
 * the trusted root valid at those times (with the CA flag and keyCertSign), carrying an SCT from a trusted CT log,
 * and naming an identity the policy accepts.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { isOwnDevelopmentIssuer } from '../core/localdev.ts';
import { type Certificate, embeddedScts, fulcioExtensions, isIssuedBy, sctSignedData } from '../core/x509.ts';
import { VouchError } from '../errors.ts';
import { matches } from './policy.ts';
import { type CertificateAuthority, ensureChain, type TrustMaterial, validAt } from './trust.ts';
import type { Policy, VerificationResult } from './types.ts';

const caChecked = new WeakMap<CertificateAuthority, boolean>();

export function findIssuer(
  leaf: Certificate,
  cas: readonly CertificateAuthority[],
  times: number[],
): CertificateAuthority {
  // Validity is checked at each trusted time; with none, `every` below would be vacuously true.
  // Stryker disable next-line ConditionalExpression,CallExpression: each of the three no-time checks stands in for the others (kept against a reordering)
  if (times.length === 0) throw new VouchError('TIMESTAMP_MISSING', 'no verified signing time');
  // Stryker disable next-line BooleanLiteral: only chooses between two messages of the same error
  let nameMatched = false;
  for (const ca of cas) {
    const issuing = ca.certificates[0]!;
    // Stryker disable next-line ConditionalExpression,BlockStatement: isIssuedBy compares the names too; this only tells "no CA of that name" from "none valid"
    if (!leaf.issuer.equals(issuing.subject)) continue;
    // Stryker disable next-line BooleanLiteral: only chooses between two messages of the same error
    nameMatched = true;
    let ok = caChecked.get(ca);
    // Stryker disable next-line ConditionalExpression: a cache; computing the value again gives the same one
    if (ok === undefined) {
      ok = issuing.isCA && ((issuing.keyUsage ?? 0) & (1 << 5)) !== 0;
      // Stryker disable next-line CallExpression: a cache; computing the value again gives the same one
      caChecked.set(ca, ok);
    }
    if (!ok) continue;
    if (!isIssuedBy(leaf, issuing, ca.keys[0]!)) continue;
    ensureChain(ca);
    const valid = times.every(
      (t) => t >= ca.start && t <= ca.end && ca.certificates.every((c) => t >= c.notBefore && t <= c.notAfter),
    );
    if (valid) return ca;
  }
  throw new VouchError(
    'CHAIN_INVALID',
    nameMatched
      ? 'the certificate was not issued by a trusted CA valid at the signing time'
      : 'the certificate issuer is not a trusted CA',
  );
}

/** At least one embedded SCT from a CT log of the trusted root must verify (RFC 6962 §3.2; Fulcio embeds them). */
export function checkScts(leaf: Certificate, issuer: Certificate, trust: TrustMaterial): void {
  for (const sct of embeddedScts(leaf)) {
    // The index never holds an empty list (indexLogs): a listed ID has at least one log.
    const logs = trust.ctlogById.get(sct.logId.toString('hex'));
    if (!logs || !validAt(logs, Number(sct.timestamp))) continue;
    const log = logs[0]!;
    try {
      if (cryptoVerify(log.hash, sctSignedData(leaf, issuer.spki, sct), log.key, sct.signature)) return;
    } catch {
      // A malformed signature is just one that does not verify.
    }
  }
  throw new VouchError('SCT_INVALID', 'no embedded SCT verifies with a trusted CT log');
}

export function checkIdentity(
  leaf: Certificate,
  policy: Policy,
  trust: TrustMaterial,
  ca: CertificateAuthority,
): VerificationResult['signer'] {
  const { issuer, extensions } = fulcioExtensions(leaf);
  if (issuer === undefined) throw new VouchError('ISSUER_MISMATCH', 'the certificate names no OIDC issuer');
  // A local development CA (marked in the trusted root, wherever it was copied to, or a store's embedded root),
  // whose key sits in a data folder, vouches only for identities of its own development issuer: never for a
  // GitHub, Google or any other real issuer's identity (src/core/localdev.ts).
  const localCa = ca.localDevelopment || trust.localDevelopment;
  if (localCa && !trust.localIssuers.includes(issuer) && !isOwnDevelopmentIssuer(ca.uri, issuer)) {
    throw new VouchError(
      'TRUST_ROOT_MISMATCH',
      `a local development root certifies only its own issuer, not ${issuer}`,
    );
  }
  // Fulcio certifies exactly one name. With several, verifiers that read a different one (sigstore-js reads the
  // first URI, else the first e-mail) would disagree on who signed: refuse rather than pick.
  if (leaf.san.length > 1) {
    throw new VouchError('CERTIFICATE_INVALID', `the certificate names ${leaf.san.length} subjects, not one`);
  }
  const names = leaf.san.filter((s) => s.type === 'email' || s.type === 'uri' || s.type === 'username');
  if (names.length === 0) throw new VouchError('IDENTITY_MISMATCH', 'the certificate has no identity');
  let subjectSeen = false;
  // Stryker disable next-line ArrayDeclaration: a keyless bundle reaches here only under a policy of identities (checkPolicy; keys are refused first)
  for (const id of policy.identities ?? []) {
    const name = names.find((n) => matches(id.subject, n.value));
    if (!name) continue;
    subjectSeen = true;
    if (!matches(id.issuer, issuer)) continue;
    const signer: VerificationResult['signer'] = { type: 'certificate', identity: name.value, issuer, extensions };
    if (localCa || trust.localIssuers.includes(issuer)) signer.localDevelopmentIdentity = true;
    return signer;
  }
  if (subjectSeen) throw new VouchError('ISSUER_MISMATCH', `the identity was issued by ${issuer}`);
  // Regular expressions match the whole identity (policy.ts anchors them): `acme/app` does not match a longer name.
  const anchored = (policy.identities ?? []).some((id) => 'regexp' in id.subject);
  throw new VouchError(
    'IDENTITY_MISMATCH',
    `the bundle was signed by ${names[0]!.value}`,
    anchored
      ? {
          hint: 'The bundle was signed by another identity than the one required. Identity regular expressions are anchored: they must match the whole identity (add .* where any text may follow).',
        }
      : {},
  );
}
