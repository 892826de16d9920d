/**
 * X.509 certificates as the verifier needs them (RFC 5280 §4.1): raw TBS for signature checks, validity, SAN,
 * key usage, basic constraints, the Fulcio extensions and embedded SCTs. Parsed with our own strict DER reader
 * instead of a general ASN.1 library: a Fulcio leaf is parsed on every verification and this is the hot path.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { type ErrorCode, VouchError } from '../errors.ts';
import { children, DerReader, decodeOid, decodeTime, derEncode, derOne, TAG, type Tlv } from './der.ts';

export const OID = {
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
  fulcioUsername: '1.3.6.1.4.1.57264.1.7',
} as const;

/**
 * vouch's own OID arc, for certificate extensions no Sigstore OID covers (AWS, Azure DevOps and Entra identities): a
 * UUID OID (ITU-T X.667: 2.25 followed by a random UUID read as one integer, here 3c087d30-7343-42eb-a498-2c624a9bf3f4),
 * which needs no registration and cannot collide. `.1.n` are certificate extensions; docs/identities.md lists them.
 */
export const VOUCH_OID_ARC = '2.25.79797757261787578321149733679709025268';

/** One certificate extension that carries identity: its OID, the name results use, and how the value is encoded. */
export interface ExtensionDefinition {
  oid: string;
  name: string;
  /** `raw`: the UTF-8 bytes themselves (Fulcio's deprecated .1.1-.1.6); `utf8`: a DER UTF8String. */
  encoding: 'raw' | 'utf8';
}

const fulcio = (n: number, name: string, encoding: 'raw' | 'utf8' = 'utf8') =>
  ({ oid: `1.3.6.1.4.1.57264.1.${n}`, name, encoding }) as const;
const vouch = (n: number, name: string) => ({ oid: `${VOUCH_OID_ARC}.1.${n}`, name, encoding: 'utf8' }) as const;

/**
 * The one table of identity extensions: the CA encodes with it (src/server/ca/ca.ts) and the verifier decodes with
 * it (`fulcioExtensions`). Fulcio's from docs/oid-info.md (.1.7 is the username SAN's otherName type, not an
 * extension); vouch's under VOUCH_OID_ARC.
 */
export const CERTIFICATE_EXTENSIONS = [
  fulcio(1, 'issuerV1', 'raw'),
  fulcio(2, 'githubWorkflowTrigger', 'raw'),
  fulcio(3, 'githubWorkflowSha', 'raw'),
  fulcio(4, 'githubWorkflowName', 'raw'),
  fulcio(5, 'githubWorkflowRepository', 'raw'),
  fulcio(6, 'githubWorkflowRef', 'raw'),
  fulcio(8, 'issuer'),
  fulcio(9, 'buildSignerURI'),
  fulcio(10, 'buildSignerDigest'),
  fulcio(11, 'runnerEnvironment'),
  fulcio(12, 'sourceRepositoryURI'),
  fulcio(13, 'sourceRepositoryDigest'),
  fulcio(14, 'sourceRepositoryRef'),
  fulcio(15, 'sourceRepositoryIdentifier'),
  fulcio(16, 'sourceRepositoryOwnerURI'),
  fulcio(17, 'sourceRepositoryOwnerIdentifier'),
  fulcio(18, 'buildConfigURI'),
  fulcio(19, 'buildConfigDigest'),
  fulcio(20, 'buildTrigger'),
  fulcio(21, 'runInvocationURI'),
  fulcio(22, 'sourceRepositoryVisibilityAtSigning'),
  fulcio(23, 'deploymentEnvironment'),
  fulcio(24, 'subject'),
  vouch(1, 'awsAccount'),
  vouch(2, 'awsOrganizationId'),
  vouch(3, 'awsOrganizationalUnitPath'),
  vouch(4, 'awsPrincipalTags'),
  vouch(5, 'azureDevOpsOrganizationId'),
  vouch(6, 'azureDevOpsProjectId'),
  vouch(7, 'azureDevOpsPipelineId'),
  vouch(8, 'entraTenantId'),
  vouch(9, 'entraObjectId'),
  vouch(10, 'entraApplicationId'),
] as const satisfies readonly ExtensionDefinition[];

export type ExtensionName = (typeof CERTIFICATE_EXTENSIONS)[number]['name'];

const EXTENSION_BY_OID = new Map<string, ExtensionDefinition>(CERTIFICATE_EXTENSIONS.map((e) => [e.oid, e]));
const EXTENSION_BY_NAME = new Map<string, ExtensionDefinition>(CERTIFICATE_EXTENSIONS.map((e) => [e.name, e]));

export function extensionDefinition(name: ExtensionName): ExtensionDefinition {
  return EXTENSION_BY_NAME.get(name)!;
}

