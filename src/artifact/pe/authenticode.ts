/**
 * Authenticode verification of a PE file ("Windows Authenticode Portable Executable Signature Format"): the PKCS#7
 * SignedData in the certificate table holds an SpcIndirectDataContent whose DigestInfo is the image digest (every
 * byte but the CheckSum field, the Certificate Table directory entry and the table); the signer signs that content
 * (messageDigest over its DER without the outer tag and length, which pkijs does for a non-OCTET STRING eContent).
 * Timestamps (RFC 3161 tokens and legacy PKCS#9 countersignatures) and nested signatures live in unauthenticated
 * attributes. Chains are checked only against the roots the caller gives (`--authenticode-roots`): vouch ships no
 * Windows trust, so this is a consistency check of the file, not a statement that Windows would run it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { CertificateEntry, PeAnomaly, PeCheck } from './check.ts';
import { imageDigests } from './digest.ts';
import type { PeSource } from './layout.ts';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  spcIndirectData: '1.3.6.1.4.1.311.2.1.4',
  spcPeImageData: '1.3.6.1.4.1.311.2.1.15',
  nestedSignature: '1.3.6.1.4.1.311.2.4.1',
  rfc3161Timestamp: '1.3.6.1.4.1.311.3.3.1',
  countersignature: '1.2.840.113549.1.9.6',
  signingTime: '1.2.840.113549.1.9.5',
  messageDigest: '1.2.840.113549.1.9.4',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
} as const;

/** Digest algorithms an SpcIndirectDataContent may name, as node:crypto calls them. */
const DIGESTS: Record<string, string> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Nested signatures inside nested signatures: legal, never seen; bounded so a hostile file cannot recurse. */
const MAX_DEPTH = 4;

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
}

export type ChainStatus = 'not-checked' | 'verified' | 'failed';

export interface TimestampReport {
  kind: 'rfc3161' | 'countersignature';
  /** The time the timestamp states (ISO 8601), when it could be read. */
  time?: string;
  signer?: CertificateSummary;
  /** Signature and imprint (or message digest) over this signature's value verified. */
  valid: boolean;
  chain: ChainStatus;
  problem?: string;
}

export interface SignatureReport {
  /** "0" the primary signature; "0.1" its first nested signature, and so on. */
  path: string;
  /** Digest algorithm of the image digest (SpcIndirectDataContent). */
  digestAlgorithm?: string;
  signedDigest?: string;
  imageDigest?: string;
  digestMatches: boolean;
  signatureValid: boolean;
  signer?: CertificateSummary;
  /** The signer's chain as far as the certificates carried in the signature go (signer first). */
  chain: CertificateSummary[];
  chainStatus: ChainStatus;
  timestamps: TimestampReport[];
  /** Why the signature, its digest or chain failed, in order. */
  problems: string[];
}

export interface AuthenticodeReport {
  signatures: SignatureReport[];
  /** Nested signatures and unauthenticated data found while reading the signatures (report-level anomalies). */
  anomalies: PeAnomaly[];
}

export interface AuthenticodeOptions {
  /** CA certificates (DER) a signer and a timestamp authority must chain to; without them chains are not checked. */
  roots?: Buffer[];
  /** Image digests already computed in the caller's own pass (an `ImageDigester`); else the file is read again. */
  digests?: Map<string, Buffer>;
}

interface ParsedSignature {
  path: string;
  signedData: pkijs.SignedData;
  digestAlgorithm?: string;
  signedDigest?: Buffer;
  problems: string[];
  /** File offset of this signature's DER (for anomaly offsets), and the DER itself. */
  offset: number;
  der: Buffer;
}

/**
 * Verify every Authenticode signature of a checked PE file: the primary one in the first certificate entry and its
 * nested ones. Reads the file once more, in bounded chunks, for the image digests (one pass for all algorithms).
 */
export async function verifyAuthenticode(
  check: PeCheck & { kind: 'pe' },
  source: PeSource,
  options: AuthenticodeOptions = {},
): Promise<AuthenticodeReport> {
  const entry: CertificateEntry | undefined = check.entries[0];
  if (!entry?.signature) return { signatures: [], anomalies: [] };
  const anomalies: PeAnomaly[] = [];
  const parsed: ParsedSignature[] = [];
  collect(entry.signature.der, entry.signature.offset, '0', 0, parsed, anomalies);
  const algorithms = [...new Set(parsed.flatMap((p) => (p.digestAlgorithm ? [p.digestAlgorithm] : [])))];
  const given = options.digests;
  const digests =
    given && algorithms.every((a) => given.has(a)) ? given : await imageDigests(check.layout, source, algorithms);
  const roots = (options.roots ?? []).map((der) => pkijs.Certificate.fromBER(new Uint8Array(der)));
  const signatures: SignatureReport[] = [];
  for (const p of parsed) signatures.push(await verifyOne(p, digests, roots, options.roots !== undefined));
  return { signatures, anomalies };
}

