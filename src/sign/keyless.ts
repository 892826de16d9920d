/**
 * Keyless signing (Sigstore client spec, "Signing"): a fresh key pair lives only in memory for one signing session;
 * the CA certifies it for the identity in an OIDC token, after a proof of possession (a signature by that key over
 * the token's principal name); the signature is then witnessed by the transparency log and the timestamp authority,
 * which is what lets anyone check later that the signature was made while the short-lived certificate was valid.
 *
 * `CertificateSigner` decorates the ephemeral `KeyPairSigner`: same signatures, but the key material it returns is
 * the certificate instead of the bare public key. The certificate is requested once, on first use, and shared by
 * every signature of the session.
 */

import { type Certificate, fulcioExtensions, parseCertificate } from '../core/x509.ts';
import { VouchError } from '../errors.ts';
import type { IdentityProvider } from '../identity/providers.ts';
import { decodeIdentityToken, type IdentityClaims, proofSubject } from '../identity/token.ts';
import type { SigningContext, Witness } from './bundle.ts';
import type { CertificateAuthority, IssuedCertificate } from './fulcio.ts';
import type { KeyType } from './keys.ts';
import { KeyPairSigner, type Signature, type Signer, type SignPayload } from './signer.ts';
import { RekorV1Witness, Rfc3161Witness } from './witnesses.ts';

/** Milliseconds spent in each service call of a session (for `--json` and the benchmark). */
export interface KeylessTimings {
  token?: number;
  ca?: number;
  tlog?: number;
  tsa?: number;
}

/** Who the certificate says signed: read from the certificate the CA issued, not from the token we sent. */
export interface CertifiedIdentity {
  /** Subject alternative name: email address or URI (e.g. a GitHub workflow URI). */
  identity: string;
  /** OIDC issuer from the Fulcio issuer extension (OID 1.3.6.1.4.1.57264.1.8, or the legacy .1.1). */
  issuer: string;
  /** Every Fulcio extension of the certificate, by name (src/core/x509.ts), as a verifier's policy reads them. */
  extensions: Record<string, string>;
  /** Claims of the token that was exchanged (unverified; for display). */
  claims: IdentityClaims;
  certificate: IssuedCertificate;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateSignerOptions {
  identity: IdentityProvider;
  ca: CertificateAuthority;
  /** The key to certify; default a fresh in-memory ECDSA P-256 key. */
  key?: KeyPairSigner;
  timings?: KeylessTimings;
  now?: () => Date;
}

export class CertificateSigner implements Signer {
  readonly keyType: KeyType;
  readonly timings: KeylessTimings;
  readonly #key: KeyPairSigner;
  readonly #identity: IdentityProvider;
  readonly #ca: CertificateAuthority;
  readonly #now: () => Date;
  #certified: Promise<CertifiedIdentity> | undefined;
  #result: CertifiedIdentity | undefined;

  constructor(options: CertificateSignerOptions) {
    this.#key = options.key ?? KeyPairSigner.ephemeral('ecdsa-p256');
    this.keyType = this.#key.keyType;
    this.#identity = options.identity;
    this.#ca = options.ca;
    this.timings = options.timings ?? {};
    this.#now = options.now ?? (() => new Date());
  }

  /** Get the certificate (once per signer). Errors: TOKEN_INVALID, SERVICE_UNAVAILABLE, SERVICE_ERROR. */
  certify(): Promise<CertifiedIdentity> {
    this.#certified ??= this.#requestCertificate().then((r) => {
      this.#result = r;
      return r;
    });
    return this.#certified;
  }

  async sign(payload: SignPayload): Promise<Signature> {
    const certified = await this.certify();
    const now = this.#now();
    // A signature made outside the certificate's window would never verify; refuse rather than publish it.
    if (now < certified.notBefore || now > certified.notAfter) {
      throw new VouchError('CERTIFICATE_INVALID', 'the signing certificate is not valid now; sign again');
    }
    const signature = await this.#key.sign(payload);
    return {
      signature: signature.signature,
      key: { $case: 'x509Certificate', certificate: certified.certificate.chain[0]! },
    };
  }

  /** What the sign workflow reports as the signer (called after signing). */
  summary(): { type: 'certificate'; identity: string; issuer: string } {
    if (!this.#result) throw new VouchError('INTERNAL', 'summary() before the certificate was issued');
    return { type: 'certificate', identity: this.#result.identity, issuer: this.#result.issuer };
  }

  get certified(): CertifiedIdentity | undefined {
    return this.#result;
  }

  async #requestCertificate(): Promise<CertifiedIdentity> {
    let t = performance.now();
    const token = await this.#identity.getToken();
    this.timings.token = performance.now() - t;
    const claims = decodeIdentityToken(token, this.#now());
    // Proof of possession: the key signs the principal name the CA will bind to it (Fulcio v2 API).
    const proof = await this.#key.sign({ message: Buffer.from(proofSubject(claims), 'utf8') });
    t = performance.now();
    const certificate = await this.#ca.createSigningCertificate({
      identityToken: token,
      publicKeyPem: this.#key.publicKeyPem,
      proofOfPossession: proof.signature,
    });
    this.timings.ca = performance.now() - t;
    return { ...readIdentity(certificate), claims, certificate };
  }
}

