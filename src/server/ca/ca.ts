/**
 * The certificate authority (Fulcio v2 semantics): exchange a verified OIDC identity token plus proof of
 * possession of a key for a 10-minute code-signing certificate that binds the key to the identity.
 *
 * Certificate profile (Fulcio's, docs/certificate-specification.md): empty subject, one critical SAN (email, URI,
 * or the username otherName 1.3.6.1.4.1.57264.1.7), key usage digitalSignature, EKU codeSigning, and the identity
 * extensions that src/core/identity-map.ts maps from the token, encoded as src/core/x509.ts's table says. Proof of
 * possession is either a signature over the issuer type's challenge claim or a self-signed PKCS#10 CSR. No SCT: this
 * CA logs to no CT log, and the trusted root it publishes lists none.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate as NodeX509, sign, verify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asnX509 from '@peculiar/asn1-x509';
// tsyringe, which @peculiar/x509 uses, needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import { derEncode, derOne, TAG } from '../../core/der.ts';
import { decodeBase64 } from '../../core/encoding.ts';
import { type CertificateIdentity, mapIdentity } from '../../core/identity-map.ts';
import { extensionDefinition, OID } from '../../core/x509.ts';
import { VouchError } from '../../errors.ts';
import { type CertificateAuthorityMaterial, randomSerial } from '../pki.ts';
import type { TokenVerifier, VerifiedToken } from './oidc.ts';

const CERT_VALIDITY_MS = 10 * 60_000;
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const MAX_KEY_PEM = 8192;
const MAX_CSR = 16 * 1024;

export interface IssuedCertificate {
  /** PEM chain: leaf, intermediate, root. */
  chain: string[];
}

/** The certificate identity a verified token maps to, under its issuer's rules. */
export function identityOf(t: VerifiedToken): CertificateIdentity {
  return mapIdentity(t.issuer, t.claims, t.config);
}

/** How the requester proves it holds the private key (Fulcio CreateSigningCertificateRequest's `key` oneof). */
export type KeyProof =
  | { kind: 'publicKey'; publicKeyPem: unknown; proofOfPossession: unknown }
  | { kind: 'csr'; csr: unknown };

function parseSubmittedKey(pem: unknown): KeyObject {
  if (typeof pem !== 'string' || pem.length > MAX_KEY_PEM)
    throw new VouchError('REQUEST_INVALID', 'publicKey.content must be a PEM key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new VouchError('REQUEST_INVALID', 'publicKey.content is not a PEM public key', { cause: e });
  }
  return acceptableKey(key);
}

/** Fulcio's goodkey rules: ECDSA P-256/P-384, RSA of 2048 bits or more, Ed25519. */
function acceptableKey(key: KeyObject): KeyObject {
  if (key.type !== 'public') throw new VouchError('REQUEST_INVALID', 'not a public key');
  const t = key.asymmetricKeyType;
  if (t === 'ec') {
    const crv = key.asymmetricKeyDetails?.namedCurve;
    if (crv !== 'prime256v1' && crv !== 'secp384r1')
      throw new VouchError('REQUEST_INVALID', `curve ${crv} is not accepted`);
  } else if (t === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw new VouchError('REQUEST_INVALID', 'RSA keys must be >= 2048 bits');
  } else if (t !== 'ed25519') {
    throw new VouchError('REQUEST_INVALID', `key type ${t} is not accepted`);
  }
  return key;
}

/** RFC 5280 §4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING contents, hex. */
export function keyIdentifier(spkiDer: Buffer): string {
  const asn = asn1js.fromBER(new Uint8Array(spkiDer));
  const bits = (asn.result as asn1js.Sequence).valueBlock.value[1] as asn1js.BitString;
  return createHash('sha1').update(bits.valueBlock.valueHexView).digest('hex');
}

function popHash(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'sha384';
  return 'sha256';
}

function possessionChecked(proof: Extract<KeyProof, { kind: 'publicKey' }>, challenge: string): KeyObject {
  const key = parseSubmittedKey(proof.publicKeyPem);
  const pop = decodeBase64(proof.proofOfPossession, 'proofOfPossession', 'PROOF_OF_POSSESSION_INVALID');
  let ok = false;
  try {
    ok = verify(popHash(key), Buffer.from(challenge, 'utf8'), key, pop);
  } catch {
    ok = false;
  }
  if (!ok) throw new VouchError('PROOF_OF_POSSESSION_INVALID', 'proof of possession does not verify with the key');
  return key;
}

/**
 * The key of a PKCS#10 certificate request (RFC 2986) whose self-signature verifies; every other CSR field is ignored,
 * as Fulcio does. Fulcio's JSON carries the PEM as protobuf `bytes`, i.e. base64; the PEM text itself is accepted too.
 */