/** Parse one signature and, recursively, its nested ones; a malformed one is kept with its problem. */
function collect(
  der: Buffer,
  offset: number,
  path: string,
  depth: number,
  out: ParsedSignature[],
  anomalies: PeAnomaly[],
): void {
  const p: ParsedSignature = { path, signedData: new pkijs.SignedData(), problems: [], offset, der };
  out.push(p);
  try {
    const ci = pkijs.ContentInfo.fromBER(new Uint8Array(der));
    if (ci.contentType !== OID.signedData) throw new Error('not a PKCS#7 SignedData');
    p.signedData = new pkijs.SignedData({ schema: ci.content });
  } catch (e) {
    p.problems.push(`the signature is not a PKCS#7 SignedData: ${(e as Error).message}`);
    return;
  }
  const sd = p.signedData;
  try {
    const indirect = spcIndirectData(sd);
    p.digestAlgorithm = indirect.algorithm;
    p.signedDigest = indirect.digest;
  } catch (e) {
    p.problems.push((e as Error).message);
  }
  if (sd.signerInfos.length !== 1) {
    p.problems.push(`${sd.signerInfos.length} signers; Authenticode has exactly one`);
    return;
  }
  for (const attribute of sd.signerInfos[0]!.unsignedAttrs?.attributes ?? []) {
    const raw = Buffer.from(attribute.toSchema().toBER());
    const at = offset + Math.max(0, der.indexOf(raw));
    if (attribute.type === OID.nestedSignature) {
      for (const [i, value] of attribute.values.entries()) {
        const nestedPath = `${path}.${out.length}`;
        const nestedDer = Buffer.from(value.toBER());
        const nestedAt = offset + Math.max(0, der.indexOf(nestedDer));
        anomalies.push({
          code: 'PE_NESTED_SIGNATURE',
          severity: 'report',
          offset: nestedAt,
          length: nestedDer.length,
          message: `nested signature ${nestedPath} (value ${i} of the attribute)`,
        });
        if (depth + 1 >= MAX_DEPTH) p.problems.push(`nested signatures deeper than ${MAX_DEPTH}`);
        else collect(nestedDer, nestedAt, nestedPath, depth + 1, out, anomalies);
      }
    } else if (attribute.type !== OID.rfc3161Timestamp && attribute.type !== OID.countersignature) {
      anomalies.push({
        code: 'PE_UNAUTHENTICATED_DATA',
        severity: 'report',
        offset: at,
        length: raw.length,
        message: `unauthenticated attribute ${attribute.type} of signature ${path} carries ${raw.length} bytes`,
      });
    }
  }
}

/** SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue, messageDigest DigestInfo }. */
function spcIndirectData(sd: pkijs.SignedData): { algorithm: string; digest: Buffer } {
  const eci = sd.encapContentInfo;
  if (eci.eContentType !== OID.spcIndirectData)
    throw new Error(`content type ${eci.eContentType} is not SpcIndirectDataContent`);
  const content = eci.eContent as unknown as asn1js.Sequence | undefined;
  const fail = (): never => {
    throw new Error('malformed SpcIndirectDataContent');
  };
  if (!(content instanceof asn1js.Sequence)) return fail();
  const [data, digestInfo] = content.valueBlock.value as [asn1js.Sequence?, asn1js.Sequence?];
  if (!(data instanceof asn1js.Sequence) || !(digestInfo instanceof asn1js.Sequence)) return fail();
  const type = data.valueBlock.value[0];
  if (!(type instanceof asn1js.ObjectIdentifier)) return fail();
  if (type.valueBlock.toString() !== OID.spcPeImageData)
    throw new Error(`SpcIndirectDataContent for ${type.valueBlock.toString()}, not a PE image`);
  const [alg, digest] = digestInfo.valueBlock.value as [asn1js.Sequence?, asn1js.OctetString?];
  const oid = alg instanceof asn1js.Sequence ? alg.valueBlock.value[0] : undefined;
  if (!(oid instanceof asn1js.ObjectIdentifier) || !(digest instanceof asn1js.OctetString)) return fail();
  const algorithm = DIGESTS[oid.valueBlock.toString()];
  if (!algorithm) throw new Error(`unknown image digest algorithm ${oid.valueBlock.toString()}`);
  return { algorithm, digest: Buffer.from(digest.valueBlock.valueHexView) };
}

