/**
 * Trust material loaded once from a Sigstore TrustedRoot (protobuf-specs sigstore_trustroot.proto): certificate
 * authorities, transparency logs, CT logs and timestamp authorities, each with its validity window. Every key and
 * certificate is parsed (and every CA chain checked) here, once, so verification itself only looks things up.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { decodeBase64 } from '../core/encoding.ts';
import { asArray, asObject, asString, parseStrictJson } from '../core/json.ts';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../core/localdev.ts';
import { type Certificate, isIssuedBy, parseCertificate, publicKeyOf } from '../core/x509.ts';
import { VouchError } from '../errors.ts';

export interface LogAuthority {
  baseUrl: string;
  /** Host name of baseUrl: the name the log signs checkpoints with (C2SP signed-note key name). */
  host: string;
  logId: Buffer;
  spki: Buffer;
  key: KeyObject;
  /** Digest for signatures by this key (null for Ed25519). */
  hash: string | null;
  /** Inclusive validity window in epoch ms (trustroot TimeRange); `end` Infinity when open. */
  start: number;
  end: number;
}

export interface CertificateAuthority {
  uri: string;
  /** Marked in the trusted root as a local development CA (src/core/localdev.ts). */
  localDevelopment: boolean;
  /** Issuing certificate first, root last, as in the trusted root. */
  certificates: Certificate[];
  keys: KeyObject[];
  start: number;
  end: number;
}

/** A TrustedRoot ready for verification. Immutable after loading; safe to share across verifications. */
export interface TrustMaterial {
  mediaType: string;
  certificateAuthorities: CertificateAuthority[];
  timestampAuthorities: CertificateAuthority[];
  tlogs: LogAuthority[];
  ctlogs: LogAuthority[];
  /** OIDC issuers of local development instances: identities they vouch for are marked as such in results. */
  localIssuers: string[];
  /** The whole root is a local development instance: every keyless identity is marked as such. */
  localDevelopment: boolean;
  /** Logs by lowercase hex log ID; several entries when one key has several validity windows. */
  tlogById: Map<string, LogAuthority[]>;
  ctlogById: Map<string, LogAuthority[]>;
}

export interface LoadTrustOptions {
  /** OIDC issuers whose identities are local development identities (the embedded instance's dev issuer). */
  localIssuers?: string[];
  /** Every identity this root's CAs certify is a local development identity (the embedded instance's root). */
  localDevelopment?: boolean;
}

/** Largest trusted root document read (the public-good root is ~10 KiB). */
export const MAX_TRUST_ROOT_BYTES = 4 << 20;
const TRUST_MEDIA = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v0\.[1-9]\+json|\+json;version=0\.[1-9])$/;

function invalid(msg: string, cause?: unknown): never {
  throw new VouchError('TRUST_ROOT_INVALID', msg, { cause });
}

/**
 * Load a Sigstore TrustedRoot: JSON text (parsed strictly: size cap, duplicate keys refused) or an already parsed
 * object (e.g. from the trust store). Raises TRUST_ROOT_INVALID for anything malformed or inconsistent.
 */
export function loadTrustedRoot(json: string | object, options: LoadTrustOptions = {}): TrustMaterial {
  const doc = asObject(
    typeof json === 'string'
      ? parseStrictJson(json, { maxBytes: MAX_TRUST_ROOT_BYTES, code: 'TRUST_ROOT_INVALID', what: 'trusted root' })
      : json,
    'trusted root',
    'TRUST_ROOT_INVALID',
  );
  const mediaType = asString(doc.mediaType, 'mediaType', 'TRUST_ROOT_INVALID');
  // Stryker disable next-line MethodExpression: the length of the message only
  if (!TRUST_MEDIA.test(mediaType)) invalid(`unsupported trusted root media type ${mediaType.slice(0, 100)}`);
  const list = (k: string) => (doc[k] === undefined || doc[k] === null ? [] : asArray(doc[k], k, 'TRUST_ROOT_INVALID'));
  const tlogs = list('tlogs').map((t, i) => loadLog(t, `tlogs[${i}]`));
  const ctlogs = list('ctlogs').map((t, i) => loadLog(t, `ctlogs[${i}]`));
  const cas = list('certificateAuthorities').map((c, i) => loadCa(c, `certificateAuthorities[${i}]`));
  const tsas = list('timestampAuthorities').map((c, i) => loadCa(c, `timestampAuthorities[${i}]`));
  return {
    mediaType,
    certificateAuthorities: cas,
    timestampAuthorities: tsas,
    tlogs,
    ctlogs,
    localIssuers: [...(options.localIssuers ?? [])],
    localDevelopment: options.localDevelopment === true,
    tlogById: indexLogs(tlogs),
    ctlogById: indexLogs(ctlogs),
  };
}

