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
  /** How the token names its signer. */
  sid?: 'issuerSerial' | 'keyId';
  /** Log the envelope signature twice in the dsse/0.0.2 body. */
  duplicateLoggedSignature?: boolean;
  /** Omit the timestamp. */
  noTimestamp?: boolean;
}

const SHA256 = seq(oid('2.16.840.1.101.3.4.2.1'));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function generalizedTime(ms: number): Buffer {
  const d = new Date(ms).toISOString();
  return derEncode(
    0x18,
    Buffer.from(
      `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}Z`,
    ),
  );
}

export function makeRekorV2Instance(opts: { tsaLeafEku?: string[] } = {}) {
  const { keys: caKeys, name: caName, cert: ca } = selfSignedRoot('v2-root');
  const { keys: tsaRootKeys, name: tsaRootName, cert: tsaRoot } = selfSignedRoot('tsa-root');
  const tsaKeys = p256();
  const tsaName = name('vouch-test', 'tsa');
  const tsaKeyId = createHash('sha1')
    .update(tsaKeys.publicKey.export({ format: 'der', type: 'spki' }))
    .digest();
  const tsaLeaf = certificate({
    serial: 7,
    issuer: tsaRootName,
    subject: tsaName,
    notBefore: T0 - 3600_000,
    notAfter: T0 + 30 * 86400_000,
    publicKey: tsaKeys.publicKey,
    signingKey: tsaRootKeys.privateKey,
    extensions: [
      ext('2.5.29.15', true, keyUsage(1)),
      ext('2.5.29.37', true, seq(...(opts.tsaLeafEku ?? ['1.3.6.1.5.5.7.3.8']).map(oid))),
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
  const filler = Array.from({ length: 5 }, (_, i) => hashLeaf(Buffer.from(`earlier entry ${i}`)));

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

  function timestamp(signature: Buffer, at: number, sid: 'issuerSerial' | 'keyId'): Buffer {
    const tstInfo = seq(
      int(1),
      oid('1.2.3.4.1'),
      seq(SHA256, octets(createHash('sha256').update(signature).digest())),
      int(9),
      generalizedTime(at),
    );
    const attrs = Buffer.concat([
      seq(oid('1.2.840.113549.1.9.3'), set(oid('1.2.840.113549.1.9.16.1.4'))),
      seq(oid('1.2.840.113549.1.9.4'), set(octets(createHash('sha256').update(tstInfo).digest()))),
    ]);
    const sig = sign('sha256', derEncode(0x31, attrs), tsaKeys.privateKey);
    const signerId = sid === 'keyId' ? derEncode(0x80, tsaKeyId) : seq(tsaRootName, int(7));
    const signerInfo = seq(
      int(sid === 'keyId' ? 3 : 1),
      signerId,
      SHA256,
      derEncode(0xa0, attrs),
      ECDSA_SHA256,
      octets(sig),
    );
    const signedData = seq(
      int(3),
      set(SHA256),
      seq(oid('1.2.840.113549.1.9.16.1.4'), derEncode(0xa0, octets(tstInfo))),
      derEncode(0xa0, tsaLeaf),
      set(signerInfo),
    );
    return seq(seq(int(0)), seq(oid('1.2.840.113549.1.7.2'), derEncode(0xa0, signedData)));
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
    let content: Record<string, unknown>;
    let signature: Buffer;
    let body: unknown;
    if (o.dsse) {
      const payload = Buffer.from(
        JSON.stringify({
          _type: 'https://in-toto.io/Statement/v1',
          subject: [{ name: 'artifact', digest: { sha256: digest.toString('hex') } }],
          predicateType: 'https://example.com/p',
        }),
      );
      const type = 'application/vnd.in-toto+json';
      signature = sign('sha256', preAuthEncoding(type, payload), key);
      content = {
        dsseEnvelope: {
          payload: payload.toString('base64'),
          payloadType: type,
          signatures: [{ sig: signature.toString('base64'), keyid: '' }],
        },
      };
      const logged = { content: signature.toString('base64'), verifier };
      body = {
        apiVersion: '0.0.2',
        kind: 'dsse',
        spec: {
          dsseV002: {
            payloadHash: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
            signatures: o.duplicateLoggedSignature ? [logged, logged] : [logged],
          },
        },
      };
    } else {
      signature = sign('sha256', o.artifact, key);
      content = {
        messageSignature: {
          messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
          signature: signature.toString('base64'),
        },
      };
      body = {
        apiVersion: '0.0.2',
        kind: 'hashedrekord',
        spec: {
          hashedRekordV002: {
            data: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
            signature: { content: signature.toString('base64'), verifier },
          },
        },
      };
    }
    const canonicalizedBody = Buffer.from(JSON.stringify(body));
    const leaves = [...filler, hashLeaf(canonicalizedBody)];
    const index = leaves.length - 1;
    const root = rootFromLeafHashes(leaves);
    const hashes = inclusionRanges(index, leaves.length).map((r) => rootFromLeafHashes(leaves.slice(r.start, r.end)));
    const text = `${logName}\n${leaves.length}\n${root.toString('base64')}\n`;
    const noteSig = Buffer.concat([logId.subarray(0, 4), sign(null, Buffer.from(text), log.privateKey)]);
    const envelope = `${text}\n\u2014 ${logName} ${noteSig.toString('base64')}\n`;
    const kind = o.dsse ? 'dsse' : 'hashedrekord';
    const vm: Record<string, unknown> = {
      ...material,
      tlogEntries: [
        {
          logIndex: String(index),
          logId: { keyId: logId.toString('base64') },
          kindVersion: { kind, version: '0.0.2' },
          inclusionProof: {
            logIndex: String(index),
            rootHash: root.toString('base64'),
            treeSize: String(leaves.length),
            hashes: hashes.map((h) => h.toString('base64')),
            checkpoint: { envelope },
          },
          canonicalizedBody: canonicalizedBody.toString('base64'),
        },
      ],
    };
    if (!o.noTimestamp) {
      const token = timestamp(signature, o.tsaTime ?? T0 + 60_000, o.sid ?? 'issuerSerial');
      vm.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: token.toString('base64') }] };
    }
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: vm,
      ...content,
    });
  }
  return { trustedRootJson, bundle };
}