/** The digest algorithms a checked file's signatures name (what an `ImageDigester` must compute). */
export function signatureAlgorithms(check: PeCheck & { kind: 'pe' }): string[] {
  const der = check.entries[0]?.signature;
  if (!der) return [];
  const parsed: ParsedSignature[] = [];
  collect(der.der, der.offset, '0', 0, parsed, []);
  return [...new Set(parsed.flatMap((p) => (p.digestAlgorithm ? [p.digestAlgorithm] : [])))];
}

function summary(cert: pkijs.Certificate): CertificateSummary {
  const x = new X509Certificate(Buffer.from(cert.toSchema().toBER()));
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    serial: x.serialNumber,
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    sha256: x.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

function certificatesOf(sd: pkijs.SignedData): pkijs.Certificate[] {
  return (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
}

/** The signer's issuers among the carried certificates, by name, stopping at a self-issued one or a loop. */
function carriedChain(signer: pkijs.Certificate, certs: pkijs.Certificate[]): pkijs.Certificate[] {
  const chain = [signer];
  let cur = signer;
  while (chain.length <= certs.length && !cur.issuer.isEqual(cur.subject)) {
    const parent = certs.find((c) => c.subject.isEqual(cur.issuer) && !chain.includes(c));
    if (!parent) break;
    chain.push(parent);
    cur = parent;
  }
  return chain;
}

async function chainTo(
  leaf: pkijs.Certificate,
  carried: pkijs.Certificate[],
  roots: pkijs.Certificate[],
  checkDate: Date,
): Promise<{ ok: boolean; message: string }> {
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: roots,
    certs: [...carried.filter((c) => c !== leaf), leaf],
    checkDate,
  });
  const r = await engine.verify();
  return { ok: r.result, message: r.resultMessage };
}

async function verifyOne(
  p: ParsedSignature,
  digests: Map<string, Buffer>,
  roots: pkijs.Certificate[],
  checkChains: boolean,
): Promise<SignatureReport> {
  const report: SignatureReport = {
    path: p.path,
    digestMatches: false,
    signatureValid: false,
    chain: [],
    chainStatus: checkChains ? 'failed' : 'not-checked',
    timestamps: [],
    problems: [...p.problems],
  };
  if (p.digestAlgorithm && p.signedDigest) {
    const image = digests.get(p.digestAlgorithm)!;
    report.digestAlgorithm = p.digestAlgorithm;
    report.signedDigest = p.signedDigest.toString('hex');
    report.imageDigest = image.toString('hex');
    report.digestMatches = image.equals(p.signedDigest);
    if (!report.digestMatches)
      report.problems.push('the image digest differs from the signed one: the file was modified');
  }
  const sd = p.signedData;
  const signerInfo = sd.signerInfos.length === 1 ? sd.signerInfos[0] : undefined;
  if (!signerInfo || p.problems.length > 0) return report;
  let signer: pkijs.Certificate | undefined;
  try {
    const r = await sd.verify({ signer: 0, extendedMode: true });
    report.signatureValid = r.signatureVerified === true;
    signer = r.signerCertificate ?? undefined;
  } catch (e) {
    const err = e as { message?: string; signerCertificate?: pkijs.Certificate | null };
    signer = err.signerCertificate ?? undefined;
    report.problems.push(`the PKCS#7 signature does not verify: ${err.message ?? String(e)}`);
  }
  if (report.signatureValid === false && report.problems.every((m) => !m.startsWith('the PKCS#7'))) {
    report.problems.push('the PKCS#7 signature does not verify');
  }
  const carried = certificatesOf(sd);
  if (signer) {
    report.chain = carriedChain(signer, carried).map(summary);
    report.signer = report.chain[0]!;
  }
  const signatureValue = Buffer.from(signerInfo.signature.valueBlock.valueHexView);
  for (const attribute of signerInfo.unsignedAttrs?.attributes ?? []) {
    for (const value of attribute.values) {
      if (attribute.type === OID.rfc3161Timestamp) {
        report.timestamps.push(await rfc3161(value, signatureValue, roots, checkChains));
      } else if (attribute.type === OID.countersignature) {
        report.timestamps.push(await countersignature(value, signatureValue, carried, roots, checkChains));
      }
    }
  }
  if (signer && checkChains) {
    // A valid timestamp fixes the time the signer's certificate must have been valid at.
    const stamped = report.timestamps.find((t) => t.valid && t.time && t.chain !== 'failed');
    const r = await chainTo(signer, carried, roots, stamped?.time ? new Date(stamped.time) : new Date());
    report.chainStatus = r.ok ? 'verified' : 'failed';
    if (!r.ok) report.problems.push(`the signer does not chain to --authenticode-roots: ${r.message}`);
  }
  return report;
}