/** Extensions we understand; an unknown *critical* extension makes a certificate unusable (RFC 5280 §4.2). */
const UNDERSTOOD = new Set<string>([
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  OID.subjectKeyId,
  OID.authorityKeyId,
  OID.sctList,
  ...EXTENSION_BY_OID.keys(),
]);

export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
  raw: Buffer;
}

export type SanEntry =
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'dns'; value: string }
  | { type: 'username'; value: string }
  | { type: 'other'; value: string };

export interface Certificate {
  der: Buffer;
  tbs: Buffer;
  /** Raw TBS children, kept to rebuild the precertificate TBS for SCT checks. */
  tbsParts: Tlv[];
  signatureAlgorithm: string;
  signature: Buffer;
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: number;
  notAfter: number;
  spki: Buffer;
  extensions: Extension[];
  isCA: boolean;
  /** Key usage bits as an integer, bit 0 = digitalSignature (high bit of the first octet); undefined if absent. */
  keyUsage?: number;
  extKeyUsage?: string[];
  san: SanEntry[];
  unknownCritical: string[];
}

const KU_DIGITAL_SIGNATURE = 1 << 0;
const KU_KEY_CERT_SIGN = 1 << 5;

export function parseCertificate(der: Buffer, code: ErrorCode = 'CERTIFICATE_INVALID'): Certificate {
  const cert = children(derOne(der, TAG.SEQUENCE, code), code);
  const tbsTlv = cert.next(TAG.SEQUENCE);
  const sigAlg = children(cert.next(TAG.SEQUENCE), code);
  const signatureAlgorithm = decodeOid(sigAlg.next(TAG.OID).value);
  const sigBits = cert.next(TAG.BIT_STRING).value;
  cert.end();
  if (sigBits.length < 1 || sigBits[0] !== 0) throw new VouchError(code, 'certificate signature has unused bits');

  const parts: Tlv[] = [];
  const tbs = children(tbsTlv, code);
  while (!tbs.done) parts.push(tbs.next());
  let i = 0;
  if (parts[i]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serial = expect(parts[i++], TAG.INTEGER, code);
  const innerAlg = expect(parts[i++], TAG.SEQUENCE, code);
  // RFC 5280 §4.1.1.2: the signature algorithm must equal the TBS signature field.
  if (decodeOid(children(innerAlg, code).next(TAG.OID).value) !== signatureAlgorithm) {
    throw new VouchError(code, 'certificate signature algorithm mismatch');
  }
  const issuer = expect(parts[i++], TAG.SEQUENCE, code);
  const validity = children(expect(parts[i++], TAG.SEQUENCE, code), code);
  const notBefore = decodeTime(validity.next(), code);
  const notAfter = decodeTime(validity.next(), code);
  validity.end();
  const subject = expect(parts[i++], TAG.SEQUENCE, code);
  const spki = expect(parts[i++], TAG.SEQUENCE, code);
  const extensions: Extension[] = [];
  for (; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.tag === 0x81 || p.tag === 0x82) continue; // issuer/subject unique IDs
    if (p.tag !== 0xa3 || i !== parts.length - 1) throw new VouchError(code, 'unexpected field in certificate');
    const wrapper = children(p, code);
    const seq = children(wrapper.next(TAG.SEQUENCE), code);
    wrapper.end();
    while (!seq.done) {
      const extTlv = seq.next(TAG.SEQUENCE);
      const ext = children(extTlv, code);
      const oid = decodeOid(ext.next(TAG.OID).value);
      const crit = ext.optional(TAG.BOOLEAN);
      const value = ext.next(TAG.OCTET_STRING).value;
      ext.end();
      if (extensions.some((e) => e.oid === oid)) throw new VouchError(code, `duplicate extension ${oid}`);
      extensions.push({ oid, critical: crit !== undefined && crit.value[0] === 0xff, value, raw: extTlv.raw });
    }
  }
  const c: Certificate = {
    der,
    tbs: tbsTlv.raw,
    tbsParts: parts,
    signatureAlgorithm,
    signature: sigBits.subarray(1),
    serial: serial.value,
    issuer: issuer.raw,
    subject: subject.raw,
    notBefore,
    notAfter,
    spki: spki.raw,
    extensions,
    isCA: false,
    san: [],
    unknownCritical: extensions.filter((e) => e.critical && !UNDERSTOOD.has(e.oid)).map((e) => e.oid),
  };
  for (const e of extensions) {
    switch (e.oid) {
      case OID.basicConstraints: {
        const bc = children(derOne(e.value, TAG.SEQUENCE, code), code);
        const ca = bc.optional(TAG.BOOLEAN);
        c.isCA = ca !== undefined && ca.value[0] === 0xff;
        break;
      }
      case OID.keyUsage: {
        const bits = derOne(e.value, TAG.BIT_STRING, code).value;
        let ku = 0;
        for (let b = 0; b < (bits.length - 1) * 8; b++) {
          if (bits[1 + (b >> 3)]! & (0x80 >> (b & 7))) ku |= 1 << b;
        }
        c.keyUsage = ku;
        break;
      }
      case OID.extKeyUsage: {
        const seq = children(derOne(e.value, TAG.SEQUENCE, code), code);
        c.extKeyUsage = [];
        while (!seq.done) c.extKeyUsage.push(decodeOid(seq.next(TAG.OID).value));
        break;
      }
      case OID.subjectAltName:
        c.san = parseGeneralNames(e.value, code);
        break;
    }
  }
  return c;
}

