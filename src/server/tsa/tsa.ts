/**
 * RFC 3161 time-stamping authority. Answers a TimeStampReq (DER, or the JSON form Sigstore's timestamp-authority
 * and @sigstore/sign use) with a TimeStampResp whose token is CMS SignedData (RFC 5652) over a TSTInfo:
 * signed attributes contentType, messageDigest and ESS signingCertificateV2 (RFC 5816, which RFC 3161 §2.4.1
 * requires to identify the TSA certificate), ECDSA P-256 with SHA-256.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { decodeBase64 } from '../../core/encoding.ts';
import { VouchError } from '../../errors.ts';
import type { StackKey } from '../pki.ts';

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_TSTINFO = '1.2.840.113549.1.9.16.1.4';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_CERT_V2 = '1.2.840.113549.1.9.16.2.47';
/** Default TSA policy: Sigstore's timestamp-authority policy arc. */
export const DEFAULT_POLICY = '1.3.6.1.4.1.57264.2';

const HASHES: Record<string, { oid: string; size: number }> = {
  sha256: { oid: OID_SHA256, size: 32 },
  sha384: { oid: OID_SHA384, size: 48 },
  sha512: { oid: OID_SHA512, size: 64 },
};

export interface TimestampRequest {
  hashOid: string;
  hashedMessage: Buffer;
  nonce?: Buffer;
  certReq: boolean;
  policy?: string;
}

const bad = (m: string, cause?: unknown) => new VouchError('REQUEST_INVALID', m, cause ? { cause } : {});

/** Parse a DER TimeStampReq (RFC 3161 §2.4.1). */
export function parseDerRequest(der: Buffer): TimestampRequest {
  let req: pkijs.TimeStampReq;
  try {
    const asn = asn1js.fromBER(new Uint8Array(der));
    if (asn.offset === -1 || asn.offset !== der.length) throw new Error('bad or trailing BER');
    req = new pkijs.TimeStampReq({ schema: asn.result });
  } catch (e) {
    throw bad('not a DER TimeStampReq', e);
  }
  if (req.version !== 1) throw bad('TimeStampReq version must be 1');
  if (req.extensions && req.extensions.length > 0) throw bad('TimeStampReq extensions are not supported');
  return {
    hashOid: req.messageImprint.hashAlgorithm.algorithmId,
    hashedMessage: Buffer.from(req.messageImprint.hashedMessage.valueBlock.valueHexView),
    nonce: req.nonce ? Buffer.from(req.nonce.valueBlock.valueHexView) : undefined,
    certReq: req.certReq ?? false,
    policy: req.reqPolicy,
  };
}

/** Parse the JSON request form: {artifactHash: base64, hashAlgorithm, nonce?, certificates?, tsaPolicyOID?}. */
export function parseJsonRequest(v: Record<string, unknown>): TimestampRequest {
  const alg = typeof v.hashAlgorithm === 'string' ? v.hashAlgorithm.toLowerCase() : 'sha256';
  const h = HASHES[alg];
  if (!h) throw bad('hashAlgorithm must be sha256, sha384 or sha512');
  const hashedMessage = decodeBase64(v.artifactHash, 'artifactHash', 'REQUEST_INVALID');
  let nonce: Buffer | undefined;
  if (v.nonce !== undefined) {
    if (typeof v.nonce !== 'number' || !Number.isSafeInteger(v.nonce) || v.nonce < 0)
      throw bad('nonce must be an integer');
    nonce = Buffer.from(new asn1js.Integer({ value: v.nonce }).valueBlock.valueHexView);
  }
  if (v.certificates !== undefined && typeof v.certificates !== 'boolean') throw bad('certificates must be a boolean');
  if (v.tsaPolicyOID !== undefined && typeof v.tsaPolicyOID !== 'string') throw bad('tsaPolicyOID must be a string');
  return { hashOid: h.oid, hashedMessage, nonce, certReq: v.certificates === true, policy: v.tsaPolicyOID as string };
}

export interface TimestampAuthorityOptions {
  key: StackKey;
  /** DER of the TSA certificate, then its issuers (for certchain and certReq). */
  chain: Buffer[];
  policy?: string;
  clock?: () => Date;
}

export class TimestampAuthority {
  private readonly key: StackKey;
  private readonly chain: Buffer[];
  private readonly cert: pkijs.Certificate;
  private readonly policy: string;
  private readonly clock: () => Date;

  constructor(o: TimestampAuthorityOptions) {
    this.key = o.key;
    this.chain = o.chain;
    this.cert = pkijs.Certificate.fromBER(new Uint8Array(o.chain[0]!));
    this.policy = o.policy ?? DEFAULT_POLICY;
    this.clock = o.clock ?? (() => new Date());
  }