/**
 * Read the signer identity and issuer the CA wrote into the certificate (Fulcio certificate specification), with
 * the verifier's X.509 parser, so what `vouch sign` reports is exactly what `vouch verify` will read.
 */
export function readIdentity(certificate: IssuedCertificate): Omit<CertifiedIdentity, 'claims' | 'certificate'> {
  let cert: Certificate;
  let issuer: string | undefined;
  let extensions: Record<string, string>;
  try {
    cert = parseCertificate(certificate.leaf.raw, 'SERVICE_ERROR');
    ({ issuer, extensions } = fulcioExtensions(cert));
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', 'the certificate authority answered an unreadable certificate', { cause: e });
  }
  const name = cert.san.find((n) => n.type === 'email' || n.type === 'uri' || n.type === 'username');
  if (!name) throw new VouchError('SERVICE_ERROR', 'the certificate names no email, URI or username identity');
  if (issuer === undefined) throw new VouchError('SERVICE_ERROR', 'the certificate names no OIDC issuer');
  return {
    identity: name.value,
    issuer,
    extensions,
    notBefore: new Date(cert.notBefore),
    notAfter: new Date(cert.notAfter),
  };
}

/** Times a witness (for `--json` timings and the benchmark); failures pass through with their vouch codes. */
export class TimedWitness implements Witness {
  readonly #inner: Witness;
  readonly #record: (ms: number) => void;
  constructor(inner: Witness, record: (ms: number) => void) {
    this.#inner = inner;
    this.#record = record;
  }
  async testify(...args: Parameters<Witness['testify']>): ReturnType<Witness['testify']> {
    const t = performance.now();
    try {
      return await this.#inner.testify(...args);
    } finally {
      this.#record(performance.now() - t);
    }
  }
}

export interface KeylessServices {
  /** CA client (FulcioClient) for the instance. */
  ca: CertificateAuthority;
  /** Rekor v1 base URL; absent when the signature is not to be logged (`--no-tlog`). */
  tlog?: string;
  /** Full RFC 3161 TSA URL, when the instance has one and timestamps are wanted. */
  tsa?: string;
  timeoutMs?: number;
}

/**
 * The witnesses of an instance's services, each timed into `timings`: the log (Rekor v1) and the timestamp
 * authority, whichever is given. Key-pair signing on an instance uses them too, as cosign logs key-pair signatures.
 */
export function instanceWitnesses(
  services: { tlog?: string; tsa?: string; timeoutMs?: number },
  timings: KeylessTimings = {},
): Witness[] {
  const options = services.timeoutMs !== undefined ? { timeoutMs: services.timeoutMs } : {};
  const witnesses: Witness[] = [];
  if (services.tlog !== undefined) {
    witnesses.push(
      new TimedWitness(new RekorV1Witness(services.tlog, options), (ms) => {
        timings.tlog = ms;
      }),
    );
  }
  if (services.tsa !== undefined) {
    witnesses.push(
      new TimedWitness(new Rfc3161Witness(services.tsa, options), (ms) => {
        timings.tsa = ms;
      }),
    );
  }
  return witnesses;
}

/**
 * A keyless signing context for the lead's bundle builder: certificate signer + Rekor witness (+ TSA witness).
 * No retries: a signing command fails fast with exit 3, and the user (or CI) decides to retry. A short-lived
 * certificate is only verifiable with a signed time, so at least one witness is required.
 */
export function keylessContext(
  identity: IdentityProvider,
  services: KeylessServices,
): SigningContext & { signer: CertificateSigner; timings: KeylessTimings } {
  if (services.tlog === undefined && services.tsa === undefined) {
    throw new VouchError('USAGE', 'a keyless signature needs a log entry or a timestamp', {
      hint: 'Its certificate is valid for minutes: drop --no-tlog or --no-timestamp (or use an instance with a TSA).',
    });
  }
  const timings: KeylessTimings = {};
  const signer = new CertificateSigner({ identity, ca: services.ca, timings });
  return { signer, witnesses: instanceWitnesses(services, timings), timings };
}