function expect(t: Tlv | undefined, tag: number, code: ErrorCode): Tlv {
  if (!t || t.tag !== tag) throw new VouchError(code, 'malformed certificate');
  return t;
}

/** GeneralNames (RFC 5280 §4.2.1.6). Each name is kept whole: no string joining, so commas cannot forge names. */
function parseGeneralNames(value: Buffer, code: ErrorCode): SanEntry[] {
  const seq = children(derOne(value, TAG.SEQUENCE, code), code);
  const out: SanEntry[] = [];
  while (!seq.done) {
    const n = seq.next();
    switch (n.tag) {
      case 0x81:
        out.push({ type: 'email', value: n.value.toString('latin1') });
        break;
      case 0x82:
        out.push({ type: 'dns', value: n.value.toString('latin1') });
        break;
      case 0x86:
        out.push({ type: 'uri', value: n.value.toString('latin1') });
        break;
      case 0xa0: {
        // otherName: type-id OID, [0] EXPLICIT value. Fulcio's "username" identity is a UTF8String.
        const on = children(n, code);
        const oid = decodeOid(on.next(TAG.OID).value);
        const explicit = children(on.next(0xa0), code);
        const v = explicit.next();
        explicit.end();
        on.end();
        if (oid === OID.fulcioUsername && v.tag === TAG.UTF8_STRING) {
          out.push({ type: 'username', value: v.value.toString('utf8') });
        } else {
          out.push({ type: 'other', value: oid });
        }
        break;
      }
      default:
        out.push({ type: 'other', value: `tag:${n.tag}` });
    }
  }
  return out;
}

/**
 * The identity extensions of CERTIFICATE_EXTENSIONS present in `c`, by name (Fulcio's and vouch's); also returns the
 * OIDC issuer (.1.8 preferred, .1.1 fallback).
 */
export function fulcioExtensions(c: Certificate): { issuer?: string; extensions: Record<string, string> } {
  const extensions: Record<string, string> = {};
  for (const e of c.extensions) {
    const known = EXTENSION_BY_OID.get(e.oid);
    if (!known) continue;
    let v: string;
    if (known.encoding === 'raw') v = e.value.toString('utf8');
    else {
      const t = derOne(e.value, undefined, 'CERTIFICATE_INVALID');
      if (t.tag !== TAG.UTF8_STRING) throw new VouchError('CERTIFICATE_INVALID', `extension ${e.oid} is not UTF8`);
      v = t.value.toString('utf8');
    }
    extensions[known.name] = v;
  }
  // A certificate naming two different issuers (.1.1 and .1.8) is contradictory: refuse rather than pick one.
  if (
    extensions.issuer !== undefined &&
    extensions.issuerV1 !== undefined &&
    extensions.issuer !== extensions.issuerV1
  ) {
    throw new VouchError('CERTIFICATE_INVALID', 'the certificate names two different OIDC issuers');
  }
  const issuer = extensions.issuer ?? extensions.issuerV1;
  return issuer === undefined ? { extensions } : { issuer, extensions };
}

const SIG_HASH: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/** Verify a signature made with X.509 signature algorithm `oid`. Unknown algorithms never verify. */
export function verifyWithAlgorithm(oid: string, data: Buffer, key: KeyObject, sig: Buffer): boolean {
  const hash = SIG_HASH[oid];
  if (hash === undefined) return false;
  try {
    return cryptoVerify(hash, data, key, sig);
  } catch {
    return false;
  }
}

/** Whether `child` was issued by `parent`: names match and `parent`'s key verifies the signature. */
export function isIssuedBy(child: Certificate, parent: Certificate, parentKey: KeyObject): boolean {
  return (
    child.issuer.equals(parent.subject) &&
    verifyWithAlgorithm(child.signatureAlgorithm, child.tbs, parentKey, child.signature)
  );
}

export function publicKeyOf(c: Certificate, code: ErrorCode = 'CERTIFICATE_INVALID'): KeyObject {
  try {
    return createPublicKey({ key: c.spki, format: 'der', type: 'spki' });
  } catch (e) {
    throw new VouchError(code, 'certificate public key is unusable', { cause: e });
  }
}

