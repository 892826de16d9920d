/**
 * Key and certificate material of a trust stack, generated on first start and reused: a root CA, an intermediate
 * that issues signing certificates, a TSA leaf, a log key and the dev OIDC issuer key. Private keys are ECDSA
 * P-256 PKCS#8 PEM files written with mode 0600 in a 0700 directory, created exclusively (never overwritten), so
 * two stacks racing on one data directory cannot each mint a different root.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  webcrypto,
} from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// tsyringe, which @peculiar/x509 uses, needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../core/localdev.ts';
import { readCappedSync } from '../core/read.ts';
import { isVouchError, VouchError } from '../errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** An ECDSA P-256 key pair in both forms: node KeyObjects (to sign) and WebCrypto keys (for @peculiar/x509). */
export interface StackKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  cryptoKeys: webcrypto.CryptoKeyPair;
}

async function toStackKey(privateKey: KeyObject): Promise<StackKey> {
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const subtle = webcrypto.subtle;
  const cryptoKeys = {
    privateKey: await subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), ECDSA_P256, true, [
      'sign',
    ]),
    publicKey: await subtle.importKey('spki', spki, ECDSA_P256, true, ['verify']),
  } as unknown as webcrypto.CryptoKeyPair;
  return { privateKey, publicKey, spki, cryptoKeys };
}

/** Keys and certificates are PEM files of a few hundred bytes. */
const MAX_PEM_BYTES = 64 << 10;

function readIfExists(path: string): string | undefined {
  try {
    return readCappedSync(path, { maxBytes: MAX_PEM_BYTES, code: 'CONFIG_INVALID' }).toString('utf8');
  } catch (e) {
    if (isVouchError(e, 'FILE_NOT_FOUND')) return undefined;
    if (isVouchError(e, 'CONFIG_INVALID')) throw e;
    throw new VouchError('CONFIG_INVALID', `cannot read ${path}`, { cause: e });
  }
}

/** Write a file only if it does not exist yet; returns what is on disk afterwards (ours or a racing writer's). */
function writeExclusive(path: string, content: string, mode: number): string {
  try {
    writeFileSync(path, content, { mode, flag: 'wx' });
    return content;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = readIfExists(path);
      if (theirs !== undefined) return theirs;
    }
    throw new VouchError('CONFIG_INVALID', `cannot write ${path}`, { cause: e });
  }
}

export async function loadOrCreateKey(dir: string, name: string): Promise<StackKey> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.key`);
  let pem = readIfExists(path);
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    pem = writeExclusive(path, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, 0o600);
  }
  try {
    return await toStackKey(createPrivateKey(pem));
  } catch (e) {
    throw new VouchError('KEY_INVALID', `${path} is not a usable private key`, { cause: e });
  }
}

/** SHA-256 of a key's DER SPKI: Rekor's log ID and the checkpoint key hint (first 4 bytes). */
export function keyId(spki: Uint8Array): Buffer {
  return createHash('sha256').update(spki).digest();
}

export function randomSerial(): string {
  // 16 random bytes, top bit cleared so the DER INTEGER stays positive (RFC 5280 §4.1.2.2: at most 20 octets).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

export interface CertificateAuthorityMaterial {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  /** Certifies only the stack's own development issuer (src/core/localdev.ts): its subject says so. */
  localIntermediate: x509.X509Certificate;
  tsa: x509.X509Certificate;
  rootKey: StackKey;
  intermediateKey: StackKey;
  localIntermediateKey: StackKey;
  tsaKey: StackKey;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

/**
 * A certificate of the stack, created once for `key`. One found on disk must certify that very key: a key file
 * lost and created anew beside the old certificate would otherwise sign under a certificate that no longer
 * matches it, and every signature issued from then on would fail to chain at the customers'.
 */
async function loadOrCreateCert(
  path: string,
  key: StackKey,
  make: () => Promise<x509.X509Certificate>,
): Promise<x509.X509Certificate> {
  let pem = readIfExists(path);
  if (pem === undefined) pem = writeExclusive(path, (await make()).toString('pem'), 0o644);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch (e) {
    throw new VouchError('CONFIG_INVALID', `${path} is not a certificate`, { cause: e });
  }
  if (!Buffer.from(cert.publicKey.rawData).equals(key.spki)) {
    throw new VouchError('CONFIG_INVALID', `${path} certifies another key than the one in the keys folder`, {
      hint: 'Restore the key this certificate was made for, or move both aside to start a new instance.',
    });
  }
  return cert;
}

/**
 * Load or create the CA hierarchy. Root (10 years, pathLen 1) -> intermediate (pathLen 0, issues 10-minute
 * code-signing leaves), root -> local development intermediate (the same, for the stack's own development issuer
 * only, its organization LOCAL_DEVELOPMENT_ORGANIZATION) and root -> TSA leaf (EKU timeStamping, critical, as
 * RFC 3161 §2.3 requires).
 */
export async function loadOrCreateAuthorities(
  dataDir: string,
  name: string,
  now: Date,
): Promise<CertificateAuthorityMaterial> {
  const keyDir = join(dataDir, 'keys');
  const certDir = join(dataDir, 'certs');
  mkdirSync(certDir, { recursive: true, mode: 0o755 });
  const rootKey = await loadOrCreateKey(keyDir, 'root');
  const intermediateKey = await loadOrCreateKey(keyDir, 'intermediate');
  const localIntermediateKey = await loadOrCreateKey(keyDir, 'local-intermediate');
  const tsaKey = await loadOrCreateKey(keyDir, 'tsa');
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + 10 * YEAR_MS);

  const root = await loadOrCreateCert(join(certDir, 'root.pem'), rootKey, async () =>
    x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${name} root, O=vouch`,
      notBefore,
      notAfter,
      keys: rootKey.cryptoKeys,
      signingAlgorithm: SIGNING_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    }),
  );
  const issued = async (
    file: string,
    subject: string,
    key: StackKey,
    extensions: x509.Extension[],
  ): Promise<x509.X509Certificate> =>
    loadOrCreateCert(join(certDir, file), key, async () =>
      x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject,
        issuer: root.subjectName,
        notBefore,
        notAfter,
        publicKey: key.cryptoKeys.publicKey,
        signingKey: rootKey.cryptoKeys.privateKey,
        signingAlgorithm: SIGNING_ALG,
        extensions: [
          ...extensions,
          await x509.SubjectKeyIdentifierExtension.create(key.cryptoKeys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
        ],
      }),
    );
  const intermediateExtensions = () => [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
  ];
  const intermediate = await issued(
    'intermediate.pem',
    `CN=${name} intermediate, O=vouch`,
    intermediateKey,
    intermediateExtensions(),
  );
  const localIntermediate = await issued(
    'local-intermediate.pem',
    `CN=${name} local development, O=${LOCAL_DEVELOPMENT_ORGANIZATION}`,
    localIntermediateKey,
    intermediateExtensions(),
  );
  const tsa = await issued('tsa.pem', `CN=${name} timestamping, O=vouch`, tsaKey, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.timeStamping], true),
  ]);
  return { root, intermediate, localIntermediate, tsa, rootKey, intermediateKey, localIntermediateKey, tsaKey };
}

export function certDer(cert: x509.X509Certificate): Buffer {
  return Buffer.from(cert.rawData);
}
