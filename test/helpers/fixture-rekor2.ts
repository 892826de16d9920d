/**
 * An in-memory Rekor-v2-style instance for tests: a CA, an Ed25519 log that proves entries only by inclusion in a
 * checkpoint (C2SP signed note, no SET, no integrated time), and an RFC 3161 TSA whose tokens are the only
 * signing time. Covers what no public bundle shows: dsse/0.0.2 bodies, key-pair Rekor v2 entries, tokens whose
 * signer is named by key identifier.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { derEncode } from '../../src/core/der.ts';
import { preAuthEncoding } from '../../src/core/dsse.ts';
import { hashLeaf, inclusionRanges, rootFromLeafHashes } from '../../src/core/merkle.ts';
import { trustedRootJson as trustedRoot } from '../../src/core/trustroot.ts';
import {
  certificate,
  ext,
  int,
  keyUsage,
  type LeafOptions,
  name,
  octets,
  oid,
  p256,
  sanUri,
  selfSignedRoot,
  seq,
  set,
  T0,
  utf8,
} from './fixture-pki.ts';

export interface V2BundleOptions {
  artifact: Buffer;
  /** Sign an in-toto statement (DSSE, dsse/0.0.2 entry) instead of the artifact itself. */
  dsse?: boolean;
  /** Sign with this key pair instead of a fresh certificate (key-pair bundle). */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
  leaf?: LeafOptions;
  /** Time written in the token (default: one minute after T0). */
  tsaTime?: number;
  /** Further tokens over the same signature, at these times. */
  moreTsaTimes?: number[];
  /** How the token names its signer. */
  sid?: 'issuerSerial' | 'keyId';
  /** Log the envelope signature twice in the dsse/0.0.2 body. */
  duplicateLoggedSignature?: boolean;
  /** Omit the timestamp. */
  noTimestamp?: boolean;
  /** Make the token otherwise than a TSA would. */
  token?: TokenOptions;
  /** Where the entry sits in the log (default 5, the last of a tree of 6), and the tree's size. */
  entryIndex?: number;
  treeSize?: number;
  /** Tree size written in the inclusion proof (default: the checkpoint's). */
  proofTreeSize?: number;
  /** The log entry's kind/version (default dsse/0.0.2 for DSSE, hashedrekord/0.0.2 otherwise). */
  entryKind?: EntryKind;
  /** Change the entry body before it is logged: the log proves the edited body (so only the edit can fail). */
  editBody?: (body: Json) => void;
  /**
   * Token whose TSTInfo differs from the one its signed attributes digest (the TSA signed another TSTInfo): its
   * imprint re-aimed at this signature, or its time moved.
   */
  editTstInfo?: 'imprint' | 'genTime';
}

/** Body kinds the verifier knows (src/verify/tlog.ts). */
export type EntryKind = 'hashedrekord/0.0.1' | 'hashedrekord/0.0.2' | 'dsse/0.0.1' | 'dsse/0.0.2' | 'intoto/0.0.2';

// biome-ignore lint/suspicious/noExplicitAny: log entry bodies are edited field by field
export type Json = Record<string, any>;