async function keyOfCsr(csr: unknown): Promise<KeyObject> {
  if (typeof csr !== 'string' || csr.length === 0 || csr.length > MAX_CSR) {
    throw new VouchError('REQUEST_INVALID', 'certificateSigningRequest must be a PEM certificate request');
  }
  const pem = csr.startsWith('-----BEGIN')
    ? csr
    : decodeBase64(csr, 'certificateSigningRequest', 'REQUEST_INVALID').toString('utf8');
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(pem);
  } catch (e) {
    throw new VouchError('REQUEST_INVALID', 'certificateSigningRequest is not a PEM PKCS#10 request', { cause: e });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (e) {
    throw new VouchError('REQUEST_INVALID', 'the certificate request holds no usable public key', { cause: e });
  }
  acceptableKey(key);
  let ok = false;
  try {
    ok = await request.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw new VouchError('PROOF_OF_POSSESSION_INVALID', 'the certificate request signature does not verify');
  return key;
}

/**
 * One Extension (RFC 5280 §4.1: SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }), written
 * with core/der.ts rather than serialized by @peculiar/asn1-schema, which took ~270 µs an extension here and made a
 * GitHub certificate (21 identity extensions) several times slower than an email one (bench/ca.ts). The OIDs are
 * encoded once, by asn1js, which writes arcs past 2^53 (vouch's UUID arc) correctly.
 */
function extensionDer(oid: string, critical: boolean, value: Buffer): Buffer {
  let oidDer = OID_DER.get(oid);
  if (!oidDer) {
    oidDer = Buffer.from(new asn1js.ObjectIdentifier({ value: oid }).toBER());
    OID_DER.set(oid, oidDer);
  }
  return derEncode(
    TAG.SEQUENCE,
    Buffer.concat([oidDer, critical ? CRITICAL : Buffer.alloc(0), derEncode(TAG.OCTET_STRING, value)]),
  );
}

/** One identity extension as the table says to encode it (raw bytes or a UTF8String), non-critical. */
export function identityExtensionDer(e: CertificateIdentity['extensions'][number]): Buffer {
  const d = extensionDefinition(e.name);
  const utf8 = Buffer.from(e.value, 'utf8');
  return extensionDer(d.oid, false, d.encoding === 'raw' ? utf8 : derEncode(TAG.UTF8_STRING, utf8));
}

const OID_DER = new Map<string, Buffer>();
const CRITICAL = Buffer.of(TAG.BOOLEAN, 1, 0xff);

/**
 * The one SAN, critical (RFC 5280 §4.2.1.6: a certificate with an empty subject must mark it so): rfc822Name [1] or
 * uniformResourceIdentifier [6] (IA5String, which identity-map.ts made sure the value is), or Fulcio's username
 * identity, an otherName [0] of type 1.3.6.1.4.1.57264.1.7 holding an explicitly tagged UTF8String.
 */
function sanExtension(san: CertificateIdentity['san']): Buffer {
  let name: Buffer;
  if (san.type === 'username') {
    const value = derEncode(0xa0, derEncode(TAG.UTF8_STRING, Buffer.from(san.value, 'utf8')));
    name = derEncode(0xa0, Buffer.concat([oidOf(OID.fulcioUsername), value]));
  } else name = derEncode(san.type === 'uri' ? 0x86 : 0x81, Buffer.from(san.value, 'ascii'));
  return extensionDer(OID.subjectAltName, true, derEncode(TAG.SEQUENCE, name));
}

function oidOf(oid: string): Buffer {
  return Buffer.from(new asn1js.ObjectIdentifier({ value: oid }).toBER());
}

export interface CertificateAuthorityOptions {
  material: CertificateAuthorityMaterial;
  tokens: TokenVerifier;
  /**
   * Development issuers (the stack's own `/oidc`): their identities are certified by the local development
   * intermediate, which the trusted root marks (src/core/localdev.ts), so verifiers anywhere know what they are.
   */
  localIssuers?: string[];
  clock?: () => Date;
}

/** An intermediate that issues leaves, with what every leaf it issues carries. */
interface Issuing {
  cert: CertificateAuthorityMaterial['intermediate'];
  key: CertificateAuthorityMaterial['intermediateKey'];
  /** The intermediate's subject, exactly as encoded there: the leaf's issuer must match it byte for byte. */
  issuerName: asnX509.Name;
  /** Extensions every leaf carries, as DER: key usage, extended key usage, authority key identifier. */
  fixedExtensions: Buffer[];
}

function issuingOf(cert: Issuing['cert'], key: Issuing['key']): Issuing {
  return {
    cert,
    key,
    issuerName: AsnConvert.parse(cert.rawData, asnX509.Certificate).tbsCertificate.subject,
    fixedExtensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
      // Key identifiers computed here (RFC 5280 §4.2.1.2 method 1: SHA-1 of the public key bits) instead of through
      // async WebCrypto round trips.
      new x509.AuthorityKeyIdentifierExtension(keyIdentifier(key.spki)),
    ].map((e) => Buffer.from(e.rawData)),
  };
}

