/**
 * A tiny Sigstore-like instance made in memory for tests that need certificates no real CA would issue (expired,
 * CA leaves, odd SANs): a root CA (optionally with an intermediate), a Rekor-v1-style log key that signs entry
 * timestamps, optionally a CT log whose SCTs are embedded in the leaves, and a trusted root naming them. Bundles
 * are v0.1 (an inclusion promise is enough there), so no Merkle tree is needed.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { derEncode } from '../../src/core/der.ts';
import { trustedRootJson as trustedRoot } from '../../src/core/trustroot.ts';
import { parseCertificate, sctSignedData } from '../../src/core/x509.ts';

export const T0 = Date.parse('2025-01-01T00:00:00Z');

// ---- just enough DER to write certificates (X.690; RFC 5280 §4.1) ----------------------------------------------
export const seq = (...parts: Buffer[]) => derEncode(0x30, Buffer.concat(parts));
export const set = (...parts: Buffer[]) => derEncode(0x31, Buffer.concat(parts));
export const int = (n: number) => derEncode(0x02, Buffer.from([n & 0x7f]));
export const bool = (b: boolean) => derEncode(0x01, Buffer.from([b ? 0xff : 0]));
export const octets = (b: Buffer) => derEncode(0x04, b);
export const bits = (b: Buffer) => derEncode(0x03, Buffer.concat([Buffer.from([0]), b]));
export function oid(s: string): Buffer {
  const n = s.split('.').map(Number);
  const out = [n[0]! * 40 + n[1]!];
  for (const v of n.slice(2)) {
    const b = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift((x & 0x7f) | 0x80);
    out.push(...b);
  }
  return derEncode(0x06, Buffer.from(out));
}
function utcTime(ms: number): Buffer {
  const d = new Date(ms).toISOString();
  return derEncode(
    0x17,
    Buffer.from(
      `${d.slice(2, 4)}${d.slice(5, 7)}${d.slice(8, 10)}${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}Z`,
    ),
  );
}
export const name = (org: string, cn: string) =>
  seq(
    set(seq(oid('2.5.4.10'), derEncode(0x0c, Buffer.from(org)))),
    set(seq(oid('2.5.4.3'), derEncode(0x0c, Buffer.from(cn)))),
  );
export const ext = (id: string, critical: boolean, value: Buffer) =>
  critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
/** KeyUsage BIT STRING from bit numbers (0 = digitalSignature, 5 = keyCertSign). */
export function keyUsage(flags: number): Buffer {
  let byte = 0;
  for (let b = 0; b < 8; b++) if (flags & (1 << b)) byte |= 0x80 >> b;
  return derEncode(0x03, Buffer.from([0, byte]));
}

export function certificate(o: {
  serial: number;
  issuer: Buffer;
  subject: Buffer;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  signingKey: KeyObject;
  extensions: Buffer[];
}): Buffer {
  const alg = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    derEncode(0xa0, int(2)),
    int(o.serial),
    alg,
    o.issuer,
    seq(utcTime(o.notBefore), utcTime(o.notAfter)),
    o.subject,
    o.publicKey.export({ format: 'der', type: 'spki' }),
    derEncode(0xa3, seq(...o.extensions)),
  );
  return seq(tbs, alg, bits(sign('sha256', tbs, o.signingKey)));
}

export const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

export interface LeafOptions {
  /** DER content of GeneralNames (use `sanUri`, `sanEmail`, `sanOther`). */
  san?: Buffer;
  issuer?: string;
  notBefore?: number;
  notAfter?: number;
  ca?: boolean;
  keyUsage?: number;
  eku?: string[];
  extraCritical?: boolean;
  /** Also write the deprecated raw issuer extension (.1.1) with this value. */
  issuerV1?: string;
  /** Leave out the Fulcio issuer extension (.1.8). */
  noIssuer?: boolean;
  /** Embedded SCT of an instance with a CT log: by the log (default), by another key under its log ID, or none. */
  sct?: 'valid' | 'forged' | 'none' | 'another-certificate';
  /** SCT timestamp (default: the leaf's notBefore). */
  sctTime?: number;
}

export const sanUri = (v: string) => derEncode(0x86, Buffer.from(v, 'latin1'));
export const sanEmail = (v: string) => derEncode(0x81, Buffer.from(v, 'latin1'));

export const utf8 = (s: string) => derEncode(0x0c, Buffer.from(s, 'utf8'));

export interface Instance {
  trustedRootJson: string;
  /** A keyless v0.1 bundle for `artifact`, signed by a fresh leaf made with `leaf` options. */
  bundle(artifact: Buffer, leaf?: LeafOptions, opts?: { integratedTime?: number }): Promise<string>;
}