/**
 * Trust in no authority at all: what a key-pair bundle without log entries or timestamps is checked against (its
 * policy's keys decide alone), so the trust store need not be read.
 */
export function noAuthorities(): TrustMaterial {
  return {
    mediaType: '',
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    localIssuers: [],
    localDevelopment: false,
    tlogById: new Map(),
    ctlogById: new Map(),
  };
}

function indexLogs(logs: LogAuthority[]): Map<string, LogAuthority[]> {
  const m = new Map<string, LogAuthority[]>();
  for (const l of logs) {
    // One log ID may be listed several times (the same key with separate validity windows); each window stays
    // separate so a time in the gap between two windows is not accepted. Two different keys under one ID are
    // a malformed root.
    const k = l.logId.toString('hex');
    const list = m.get(k);
    // Stryker disable next-line MethodExpression: the earlier entries of a list all have one key (another was refused when it came), so some and every agree
    if (list?.some((prev) => !prev.spki.equals(l.spki))) invalid(`two different keys share log ID ${k}`);
    if (list) list.push(l);
    else m.set(k, [l]);
  }
  return m;
}

/** Whether `t` (epoch ms) lies in the validity window of one of `logs`. */
export function validAt(logs: readonly LogAuthority[], t: number): boolean {
  return logs.some((l) => t >= l.start && t <= l.end);
}

/** TimeRange: `start` is REQUIRED (sigstore_common.proto); a missing start must not read as "since forever". */
function timeRange(v: unknown, what: string): { start: number; end: number } {
  if (v === undefined || v === null) return { start: -Infinity, end: Infinity };
  const o = asObject(v, what, 'TRUST_ROOT_INVALID');
  // Stryker disable next-line ConditionalExpression,LogicalOperator,BlockStatement,CallExpression: parseTime refuses a missing start too; this names the problem
  if (o.start === undefined || o.start === null) invalid(`${what} has no start`);
  const start = parseTime(o.start, `${what}.start`);
  const end = o.end === undefined || o.end === null ? Infinity : parseTime(o.end, `${what}.end`);
  if (end < start) invalid(`${what} ends before it starts`);
  return { start, end };
}

function parseTime(v: unknown, what: string): number {
  const s = asString(v, what, 'TRUST_ROOT_INVALID');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(s)) invalid(`${what} is not an RFC 3339 UTC time`);
  const t = Date.parse(s);
  if (Number.isNaN(t)) invalid(`${what} is not a valid time`);
  return t;
}

function loadLog(v: unknown, what: string): LogAuthority {
  const o = asObject(v, what, 'TRUST_ROOT_INVALID');
  const baseUrl = asString(o.baseUrl, `${what}.baseUrl`, 'TRUST_ROOT_INVALID');
  let host: string;
  try {
    host = new URL(baseUrl).host;
  } catch (e) {
    invalid(`${what}.baseUrl is not a URL`, e);
  }
  const pk = asObject(o.publicKey, `${what}.publicKey`, 'TRUST_ROOT_INVALID');
  const raw = decodeBase64(pk.rawBytes, `${what}.publicKey.rawBytes`, 'TRUST_ROOT_INVALID');
  const details = asString(pk.keyDetails, `${what}.publicKey.keyDetails`, 'TRUST_ROOT_INVALID');
  let key: KeyObject;
  try {
    key = details.startsWith('PKCS1_RSA')
      ? createPublicKey({ key: raw, format: 'der', type: 'pkcs1' })
      : createPublicKey({ key: raw, format: 'der', type: 'spki' });
  } catch (e) {
    invalid(`${what}.publicKey is not a usable key`, e);
  }
  const spki = key.export({ format: 'der', type: 'spki' });
  const logId = decodeBase64(
    asObject(o.logId, `${what}.logId`, 'TRUST_ROOT_INVALID').keyId,
    `${what}.logId.keyId`,
    'TRUST_ROOT_INVALID',
  );
  if (logId.length !== 32) invalid(`${what}.logId must be 32 bytes`);
  return { baseUrl, host, logId, spki, key, hash: hashFor(key), ...timeRange(pk.validFor, `${what}.validFor`) };
}