  /** PEM certificate chain, TSA leaf first. */
  chainPem(): string {
    return this.chain
      .map(
        (d) =>
          `-----BEGIN CERTIFICATE-----\n${d
            .toString('base64')
            .replace(/(.{64})/g, '$1\n')
            .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
      )
      .join('');
  }

  /** Build the DER TimeStampResp for a parsed request. */
  timestamp(req: TimestampRequest): Buffer {
    const h = Object.values(HASHES).find((x) => x.oid === req.hashOid);
    if (!h) throw bad('unsupported hash algorithm in the message imprint');
    if (req.hashedMessage.length !== h.size) throw bad('hashed message has the wrong length for its algorithm');
    if (req.policy !== undefined && req.policy !== this.policy)
      throw bad(`unsupported policy ${req.policy.slice(0, 64)}`);
    if (req.nonce && req.nonce.length > 32) throw bad('nonce too long');
    // Whole seconds: GeneralizedTime without fractions parses the same everywhere.
    const genTime = new Date(Math.floor(this.clock().getTime() / 1000) * 1000);
    const serial = randomBytes(16);
    serial[0] = serial[0]! & 0x7f;
    const tst = new pkijs.TSTInfo({
      version: 1,
      policy: this.policy,
      messageImprint: new pkijs.MessageImprint({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: req.hashOid }),
        hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(req.hashedMessage) }),
      }),
      serialNumber: new asn1js.Integer({ valueHex: new Uint8Array(serial) }),
      genTime,
      accuracy: new pkijs.Accuracy({ seconds: 1 }),
      ...(req.nonce ? { nonce: new asn1js.Integer({ valueHex: new Uint8Array(req.nonce) }) } : {}),
    });
    const tstDer = Buffer.from(tst.toSchema().toBER());
    const certHash = createHash('sha256').update(this.chain[0]!).digest();
    const attrs = [
      new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_TSTINFO })] }),
      new pkijs.Attribute({
        type: OID_MESSAGE_DIGEST,
        values: [new asn1js.OctetString({ valueHex: new Uint8Array(createHash('sha256').update(tstDer).digest()) })],
      }),
      new pkijs.Attribute({
        type: OID_SIGNING_CERT_V2,
        values: [
          new asn1js.Sequence({
            value: [
              new asn1js.Sequence({
                value: [
                  new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: new Uint8Array(certHash) })] }),
                ],
              }),
            ],
          }),
        ],
      }),
    ];
    // DER SET OF is sorted by encoding (X.690 §11.6); verifiers that re-encode the set must get the same bytes.
    const encoded = attrs
      .map((a) => ({ a, der: Buffer.from(a.toSchema().toBER()) }))
      .sort((x, y) => Buffer.compare(x.der, y.der));
    const setDer = Buffer.from(
      new asn1js.Set({ value: encoded.map((e) => asn1js.fromBER(new Uint8Array(e.der)).result) }).toBER(),
    );
    // RFC 5652 §5.4: the signature covers the DER of the signed attributes with the SET OF tag.
    const signature = sign('sha256', setDer, this.key.privateKey);
    const signerInfo = new pkijs.SignerInfo({
      version: 1,
      sid: new pkijs.IssuerAndSerialNumber({ issuer: this.cert.issuer, serialNumber: this.cert.serialNumber }),
      digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 }),
      signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: encoded.map((e) => e.a) }),
      signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_ECDSA_SHA256 }),
      signature: new asn1js.OctetString({ valueHex: new Uint8Array(signature) }),
    });
    // SignedData, ContentInfo and TimeStampResp are assembled directly: pkijs would re-encode eContent as a
    // constructed (BER) OCTET STRING, which DER forbids and strict parsers (@sigstore/core) reject.
    const algSha256 = new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 }).toSchema();
    const signedData = new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 3 }),
        new asn1js.Set({ value: [algSha256] }),
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: OID_TSTINFO }),
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [new asn1js.OctetString({ valueHex: new Uint8Array(tstDer) })],
            }),
          ],
        }),
        ...(req.certReq
          ? [new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [this.cert.toSchema()] })]
          : []),
        new asn1js.Set({ value: [signerInfo.toSchema()] }),
      ],
    });
    const resp = new asn1js.Sequence({
      value: [
        new asn1js.Sequence({ value: [new asn1js.Integer({ value: 0 })] }), // PKIStatusInfo: granted
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: OID_SIGNED_DATA }),
            new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [signedData] }),
          ],
        }),
      ],
    });
    return Buffer.from(resp.toBER());
  }
}