/** How a CA certificate of an instance is made (defaults: a CA valid from a day before T0 for a year). */
export interface CaOptions {
  notBefore?: number;
  notAfter?: number;
  /** The basic constraints CA flag (default true). */
  ca?: boolean;
  /** Key usage bits (default keyCertSign + cRLSign). */
  keyUsage?: number;
}

/** A CA certificate (CA flag, keyCertSign + cRLSign) valid from a day before T0 for a year, and its keys. */
function caCertificate(
  commonName: string,
  o: CaOptions = {},
  parent?: { name: Buffer; keys: ReturnType<typeof p256> },
) {
  const keys = p256();
  const caName = name('vouch-test', commonName);
  const extensions = [ext('2.5.29.15', true, keyUsage(o.keyUsage ?? (1 << 5) | (1 << 6)))];
  if (o.ca !== false) extensions.unshift(ext('2.5.29.19', true, seq(bool(true))));
  const cert = certificate({
    serial: parent ? 3 : 1,
    issuer: parent?.name ?? caName,
    subject: caName,
    notBefore: o.notBefore ?? T0 - 86400_000,
    notAfter: o.notAfter ?? T0 + 365 * 86400_000,
    publicKey: keys.publicKey,
    signingKey: (parent?.keys ?? keys).privateKey,
    extensions,
  });
  return { keys, name: caName, cert };
}

/** A self-signed CA certificate (CA flag, keyCertSign + cRLSign) valid from a day before T0 for a year, and its keys. */
export function selfSignedRoot(commonName: string, o: CaOptions = {}) {
  return caCertificate(commonName, o);
}

export interface InstanceOptions {
  /** The root CA certificate. */
  root?: CaOptions;
  /** Issue leaves from an intermediate under the root, made with these options. */
  intermediate?: CaOptions;
  /** The CA's validFor in the trusted root (default: from 2024, open). */
  caValidFor?: { start: string; end?: string };
  /** Add a CT log (ECDSA P-256) to the trusted root, valid for this window; leaves then carry an SCT. */
  ctlog?: { start: string; end?: string };
}

/** A TLS-encoded SCT list holding one SCT (RFC 6962 §3.2, §3.3), as the value of the SCT list extension. */
function sctListExtension(logId: Buffer, timestamp: number, signature: Buffer): Buffer {
  const head = Buffer.alloc(43);
  head[0] = 0; // v1
  logId.copy(head, 1);
  head.writeBigUInt64BE(BigInt(timestamp), 33);
  head.writeUInt16BE(0, 41); // no extensions
  const sig = Buffer.alloc(4);
  sig[0] = 4; // sha256
  sig[1] = 3; // ecdsa
  sig.writeUInt16BE(signature.length, 2);
  const sct = Buffer.concat([head, sig, signature]);
  const item = Buffer.concat([Buffer.from([sct.length >> 8, sct.length & 0xff]), sct]);
  const list = Buffer.concat([Buffer.from([item.length >> 8, item.length & 0xff]), item]);
  return ext('1.3.6.1.4.1.11129.2.4.2', false, octets(list));
}