/** The digest a log/TSA key signs with: the curve's own size for ECDSA, none for Ed25519, SHA-256 for RSA. */
export function hashFor(key: KeyObject): string | null {
  // Asking a KeyObject for its type and curve crosses into native code each time; trust keys are asked on every
  // verification, so the answer is kept per key object.
  let h = hashCache.get(key);
  // Stryker disable next-line ConditionalExpression: a cache; computing the value again gives the same one
  if (h === undefined) {
    h = hashOf(key);
    // Stryker disable next-line CallExpression: a cache; computing the value again gives the same one
    hashCache.set(key, h);
  }
  return h;
}

const hashCache = new WeakMap<KeyObject, string | null>();

function hashOf(key: KeyObject): string | null {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      // Stryker disable next-line OptionalChaining: Node gives every EC key its details (namedCurve)
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
    }
    case 'ed25519':
      return null;
    default:
      return 'sha256';
  }
}

function loadCa(v: unknown, what: string): CertificateAuthority {
  const o = asObject(v, what, 'TRUST_ROOT_INVALID');
  const chain = asObject(o.certChain, `${what}.certChain`, 'TRUST_ROOT_INVALID');
  const raw = asArray(chain.certificates, `${what}.certChain.certificates`, 'TRUST_ROOT_INVALID');
  if (raw.length === 0) invalid(`${what} has no certificates`);
  const certificates = raw.map((c, i) =>
    parseCertificate(
      decodeBase64(
        asObject(c, `${what}.certificates[${i}]`, 'TRUST_ROOT_INVALID').rawBytes,
        `${what}.certificates[${i}]`,
        'TRUST_ROOT_INVALID',
      ),
      'TRUST_ROOT_INVALID',
    ),
  );
  const keys = certificates.map((c) => publicKeyOf(c, 'TRUST_ROOT_INVALID'));
  // The chain must be internally consistent: each certificate names the next as issuer, and issuers are CAs.
  // The signatures along it are checked on first use (ensureChain), so loading a root with many authorities
  // costs no signature verification; the root's self-signature is never checked: a trust anchor is trusted as
  // given (RFC 5280 §6.1.1), its signature proves nothing.
  for (let i = 0; i + 1 < certificates.length; i++) {
    if (!certificates[i]!.issuer.equals(certificates[i + 1]!.subject)) {
      // Stryker disable next-line ArithmeticOperator: the message only
      invalid(`${what}: certificate ${i} is not issued by certificate ${i + 1}`);
    }
    if (!certificates[i + 1]!.isCA) {
      // Stryker disable next-line ArithmeticOperator: the message only
      invalid(`${what}: certificate ${i + 1} is not a CA`);
    }
  }
  const subject =
    o.subject === undefined || o.subject === null ? {} : asObject(o.subject, `${what}.subject`, 'TRUST_ROOT_INVALID');
  return {
    uri: typeof o.uri === 'string' ? o.uri : '',
    localDevelopment: subject.organization === LOCAL_DEVELOPMENT_ORGANIZATION,
    certificates,
    keys,
    ...timeRange(o.validFor, `${what}.validFor`),
  };
}

const chainChecked = new WeakMap<CertificateAuthority, true>();

/**
 * Verify the signatures along an authority's chain (each certificate signed by the next), once per authority.
 * Raises TRUST_ROOT_INVALID: a broken chain is a broken trusted root, whatever the bundle.
 */
export function ensureChain(ca: CertificateAuthority): void {
  // Stryker disable next-line ConditionalExpression,BlockStatement: a cache; checking the chain again gives the same verdict
  if (chainChecked.has(ca)) return;
  for (let i = 0; i + 1 < ca.certificates.length; i++) {
    if (!isIssuedBy(ca.certificates[i]!, ca.certificates[i + 1]!, ca.keys[i + 1]!)) {
      // Stryker disable next-line ArithmeticOperator: the message only
      invalid(`trusted authority ${ca.uri}: certificate ${i} is not signed by certificate ${i + 1}`);
    }
  }
  // Stryker disable next-line BooleanLiteral,CallExpression: a cache, read with has(); checking the chain again gives the same verdict
  chainChecked.set(ca, true);
}

/** SHA-256 of a DER SubjectPublicKeyInfo, hex: the key fingerprint vouch prints and matches hints against. */
export function spkiFingerprint(spki: Buffer): string {
  return createHash('sha256').update(spki).digest('hex');
}

/** Verify `sig` over `data` with a log key; never throws. */
export function logVerify(log: LogAuthority, data: Buffer, sig: Buffer): boolean {
  try {
    return cryptoVerify(log.hash, data, log.key, sig);
  } catch /* Stryker disable next-line BlockStatement: undefined, which every caller reads as false */ {
    return false;
  }
}
