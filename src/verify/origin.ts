/**
 * Where a bundle says it comes from, read from its certificate without trusting it: the signer it claims and the
 * `vouch serve` instance whose CA seems to have issued it. Used to tell a person what to do when no trusted root
 * names the bundle (the verifier's hint) and by `vouch inspect` (src/workflow/bundle-claims.ts); never to decide trust.
 */
import { X509Certificate } from 'node:crypto';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../core/localdev.ts';
import { type Certificate, fulcioExtensions, parseCertificate } from '../core/x509.ts';
import { isVouchError } from '../errors.ts';
import type { Bundle } from './bundle.ts';
import type { TrustMaterial } from './trust.ts';

/** The signer a bundle claims: its certificate's identity, issuer and extensions, or the key hint. */
export type ClaimedSigner =
  | {
      type: 'certificate';
      identity?: string;
      issuer?: string;
      extensions: Record<string, string>;
      /** The CA named as the certificate's issuer (distinguished name). */
      certificateIssuer: string;
      notBefore: string;
      notAfter: string;
      /** The CA marks itself as a local development CA (src/core/localdev.ts). */
      localDevelopment?: true;
      /** The certificate could not be read; what is wrong with it. */
      problem?: string;
    }
  | { type: 'key'; hint?: string };

/** A trusted root with the name the trust store knows it by. */
export interface NamedTrust {
  name: string;
  trust: TrustMaterial;
}

export function leafOf(b: Bundle): Certificate | undefined {
  // Stryker disable next-line ConditionalExpression: a key-pair bundle has no certificates: parsing the missing first one throws, and the catch below returns undefined too
  if (b.material.kind !== 'certificate') return undefined;
  try {
    return parseCertificate(b.material.certificates[0]!);
  } catch /* Stryker disable next-line BlockStatement: without the return the function ends, returning undefined all the same */ {
    return undefined;
  }
}

export function describeSigner(b: Bundle): ClaimedSigner {
  if (b.material.kind === 'publicKey') {
    return b.material.hint ? { type: 'key', hint: b.material.hint } : { type: 'key' };
  }
  const der = b.material.certificates[0]!;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return {
      type: 'certificate',
      extensions: {},
      certificateIssuer: '',
      notBefore: '',
      notAfter: '',
      problem: 'the certificate does not parse',
    };
  }
  const signer: Extract<ClaimedSigner, { type: 'certificate' }> = {
    type: 'certificate',
    extensions: {},
    certificateIssuer: x509.issuer.replace(/\n/g, ', '),
    notBefore: new Date(x509.validFromDate).toISOString(),
    notAfter: new Date(x509.validToDate).toISOString(),
  };
  if (x509.issuer.split('\n').includes(`O=${LOCAL_DEVELOPMENT_ORGANIZATION}`)) signer.localDevelopment = true;
  try {
    const leaf = parseCertificate(der);
    const name = leaf.san.find((s) => s.type === 'email' || s.type === 'uri' || s.type === 'username');
    if (name) signer.identity = name.value;
    const { issuer, extensions } = fulcioExtensions(leaf);
    signer.extensions = extensions;
    if (issuer !== undefined) signer.issuer = issuer;
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: parseCertificate and fulcioExtensions report malformed input as VouchErrors; anything else is a bug, which the rethrow keeps from being shown as a problem of the certificate, and no input reaches it
    if (!isVouchError(e)) throw e;
    signer.problem = e.message;
  }
  return signer;
}

export function instanceOf(
  signer: ClaimedSigner,
  leaf: Certificate | undefined,
  roots: readonly NamedTrust[],
): string | undefined {
  if (leaf === undefined || signer.type !== 'certificate') return undefined;
  for (const r of roots) {
    const ca = r.trust.certificateAuthorities.find((c) => c.certificates[0]!.subject.equals(leaf.issuer));
    // A `vouch serve` CA is at `<base>/ca`; another CA's URI names no vouch instance.
    if (ca?.uri && /\/ca\/?$/.test(ca.uri)) return ca.uri.replace(/\/ca\/?$/, '');
  }
  // A CA of a `vouch serve` (O=vouch, or its local development intermediate) certifies its own development issuer,
  // `<base>/oidc`: that base is the instance.
  const vouchCa = /^O=vouch( local development)?$/m.test(signer.certificateIssuer.replace(/, /g, '\n'));
  const m = /^(https?:\/\/[^/?#]+(?:\/[^?#]*)?)\/oidc\/?$/.exec(signer.issuer ?? '');
  return vouchCa && m ? m[1] : undefined;
}

/**
 * The hint for a bundle that no trusted root names (TRUST_ROOT_MISMATCH, or CHAIN_INVALID for a CA of no root): the
 * instance it seems to come from and the two ways to trust it. Only claims of the bundle are used: the hint says
 * where to look, never what to trust.
 */
export function untrustedBundleHint(b: Bundle): string {
  const leaf = leafOf(b);
  const signer = describeSigner(b);
  const instance = instanceOf(signer, leaf, []);
  const either = 'then verify again, or pass --trusted-root FILE to verify against that root alone';
  if (instance !== undefined) {
    let loopback = false;
    try {
      const host = new URL(instance).hostname;
      loopback = host === 'localhost' || host === '[::1]' || /^127\./.test(host);
    } catch {
      // a base we built from a URL: it parses
    }
    if (loopback) {
      return `The bundle comes from a vouch instance on the signer's machine (${instance}): import its trusted root with \`vouch trust import ${instance} --name NAME\` where it can be reached, or ask the signer for it (\`vouch trust export embedded\`, or DATA/trusted_root.json of \`vouch serve\`) and \`vouch trust import FILE --name NAME\`; ${either}.`;
    }
    return `The bundle comes from the vouch instance at ${instance}, whose trusted root you have not imported: \`vouch trust import ${instance} --name NAME\`; ${either}.`;
  }
  // Stryker disable next-line ConditionalExpression: a key signer has no issuer property, so signer.issuer is undefined there too; the type test narrows the union for TypeScript
  const issuer = signer.type === 'certificate' && signer.issuer ? ` (its identity issuer: ${signer.issuer})` : '';
  return `None of your trusted roots names the log or CA of this bundle${issuer}. Import the trusted root of the instance that signed it: \`vouch trust import URL|FILE --name NAME\`; ${either}. \`vouch inspect BUNDLE\` shows what the bundle names.`;
}