export async function makeInstance(options: InstanceOptions = {}): Promise<Instance> {
  const rootCa = selfSignedRoot('test-root', options.root);
  const inter = options.intermediate
    ? caCertificate('test-intermediate', options.intermediate, { name: rootCa.name, keys: rootCa.keys })
    : undefined;
  const issuing = inter ?? rootCa;
  const { keys: rootKeys, name: rootName } = issuing;
  const chain = inter ? [inter.cert, rootCa.cert] : [rootCa.cert];
  const ctKeys = p256();
  const ctSpki = ctKeys.publicKey.export({ format: 'der', type: 'spki' });
  const ctLogId = createHash('sha256').update(ctSpki).digest();
  const logKeys = p256();
  const logPriv = logKeys.privateKey;
  const logSpki = logKeys.publicKey.export({ format: 'der', type: 'spki' });
  const logId = createHash('sha256').update(logSpki).digest();
  const start = new Date('2024-01-01T00:00:00Z');
  const window = (w: { start: string; end?: string }) =>
    w.end === undefined ? { start: new Date(w.start) } : { start: new Date(w.start), end: new Date(w.end) };
  const trustedRootJson = JSON.stringify(
    trustedRoot({
      tlogs: [{ baseUrl: 'https://log.test', publicKey: logSpki, keyDetails: 'PKIX_ECDSA_P256_SHA_256', logId, start }],
      certificateAuthorities: [
        {
          subject: { organization: 'vouch-test', commonName: 'test-root' },
          uri: 'https://ca.test',
          chain,
          ...(options.caValidFor ? window(options.caValidFor) : { start }),
        },
      ],
      ctlogs: options.ctlog
        ? [
            {
              baseUrl: 'https://ct.test',
              publicKey: ctSpki,
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
              logId: ctLogId,
              ...window(options.ctlog),
            },
          ]
        : [],
    }),
  );

  let serial = 2;
  async function bundle(artifact: Buffer, o: LeafOptions = {}, opts: { integratedTime?: number } = {}) {
    const leafKeys = p256();
    const extensions = [
      ext('2.5.29.15', true, keyUsage(o.keyUsage ?? 1)),
      ext('2.5.29.37', false, seq(...(o.eku ?? ['1.3.6.1.5.5.7.3.3']).map(oid))),
      ext(
        '2.5.29.17',
        true,
        derEncode(0x30, o.san ?? sanUri('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main')),
      ),
    ];
    if (!o.noIssuer) {
      extensions.push(
        ext('1.3.6.1.4.1.57264.1.8', false, utf8(o.issuer ?? 'https://token.actions.githubusercontent.com')),
      );
    }
    if (o.issuerV1) extensions.push(ext('1.3.6.1.4.1.57264.1.1', false, Buffer.from(o.issuerV1)));
    if (o.ca) extensions.push(ext('2.5.29.19', true, seq(bool(true))));
    if (o.extraCritical) extensions.push(ext('1.2.3.4.5.6', true, derEncode(0x05, Buffer.alloc(0))));
    const tbs = {
      serial: serial++,
      issuer: rootName,
      subject: seq(),
      notBefore: o.notBefore ?? T0,
      notAfter: o.notAfter ?? T0 + 600_000,
      publicKey: leafKeys.publicKey,
      signingKey: rootKeys.privateKey,
    };
    let leafDer = certificate({ ...tbs, extensions });
    if (options.ctlog && o.sct !== 'none') {
      // The log signs the precertificate: the final TBS without the SCT list (RFC 6962 §3.2), so the signed data is
      // that of the leaf made without it. A forged SCT names this log but is signed by another key.
      const at = o.sctTime ?? tbs.notBefore;
      const placeholder = { logId: ctLogId, timestamp: BigInt(at), extensions: Buffer.alloc(0) } as const;
      // 'another-certificate': a genuine SCT of the log, for the precertificate of another leaf (another serial).
      const pre =
        o.sct === 'another-certificate' ? certificate({ ...tbs, serial: tbs.serial + 64, extensions }) : leafDer;
      const data = sctSignedData(
        parseCertificate(pre),
        issuing.keys.publicKey.export({ format: 'der', type: 'spki' }),
        {
          ...placeholder,
          hashAlgorithm: 4,
          signatureAlgorithm: 3,
          signature: Buffer.alloc(0),
        },
      );
      const signer = o.sct === 'forged' ? p256().privateKey : ctKeys.privateKey;
      leafDer = certificate({
        ...tbs,
        extensions: [...extensions, sctListExtension(ctLogId, at, sign('sha256', data, signer))],
      });
    }
    const digest = createHash('sha256').update(artifact).digest();
    const signature = sign('sha256', artifact, leafKeys.privateKey);
    const pem = `-----BEGIN CERTIFICATE-----\n${leafDer.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const body = JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: {
          content: signature.toString('base64'),
          publicKey: { content: Buffer.from(pem).toString('base64') },
        },
      },
    });
    const integratedTime = Math.floor((opts.integratedTime ?? T0 + 60_000) / 1000);
    const logIndex = 7;
    const bodyB64 = Buffer.from(body).toString('base64');
    const setPayload = `{"body":"${bodyB64}","integratedTime":${integratedTime},"logID":"${logId.toString('hex')}","logIndex":${logIndex}}`;
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: {
        x509CertificateChain: { certificates: [{ rawBytes: leafDer.toString('base64') }] },
        tlogEntries: [
          {
            logIndex: String(logIndex),
            logId: { keyId: logId.toString('base64') },
            kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
            integratedTime: String(integratedTime),
            inclusionPromise: {
              signedEntryTimestamp: sign('sha256', Buffer.from(setPayload), logPriv).toString('base64'),
            },
            canonicalizedBody: bodyB64,
          },
        ],
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
        signature: signature.toString('base64'),
      },
    });
  }
  return { trustedRootJson, bundle };
}
