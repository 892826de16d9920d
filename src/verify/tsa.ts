/**
 * RFC 3161 timestamps as carried in bundles (timestampVerificationData.rfc3161Timestamps): a TimeStampResp or a
 * bare TimeStampToken (CMS SignedData, RFC 5652) over a TSTInfo. Verified synchronously with node:crypto against
 * the timestamp authorities of the trust material; certificates inside the token are never trusted.
 */
import { createHash } from 'node:crypto';
import { children, DerReader, decodeOid, decodeTime, derEncode, derOne, TAG } from '../core/der.ts';
import { bytesEqual } from '../core/encoding.ts';
import { verifyWithAlgorithm, OID as X509_OID } from '../core/x509.ts';
import { VouchError } from '../errors.ts';
import { type CertificateAuthority, ensureChain } from './trust.ts';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Signature algorithm OIDs naming only the key type; the hash then comes from the SignerInfo digestAlgorithm. */
const KEY_ONLY: Record<string, Record<string, string>> = {
  '1.2.840.10045.2.1': { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
  '1.2.840.113549.1.1.1': {
    sha256: '1.2.840.113549.1.1.11',
    sha384: '1.2.840.113549.1.1.12',
    sha512: '1.2.840.113549.1.1.13',
  },
};

export interface ParsedTimestamp {
  genTime: number;
  imprintAlgorithm: string;
  imprint: Buffer;
  tstInfo: Buffer;
  digestAlgorithm: string;
  signedAttrs: Buffer;
  messageDigest: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  sid: { issuer: Buffer; serial: Buffer } | { keyId: Buffer };
}

const C = 'TIMESTAMP_INVALID' as const;

function fail(msg: string): never {
  throw new VouchError(C, msg);
}

export function parseTimestamp(der: Buffer): ParsedTimestamp {
  let top = children(derOne(der, TAG.SEQUENCE, C), C);
  // TimeStampResp { status PKIStatusInfo, timeStampToken } or a bare ContentInfo.
  if (top.peekTag() === TAG.SEQUENCE) {
    const status = children(top.next(TAG.SEQUENCE), C);
    const code = status.next(TAG.INTEGER).value;
    if (code.length !== 1 || code[0]! > 1) fail('the timestamp response does not grant a timestamp');
    const token = top.next(TAG.SEQUENCE);
    top.end();
    top = children(token, C);
  }
  if (decodeOid(top.next(TAG.OID).value) !== OID_SIGNED_DATA) fail('timestamp token is not CMS SignedData');
  const sd = children(children(top.next(0xa0), C).next(TAG.SEQUENCE), C);
  top.end();
  sd.next(TAG.INTEGER); // version
  // digestAlgorithms: must name the signer's digest algorithm (RFC 5652 §5.1), checked below.
  // Stryker disable next-line ArrayDeclaration: only names of DIGESTS are ever looked up in it
  const digestAlgorithms: string[] = [];
  const das = children(sd.next(TAG.SET), C);
  while (!das.done) {
    const oid = DIGESTS[decodeOid(children(das.next(TAG.SEQUENCE), C).next(TAG.OID).value)];
    // Stryker disable next-line ConditionalExpression: an unknown algorithm pushed as undefined is never looked up
    if (oid) digestAlgorithms.push(oid);
  }
  const encap = children(sd.next(TAG.SEQUENCE), C);
  if (decodeOid(encap.next(TAG.OID).value) !== OID_TST_INFO) fail('timestamp token does not hold a TSTInfo');
  const tstInfo = children(encap.next(0xa0), C).next(TAG.OCTET_STRING).value;
  encap.end();
  sd.optional(0xa0); // certificates: ignored, trust comes from the trusted root only
  sd.optional(0xa1); // crls
  const signerInfos = children(sd.next(TAG.SET), C);
  sd.end();
  const si = children(signerInfos.next(TAG.SEQUENCE), C);
  if (!signerInfos.done) fail('timestamp token has more than one signer');
  si.next(TAG.INTEGER);
  let sid: ParsedTimestamp['sid'];
  if (si.peekTag() === TAG.SEQUENCE) {
    const ias = children(si.next(TAG.SEQUENCE), C);
    const issuer = ias.next(TAG.SEQUENCE).raw;
    const serial = ias.next(TAG.INTEGER).value;
    ias.end();
    sid = { issuer, serial };
  } else {
    sid = { keyId: si.next(0x80).value };
  }
  const digestAlgorithm = DIGESTS[decodeOid(children(si.next(TAG.SEQUENCE), C).next(TAG.OID).value)];
  // Stryker disable next-line ConditionalExpression,CallExpression: an unknown digest is not in digestAlgorithms either, refused below; this names it
  if (!digestAlgorithm) fail('unsupported timestamp digest algorithm');
  if (!digestAlgorithms.includes(digestAlgorithm)) fail('the signer digest algorithm is not listed in the SignedData');
  const attrsTlv = si.next(0xa0);
  // The signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4), not the [0] IMPLICIT encoding.
  const signedAttrs = derEncode(TAG.SET, attrsTlv.value);
  let contentTypeOk = false;
  let messageDigest: Buffer | undefined;
  const attrs = new DerReader(attrsTlv.value, C);
  while (!attrs.done) {
    const a = children(attrs.next(TAG.SEQUENCE), C);
    const type = decodeOid(a.next(TAG.OID).value);
    const values = children(a.next(TAG.SET), C);
    const v = values.next();
    if (!values.done) fail('multi-valued signed attribute');
    if (type === OID_CONTENT_TYPE) {
      if (contentTypeOk) fail('duplicate content type attribute');
      contentTypeOk = v.tag === TAG.OID && decodeOid(v.value) === OID_TST_INFO;
    } else if (type === OID_MESSAGE_DIGEST) {
      if (messageDigest) fail('duplicate message digest attribute');
      if (v.tag !== TAG.OCTET_STRING) fail('malformed message digest attribute');
      messageDigest = v.value;
    }
  }
  if (!contentTypeOk || !messageDigest) fail('timestamp signed attributes lack content type or message digest');
  const sigAlgOid = decodeOid(children(si.next(TAG.SEQUENCE), C).next(TAG.OID).value);
  const signatureAlgorithm = KEY_ONLY[sigAlgOid]?.[digestAlgorithm] ?? sigAlgOid;
  const signature = si.next(TAG.OCTET_STRING).value;
  si.optional(0xa1);
  si.end();

  const tst = children(derOne(tstInfo, TAG.SEQUENCE, C), C);
  const version = tst.next(TAG.INTEGER).value;
  if (version.length !== 1 || version[0] !== 1) fail('unsupported TSTInfo version');
  tst.next(TAG.OID); // policy
  const mi = children(tst.next(TAG.SEQUENCE), C);
  const imprintAlgorithm = DIGESTS[decodeOid(children(mi.next(TAG.SEQUENCE), C).next(TAG.OID).value)];
  if (!imprintAlgorithm) fail('unsupported message imprint algorithm');
  const imprint = mi.next(TAG.OCTET_STRING).value;
  mi.end();
  tst.next(TAG.INTEGER); // serial
  const genTime = decodeTime(tst.next(TAG.GENERALIZED_TIME), C);
  return {
    genTime,
    imprintAlgorithm,
    imprint,
    tstInfo,
    digestAlgorithm,
    signedAttrs,
    messageDigest,
    signatureAlgorithm,
    signature,
    sid,
  };
}

/** A verified timestamp: its time in epoch ms, and the TSTInfo the authority signed. */
export interface VerifiedToken {
  time: number;
  /** What identifies the token however it is wrapped (bare ContentInfo, TimeStampResp, any status text). */
  tstInfo: Buffer;
}

/**
 * Verify a timestamp over `signed` (the bundle's signature bytes: the message imprint is their hash, per the
 * bundle spec's TimestampVerificationData) against the trusted TSAs.
 */
export function verifyTimestamp(der: Buffer, signed: Buffer, tsas: readonly CertificateAuthority[]): VerifiedToken {
  const ts = parseTimestamp(der);
  const imprint = createHash(ts.imprintAlgorithm).update(signed).digest();
  if (!bytesEqual(imprint, ts.imprint)) fail('the timestamp is over another signature');
  const contentDigest = createHash(ts.digestAlgorithm).update(ts.tstInfo).digest();
  if (!bytesEqual(contentDigest, ts.messageDigest)) fail('the timestamp message digest does not match its TSTInfo');
  // Stryker disable next-line ConditionalExpression,CallExpression: with no authority the loop below fails the same way; this names it
  if (tsas.length === 0) throw new VouchError('TIMESTAMP_INVALID', 'the trusted root lists no timestamp authority');
  let reason = 'the timestamp is not signed by a trusted timestamp authority';
  // Several entries may share a certificate (renewed validity windows): the token must fit one of them entirely.
  for (const tsa of tsas) {
    const leaf = tsa.certificates[0]!;
    const sid = ts.sid;
    const sidMatches =
      'keyId' in sid
        ? leaf.extensions.some(
            (e) => e.oid === X509_OID.subjectKeyId && bytesEqual(derOne(e.value, undefined, C).value, sid.keyId),
          )
        : sid.issuer.equals(leaf.issuer) && sid.serial.equals(leaf.serial);
    if (!sidMatches) continue;
    if (!verifyWithAlgorithm(ts.signatureAlgorithm, ts.signedAttrs, tsa.keys[0]!, ts.signature)) continue;
    ensureChain(tsa);
    // RFC 3161 §2.3: the TSA certificate must be for time stamping only.
    if (!leaf.extKeyUsage?.includes(X509_OID.timeStamping)) {
      reason = 'the timestamp authority certificate lacks the timeStamping extended key usage';
      continue;
    }
    const t = ts.genTime;
    if (t < tsa.start || t > tsa.end || tsa.certificates.some((c) => t < c.notBefore || t > c.notAfter)) {
      reason = 'the timestamp is outside the validity of its timestamp authority';
      continue;
    }
    return { time: t, tstInfo: ts.tstInfo };
  }
  return fail(reason);
}