/** An RFC 3161 token (Microsoft's 1.3.6.1.4.1.311.3.3.1 attribute): its imprint is over the signature value. */
async function rfc3161(
  value: asn1js.AsnType,
  signatureValue: Buffer,
  roots: pkijs.Certificate[],
  checkChains: boolean,
): Promise<TimestampReport> {
  const out: TimestampReport = { kind: 'rfc3161', valid: false, chain: checkChains ? 'failed' : 'not-checked' };
  try {
    const ci = new pkijs.ContentInfo({ schema: value });
    if (ci.contentType !== OID.signedData) throw new Error('not a SignedData');
    const sd = new pkijs.SignedData({ schema: ci.content });
    if (sd.encapContentInfo.eContentType !== OID.tstInfo) throw new Error('not a TSTInfo');
    const tst = pkijs.TSTInfo.fromBER((sd.encapContentInfo.eContent as asn1js.OctetString).getValue());
    out.time = tst.genTime.toISOString();
    const r = await sd.verify({ signer: 0, data: new Uint8Array(signatureValue).buffer, extendedMode: true });
    if (r.signerCertificate) out.signer = summary(r.signerCertificate);
    out.valid = r.signatureVerified === true;
    if (!out.valid) out.problem = 'the timestamp signature does not verify';
    if (out.valid && checkChains && r.signerCertificate) {
      const c = await chainTo(r.signerCertificate, certificatesOf(sd), roots, tst.genTime);
      out.chain = c.ok ? 'verified' : 'failed';
      if (!c.ok) out.problem = `the timestamp authority does not chain to --authenticode-roots: ${c.message}`;
    }
  } catch (e) {
    const err = e as { message?: string; signerCertificate?: pkijs.Certificate | null };
    if (err.signerCertificate) out.signer = summary(err.signerCertificate);
    out.problem = `the timestamp does not verify: ${err.message ?? String(e)}`;
  }
  return out;
}

/**
 * A PKCS#9 countersignature (RFC 2985 §5.3.6; the legacy Authenticode timestamp): a SignerInfo whose messageDigest
 * is the hash of the signature value, signed by a certificate carried in the outer SignedData.
 */
async function countersignature(
  value: asn1js.AsnType,
  signatureValue: Buffer,
  carried: pkijs.Certificate[],
  roots: pkijs.Certificate[],
  checkChains: boolean,
): Promise<TimestampReport> {
  const out: TimestampReport = {
    kind: 'countersignature',
    valid: false,
    chain: checkChains ? 'failed' : 'not-checked',
  };
  try {
    const si = new pkijs.SignerInfo({ schema: value });
    const attrs = si.signedAttrs?.attributes ?? [];
    const time = attrs.find((a) => a.type === OID.signingTime)?.values[0];
    if (time instanceof asn1js.UTCTime || time instanceof asn1js.GeneralizedTime)
      out.time = time.toDate().toISOString();
    const sid = si.sid;
    const cert =
      sid instanceof pkijs.IssuerAndSerialNumber
        ? carried.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber))
        : undefined;
    if (!cert) throw new Error('its signer certificate is not in the signature');
    out.signer = summary(cert);
    const md = attrs.find((a) => a.type === OID.messageDigest)?.values[0];
    const algorithm = DIGESTS[si.digestAlgorithm.algorithmId];
    if (!algorithm || !(md instanceof asn1js.OctetString)) throw new Error('no message digest');
    const expected = createHash(algorithm).update(signatureValue).digest();
    if (!expected.equals(Buffer.from(md.valueBlock.valueHexView))) throw new Error('it countersigns another signature');
    const crypto = pkijs.getCrypto(true);
    const hashName = crypto.getAlgorithmByOID(si.digestAlgorithm.algorithmId, true).name;
    out.valid = await crypto.verifyWithPublicKey(
      si.signedAttrs!.encodedValue,
      si.signature,
      cert.subjectPublicKeyInfo,
      si.signatureAlgorithm,
      hashName,
    );
    if (!out.valid) out.problem = 'the countersignature does not verify';
    if (out.valid && checkChains) {
      const c = await chainTo(cert, carried, roots, out.time ? new Date(out.time) : new Date());
      out.chain = c.ok ? 'verified' : 'failed';
      if (!c.ok) out.problem = `the countersigner does not chain to --authenticode-roots: ${c.message}`;
    }
  } catch (e) {
    out.problem = `the countersignature does not verify: ${(e as Error).message}`;
  }
  return out;
}