const pem = (label: string, der: Buffer) =>
  `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');

const SHA256_OID = '2.16.840.1.101.3.4.2.1';
const ECDSA_SHA256_OID = '1.2.840.10045.4.3.2';

/** How to make a token other than a TSA would (RFC 3161 §2.4.2, RFC 5652 §5): one knob per field. */
export interface TokenOptions {
  /** TimeStampResp status value bytes (default 0, granted). */
  status?: Buffer;
  /** A bare ContentInfo, without the TimeStampResp around it. */
  bare?: boolean;
  /** An element after the token in the TimeStampResp. */
  responseExtra?: boolean;
  /** ContentInfo content type (default signedData). */
  contentType?: string;
  /** SignedData digestAlgorithms (default SHA-256). */
  digestAlgorithms?: string[];
  eContentType?: string;
  encapExtra?: boolean;
  noCertificates?: boolean;
  crls?: boolean;
  twoSigners?: boolean;
  signerDigest?: string;
  /** The signed attributes, given the two a TSA writes. */
  attributes?: (a: { contentType: Buffer; messageDigest: Buffer }) => Buffer[];
  signatureAlgorithm?: string;
  unsignedAttributes?: boolean;
  tstVersion?: number;
  imprintAlgorithm?: string;
  /** Serial in the issuer-and-serial signer identifier (default the TSA certificate's, 7). */
  serial?: number;
  /** Key identifier in the subjectKeyIdentifier signer identifier. */
  keyId?: Buffer;
  /** The TSTInfo version as raw INTEGER content bytes. */
  tstVersionBytes?: Buffer;
  /** An element after the last field of: the ContentInfo, the SignedData, the issuer-and-serial signer identifier,
   * the SignerInfo, the message imprint. */
  contentInfoExtra?: boolean;
  signedDataExtra?: boolean;
  signerIdExtra?: boolean;
  signerInfoExtra?: boolean;
  imprintExtra?: boolean;
}

function generalizedTime(ms: number): Buffer {
  const d = new Date(ms).toISOString();
  return derEncode(
    0x18,
    Buffer.from(
      `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}Z`,
    ),
  );
}

export interface V2InstanceOptions {
  /** The TSA certificate's extended key usages; null leaves the extension out. */
  tsaLeafEku?: string[] | null;
  /** Validity of the TSA certificate (default: from an hour before T0 for 30 days). */
  tsaLeafNotBefore?: number;
  tsaLeafNotAfter?: number;
  /** Validity of the TSA's root certificate (default: from a day before T0 for a year). */
  tsaRoot?: { notBefore?: number; notAfter?: number };
}

export function makeRekorV2Instance(opts: V2InstanceOptions = {}) {
  const { keys: caKeys, name: caName, cert: ca } = selfSignedRoot('v2-root');
  const { keys: tsaRootKeys, name: tsaRootName, cert: tsaRoot } = selfSignedRoot('tsa-root', opts.tsaRoot);
  const tsaKeys = p256();
  const tsaName = name('vouch-test', 'tsa');
  const tsaKeyId = createHash('sha1')
    .update(tsaKeys.publicKey.export({ format: 'der', type: 'spki' }))
    .digest();
  const tsaLeaf = certificate({
    serial: 7,
    issuer: tsaRootName,
    subject: tsaName,
    notBefore: opts.tsaLeafNotBefore ?? T0 - 3600_000,
    notAfter: opts.tsaLeafNotAfter ?? T0 + 30 * 86400_000,
    publicKey: tsaKeys.publicKey,
    signingKey: tsaRootKeys.privateKey,
    extensions: [
      ext('2.5.29.15', true, keyUsage(1)),
      ...(opts.tsaLeafEku === null
        ? []
        : [ext('2.5.29.37', true, seq(...(opts.tsaLeafEku ?? ['1.3.6.1.5.5.7.3.8']).map(oid)))]),
      ext('2.5.29.14', false, octets(tsaKeyId)),
    ],
  });

  const log = generateKeyPairSync('ed25519');
  const logName = 'log2.test';
  const rawPub = log.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  // C2SP signed-note key ID for Ed25519: SHA-256(name || "\n" || 0x01 || public key).
  const logId = createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${logName}\n`), Buffer.from([1]), rawPub]))
    .digest();
  const filler = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`other entry ${from + i}`)));

  const start = new Date('2024-01-01T00:00:00Z');
  const trustedRootJson = JSON.stringify(
    trustedRoot({
      tlogs: [
        {
          baseUrl: `https://${logName}`,
          publicKey: log.publicKey.export({ format: 'der', type: 'spki' }),
          keyDetails: 'PKIX_ED25519',
          logId,
          start,
        },
      ],
      certificateAuthorities: [
        { subject: { organization: 'vouch-test', commonName: 'v2-root' }, uri: 'https://ca.test', chain: [ca], start },
      ],
      timestampAuthorities: [
        {
          subject: { organization: 'vouch-test', commonName: 'tsa' },
          uri: 'https://tsa.test',
          chain: [tsaLeaf, tsaRoot],
          start,
        },
      ],
    }),
  );

  function timestamp(
    signature: Buffer,
    at: number,
    sid: 'issuerSerial' | 'keyId',
    edit?: V2BundleOptions['editTstInfo'],
    t: TokenOptions = {},
  ): Buffer {
    const imprintAlg = seq(oid(t.imprintAlgorithm ?? SHA256_OID));
    const info = (over: Buffer, time: number) =>
      seq(
        t.tstVersionBytes ? derEncode(0x02, t.tstVersionBytes) : int(t.tstVersion ?? 1),
        oid('1.2.3.4.1'),
        seq(imprintAlg, octets(createHash('sha256').update(over).digest()), ...(t.imprintExtra ? [int(0)] : [])),
        int(9),
        generalizedTime(time),
      );
    const tstInfo = info(signature, at);
    // What the TSA signed: this TSTInfo, or (an edited token) the original one, over another signature or time.
    const signedInfo =
      edit === 'imprint'
        ? info(Buffer.from('another signature'), at)
        : edit === 'genTime'
          ? info(signature, at + 86400_000)
          : tstInfo;
    const contentType = seq(oid('1.2.840.113549.1.9.3'), set(oid('1.2.840.113549.1.9.16.1.4')));
    const messageDigest = seq(
      oid('1.2.840.113549.1.9.4'),
      set(octets(createHash('sha256').update(signedInfo).digest())),
    );
    const attrs = Buffer.concat(
      t.attributes ? t.attributes({ contentType, messageDigest }) : [contentType, messageDigest],
    );
    const sig = sign('sha256', derEncode(0x31, attrs), tsaKeys.privateKey);
    const signerId =
      sid === 'keyId'
        ? derEncode(0x80, t.keyId ?? tsaKeyId)
        : seq(tsaRootName, int(t.serial ?? 7), ...(t.signerIdExtra ? [int(0)] : []));
    const signerInfo = seq(
      int(sid === 'keyId' ? 3 : 1),
      signerId,
      seq(oid(t.signerDigest ?? SHA256_OID)),
      derEncode(0xa0, attrs),
      seq(oid(t.signatureAlgorithm ?? ECDSA_SHA256_OID)),
      octets(sig),
      ...(t.unsignedAttributes ? [derEncode(0xa1, seq(oid('1.2.3.4.5'), set(int(1))))] : []),
      ...(t.signerInfoExtra ? [int(0)] : []),
    );
    const signedData = seq(
      int(3),
      set(...(t.digestAlgorithms ?? [SHA256_OID]).map((o) => seq(oid(o)))),
      seq(
        oid(t.eContentType ?? '1.2.840.113549.1.9.16.1.4'),
        derEncode(0xa0, octets(tstInfo)),
        ...(t.encapExtra ? [int(0)] : []),
      ),
      ...(t.noCertificates ? [] : [derEncode(0xa0, tsaLeaf)]),
      ...(t.crls ? [derEncode(0xa1, Buffer.alloc(0))] : []),
      set(signerInfo, ...(t.twoSigners ? [signerInfo] : [])),
      ...(t.signedDataExtra ? [int(0)] : []),
    );
    const contentInfo = seq(
      oid(t.contentType ?? '1.2.840.113549.1.7.2'),
      derEncode(0xa0, signedData),
      ...(t.contentInfoExtra ? [int(0)] : []),
    );
    if (t.bare) return contentInfo;
    const status = t.status === undefined ? int(0) : derEncode(0x02, t.status);
    return seq(seq(status), contentInfo, ...(t.responseExtra ? [int(0)] : []));
  }

  let serial = 2;
  function bundle(o: V2BundleOptions): string {
    let key: KeyObject;
    let verifier: Record<string, unknown>;
    const material: Record<string, unknown> = {};
    if (o.keyPair) {
      key = o.keyPair.privateKey;
      const spki = o.keyPair.publicKey.export({ format: 'der', type: 'spki' });
      verifier = { keyDetails: 'PKIX_ECDSA_P256_SHA_256', publicKey: { rawBytes: spki.toString('base64') } };
      material.publicKey = { hint: createHash('sha256').update(spki).digest('hex') };
    } else {
      const leafKeys = p256();
      const l = o.leaf ?? {};
      const leaf = certificate({
        serial: serial++,
        issuer: caName,
        subject: seq(),
        notBefore: l.notBefore ?? T0,
        notAfter: l.notAfter ?? T0 + 600_000,
        publicKey: leafKeys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          ext('2.5.29.15', true, keyUsage(1)),
          ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.3'))),
          ext(
            '2.5.29.17',
            true,
            seq(sanUri('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main')),
          ),
          ext('1.3.6.1.4.1.57264.1.8', false, utf8('https://token.actions.githubusercontent.com')),
        ],
      });
      key = leafKeys.privateKey;
      verifier = { keyDetails: 'PKIX_ECDSA_P256_SHA_256', x509Certificate: { rawBytes: leaf.toString('base64') } };
      material.certificate = { rawBytes: leaf.toString('base64') };
    }
    const digest = createHash('sha256').update(o.artifact).digest();
    const keyPem = o.keyPair
      ? pem('PUBLIC KEY', o.keyPair.publicKey.export({ format: 'der', type: 'spki' }))
      : pem('CERTIFICATE', Buffer.from((material.certificate as { rawBytes: string }).rawBytes, 'base64'));
    let content: Record<string, unknown>;
    let signature: Buffer;
    const kind: EntryKind = o.entryKind ?? (o.dsse ? 'dsse/0.0.2' : 'hashedrekord/0.0.2');
    let body: Json;
    if (o.dsse) {
      const payload = Buffer.from(
        JSON.stringify({
          _type: 'https://in-toto.io/Statement/v1',
          subject: [{ name: 'artifact', digest: { sha256: digest.toString('hex') } }],
          predicateType: 'https://example.com/p',
        }),
      );
      const type = 'application/vnd.in-toto+json';
      const pae = preAuthEncoding(type, payload);
      signature = sign('sha256', pae, key);
      content = {
        dsseEnvelope: {
          payload: payload.toString('base64'),
          payloadType: type,
          signatures: [{ sig: signature.toString('base64'), keyid: '' }],
        },
      };
      const payloadSha = createHash('sha256').update(payload).digest();
      const twice = <T>(x: T) => (o.duplicateLoggedSignature ? [x, x] : [x]);
      switch (kind) {
        case 'dsse/0.0.2':
          body = {
            apiVersion: '0.0.2',
            kind: 'dsse',
            spec: {
              dsseV002: {
                payloadHash: { algorithm: 'SHA2_256', digest: b64(payloadSha) },
                signatures: twice({ content: b64(signature), verifier }),
              },
            },
          };
          break;
        case 'dsse/0.0.1':
          body = {
            apiVersion: '0.0.1',
            kind: 'dsse',
            spec: {
              payloadHash: { algorithm: 'sha256', value: payloadSha.toString('hex') },
              signatures: twice({ signature: b64(signature), verifier: b64(keyPem) }),
            },
          };
          break;
        case 'intoto/0.0.2':
          body = {
            apiVersion: '0.0.2',
            kind: 'intoto',
            spec: {
              content: {
                envelope: {
                  payloadType: type,
                  signatures: twice({ sig: b64(b64(signature)), publicKey: b64(keyPem) }),
                },
                payloadHash: { algorithm: 'sha256', value: payloadSha.toString('hex') },
              },
            },
          };
          break;
        case 'hashedrekord/0.0.2':
          // A DSSE envelope logged as hashedrekord/0.0.2: the digest is that of the PAE (Rekor v2).
          body = {
            apiVersion: '0.0.2',
            kind: 'hashedrekord',
            spec: {
              hashedRekordV002: {
                data: { algorithm: 'SHA2_256', digest: b64(createHash('sha256').update(pae).digest()) },
                signature: { content: b64(signature), verifier },
              },
            },
          };
          break;
        default:
          throw new Error(`${kind} cannot log a DSSE envelope`);
      }
    } else {
      signature = sign('sha256', o.artifact, key);
      content = {
        messageSignature: {
          messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
          signature: signature.toString('base64'),
        },
      };
      switch (kind) {
        case 'hashedrekord/0.0.2':
          body = {
            apiVersion: '0.0.2',
            kind: 'hashedrekord',
            spec: {
              hashedRekordV002: {
                data: { algorithm: 'SHA2_256', digest: b64(digest) },
                signature: { content: b64(signature), verifier },
              },
            },
          };
          break;
        case 'hashedrekord/0.0.1':
          body = {
            apiVersion: '0.0.1',
            kind: 'hashedrekord',
            spec: {
              data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
              signature: { content: b64(signature), publicKey: { content: b64(keyPem) } },
            },
          };
          break;
        default:
          throw new Error(`${kind} cannot log a message signature`);
      }
    }
    o.editBody?.(body);
    const canonicalizedBody = Buffer.from(JSON.stringify(body));
    const index = o.entryIndex ?? 5;
    const leaves = [...filler(index, 0), hashLeaf(canonicalizedBody)];
    leaves.push(...filler(Math.max(0, (o.treeSize ?? leaves.length) - leaves.length), index + 1));
    const root = rootFromLeafHashes(leaves);
    const hashes = inclusionRanges(index, leaves.length).map((r) => rootFromLeafHashes(leaves.slice(r.start, r.end)));
    const text = `${logName}\n${leaves.length}\n${root.toString('base64')}\n`;
    const noteSig = Buffer.concat([logId.subarray(0, 4), sign(null, Buffer.from(text), log.privateKey)]);
    const envelope = `${text}\n\u2014 ${logName} ${noteSig.toString('base64')}\n`;
    const vm: Record<string, unknown> = {
      ...material,
      tlogEntries: [
        {
          logIndex: String(index),
          logId: { keyId: logId.toString('base64') },
          kindVersion: { kind: kind.split('/')[0], version: kind.split('/')[1] },
          inclusionProof: {
            logIndex: String(index),
            rootHash: root.toString('base64'),
            treeSize: String(o.proofTreeSize ?? leaves.length),
            hashes: hashes.map((h) => h.toString('base64')),
            checkpoint: { envelope },
          },
          canonicalizedBody: canonicalizedBody.toString('base64'),
        },
      ],
    };
    if (!o.noTimestamp) {
      const token = timestamp(signature, o.tsaTime ?? T0 + 60_000, o.sid ?? 'issuerSerial', o.editTstInfo, o.token);
      const more = (o.moreTsaTimes ?? []).map((t) => timestamp(signature, t, o.sid ?? 'issuerSerial'));
      vm.timestampVerificationData = {
        rfc3161Timestamps: [token, ...more].map((t) => ({ signedTimestamp: t.toString('base64') })),
      };
    }
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: vm,
      ...content,
    });
  }
  return { trustedRootJson, bundle };
}