/** A leaf fit for signing code (Fulcio profile): not a CA, digitalSignature, codeSigning EKU. */
export function checkCodeSigningLeaf(c: Certificate): void {
  if (c.isCA) throw new VouchError('CERTIFICATE_INVALID', 'the signing certificate is a CA certificate');
  if (c.keyUsage === undefined || (c.keyUsage & KU_DIGITAL_SIGNATURE) === 0) {
    throw new VouchError('CERTIFICATE_INVALID', 'the signing certificate lacks the digitalSignature key usage');
  }
  if ((c.keyUsage & KU_KEY_CERT_SIGN) !== 0) {
    throw new VouchError('CERTIFICATE_INVALID', 'the signing certificate may sign certificates');
  }
  if (!c.extKeyUsage?.includes(OID.codeSigning)) {
    throw new VouchError('CERTIFICATE_INVALID', 'the signing certificate lacks the codeSigning extended key usage');
  }
  if (c.unknownCritical.length > 0) {
    throw new VouchError('CERTIFICATE_INVALID', `unknown critical extension ${c.unknownCritical[0]}`);
  }
}

export function isSelfSigned(c: Certificate): boolean {
  return c.issuer.equals(c.subject);
}

export interface Sct {
  logId: Buffer;
  timestamp: bigint;
  extensions: Buffer;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Buffer;
}

/** Embedded SCTs (RFC 6962 §3.3): the extension holds an OCTET STRING with a TLS-encoded SCT list. */
export function embeddedScts(c: Certificate): Sct[] {
  const ext = c.extensions.find((e) => e.oid === OID.sctList);
  if (!ext) return [];
  const fail = (): never => {
    throw new VouchError('SCT_INVALID', 'malformed SCT list');
  };
  const list = derOne(ext.value, TAG.OCTET_STRING, 'SCT_INVALID').value;
  if (list.length < 2 || list.readUInt16BE(0) !== list.length - 2) fail();
  const out: Sct[] = [];
  let p = 2;
  while (p < list.length) {
    if (p + 2 > list.length) fail();
    const len = list.readUInt16BE(p);
    p += 2;
    const end = p + len;
    if (end > list.length) fail();
    const s = list.subarray(p, end);
    // version(1) log_id(32) timestamp(8) ext_len(2) ext, hash(1) sig(1) sig_len(2) sig
    if (s.length < 47 || s[0] !== 0) fail();
    const extLen = s.readUInt16BE(41);
    let q = 43 + extLen;
    if (q + 4 > s.length) fail();
    const hashAlgorithm = s[q]!;
    const signatureAlgorithm = s[q + 1]!;
    const sigLen = s.readUInt16BE(q + 2);
    q += 4;
    if (q + sigLen !== s.length) fail();
    out.push({
      logId: s.subarray(1, 33),
      timestamp: s.readBigUInt64BE(33),
      extensions: s.subarray(43, 43 + extLen),
      hashAlgorithm,
      signatureAlgorithm,
      signature: s.subarray(q),
    });
    p = end;
  }
  return out;
}

/**
 * The data an SCT signs for a precertificate entry (RFC 6962 §3.2): the leaf's TBS with the SCT extension removed
 * (re-encoded), bound to the issuer's key hash.
 */
export function sctSignedData(c: Certificate, issuerSpki: Buffer, sct: Sct): Buffer {
  const parts = c.tbsParts.map((p) => {
    if (p.tag !== 0xa3) return p.raw;
    const kept = c.extensions.filter((e) => e.oid !== OID.sctList).map((e) => e.raw);
    return derEncode(0xa3, derEncode(TAG.SEQUENCE, Buffer.concat(kept)));
  });
  const tbs = derEncode(TAG.SEQUENCE, Buffer.concat(parts));
  const head = Buffer.alloc(12);
  head[0] = 0; // v1
  head[1] = 0; // certificate_timestamp
  head.writeBigUInt64BE(sct.timestamp, 2);
  head.writeUInt16BE(1, 10); // precert_entry
  const issuerKeyHash = createHash('sha256').update(issuerSpki).digest();
  const tbsLen = Buffer.from([tbs.length >> 16, (tbs.length >> 8) & 0xff, tbs.length & 0xff]);
  const extLen = Buffer.from([sct.extensions.length >> 8, sct.extensions.length & 0xff]);
  return Buffer.concat([head, issuerKeyHash, tbsLen, tbs, extLen, sct.extensions]);
}

/** Read a DER SEQUENCE of certificates (CMS CertificateSet) into parsed certificates. */
export function parseCertificateSet(v: Buffer, code: ErrorCode): Certificate[] {
  const r = new DerReader(v, code);
  const out: Certificate[] = [];
  while (!r.done) {
    const t = r.next();
    if (t.tag === TAG.SEQUENCE) out.push(parseCertificate(Buffer.from(t.raw), code));
  }
  return out;
}