export class CertificateAuthority {
  readonly material: CertificateAuthorityMaterial;
  readonly tokens: TokenVerifier;
  private readonly clock: () => Date;

  private readonly issuing: Issuing;
  private readonly localIssuing: Issuing;
  private readonly localIssuers: Set<string>;
  /** DER AlgorithmIdentifier ecdsa-with-SHA256 (no parameters, RFC 5758 §3.2). */
  private readonly signatureAlgorithm: Buffer;

  constructor(o: CertificateAuthorityOptions) {
    this.material = o.material;
    this.issuing = issuingOf(o.material.intermediate, o.material.intermediateKey);
    this.localIssuing = issuingOf(o.material.localIntermediate, o.material.localIntermediateKey);
    this.localIssuers = new Set(o.localIssuers ?? []);
    this.signatureAlgorithm = Buffer.from(
      AsnConvert.serialize(new asnX509.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })),
    );
    this.tokens = o.tokens;
    this.clock = o.clock ?? (() => new Date());
  }

  /** PEM chain of the CA that certifies other issuers' identities: intermediate, root. */
  chainPem(): string[] {
    return [this.material.intermediate.toString('pem'), this.material.root.toString('pem')];
  }

  /** PEM chains of every issuing CA (the trust bundle): the ordinary one, then the local development one. */
  chainsPem(): string[][] {
    const chains = [this.chainPem()];
    if (this.localIssuers.size > 0) {
      chains.push([this.material.localIntermediate.toString('pem'), this.material.root.toString('pem')]);
    }
    return chains;
  }

  /**
   * Issue a certificate to the identity of `token` for the key of `proof`, if the proof verifies: a signature over
   * the identity's challenge string, or a CSR self-signed by the key. This proves the requester holds the private
   * key, so nobody can get a certificate binding their identity to someone else's key. The token is checked first:
   * an unauthenticated caller learns nothing about its request.
   */
  async issue(token: unknown, proof: KeyProof): Promise<IssuedCertificate> {
    const verified = await this.tokens.verify(token);
    const identity = identityOf(verified);
    const issuing = this.localIssuers.has(verified.issuer) ? this.localIssuing : this.issuing;
    const key = proof.kind === 'csr' ? await keyOfCsr(proof.csr) : possessionChecked(proof, identity.challenge);
    const now = this.clock();
    const spki = key.export({ format: 'der', type: 'spki' });
    const extensions = [
      ...issuing.fixedExtensions,
      extensionDer(OID.subjectKeyId, false, derEncode(TAG.OCTET_STRING, Buffer.from(keyIdentifier(spki), 'hex'))),
      sanExtension(identity.san),
      ...identity.extensions.map(identityExtensionDer),
    ];
    // The fields before the extensions come from the schema library; the extensions ([3] EXPLICIT) are appended.
    const head = new asnX509.TBSCertificate({
      version: asnX509.Version.v3,
      serialNumber: new Uint8Array(Buffer.from(randomSerial(), 'hex')).buffer,
      signature: new asnX509.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
      issuer: issuing.issuerName,
      validity: new asnX509.Validity({ notBefore: now, notAfter: new Date(now.getTime() + CERT_VALIDITY_MS) }),
      subject: new asnX509.Name(),
      subjectPublicKeyInfo: AsnConvert.parse(spki, asnX509.SubjectPublicKeyInfo),
    });
    const fields = derOne(Buffer.from(AsnConvert.serialize(head)), TAG.SEQUENCE, 'INTERNAL').value;
    const tbsDer = derEncode(
      TAG.SEQUENCE,
      Buffer.concat([fields, derEncode(0xa3, derEncode(TAG.SEQUENCE, Buffer.concat(extensions)))]),
    );
    // ECDSA signatures from node:crypto are DER Ecdsa-Sig-Value, the form X.509 carries (RFC 5758 §3.2). The
    // Certificate SEQUENCE is put around the TBS bytes just signed rather than serializing the TBS a second time.
    const signatureValue = sign('sha256', tbsDer, issuing.key.privateKey);
    const der = derEncode(
      TAG.SEQUENCE,
      Buffer.concat([
        tbsDer,
        this.signatureAlgorithm,
        derEncode(TAG.BIT_STRING, Buffer.concat([Buffer.of(0), signatureValue])),
      ]),
    );
    // Cheap self-check with an independent parser: the leaf must chain to the intermediate.
    const leaf = new NodeX509(der);
    if (!leaf.verify(issuing.key.publicKey)) {
      throw new VouchError('INTERNAL', 'issued certificate does not verify');
    }
    return { chain: [leaf.toString(), issuing.cert.toString('pem'), this.material.root.toString('pem')] };
  }
}
