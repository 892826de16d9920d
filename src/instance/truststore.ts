/**
 * The trust store: the set of Sigstore trusted roots `vouch verify` uses when it is given no `--trusted-root`.
 * It holds the shipped public-good root (assets/), the embedded instance's root (written the first time the
 * embedded instance runs) and roots imported with `vouch trust import FILE --name N`, stored as
 * `$VOUCH_HOME/trust/<name>.json` byte for byte as imported (so `trust export` gives back the same document).
 *
 * Beside each root, `<name>.meta.json` records which identities are local development identities: those from
 * listed OIDC issuers (`localIssuers`), or every identity the root's CAs certify (`localDevelopment`, set for the
 * embedded instance). Such issuers mint a token for anyone who asks, so the identity proves nothing about a
 * person; the verifier reports "local development identity" instead of hiding the difference.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { decodeBase64 } from '../core/encoding.ts';
import { asArray, asObject, parseStrictJson } from '../core/json.ts';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../core/localdev.ts';
import { readCappedSync } from '../core/read.ts';
import { isVouchError, VouchError } from '../errors.ts';
import { assetPath } from './assets.ts';
import { paths } from './home.ts';

/** A Sigstore trusted root as JSON (protobuf-specs TrustedRoot, media type trustedroot+json;version=0.1 or 0.2). */
export interface TrustedRootJSON {
  mediaType: string;
  tlogs?: TransparencyLogJSON[];
  certificateAuthorities?: CertificateAuthorityJSON[];
  ctlogs?: TransparencyLogJSON[];
  timestampAuthorities?: CertificateAuthorityJSON[];
  [other: string]: unknown;
}
interface ValidForJSON {
  start?: string;
  end?: string;
}
interface TransparencyLogJSON {
  baseUrl?: string;
  hashAlgorithm?: string;
  publicKey: { rawBytes: string; keyDetails?: string; validFor?: ValidForJSON };
  logId: { keyId: string };
}
interface CertificateAuthorityJSON {
  subject?: { organization?: string; commonName?: string };
  uri?: string;
  certChain: { certificates: { rawBytes: string }[] };
  validFor?: ValidForJSON;
}

export type TrustSource = 'shipped' | 'embedded' | 'imported';

export interface TrustStoreEntry {
  name: string;
  source: TrustSource;
  root: TrustedRootJSON;
  /** OIDC issuers of this instance that mint tokens for anyone (development only). */
  localIssuers: string[];
  /**
   * Every identity certified by this root's CAs is a local development identity (the embedded instance: its CA
   * trusts only its own issuer, whose URL changes with the port it runs on, so a list of issuers cannot name it).
   */
  localDevelopment: boolean;
}

export const PUBLIC_GOOD = 'public-good';
export const EMBEDDED = 'embedded';
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Largest trusted root the store takes (the public-good root is ~10 KiB). */
export const MAX_TRUSTED_ROOT_BYTES = 1 << 20;
const MAX_META_BYTES = 64 << 10;
const TRUSTED_ROOT_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v0\.2)?\+json(;version=0\.[12])?$/;

/** Parse and check a trusted root document: structure, base64, certificates and keys all readable. */
export function parseTrustedRoot(text: string, what = 'trusted root'): TrustedRootJSON {
  const code = 'TRUST_ROOT_INVALID';
  const root = asObject(parseStrictJson(text, { code, what, maxBytes: MAX_TRUSTED_ROOT_BYTES }), what, code);
  if (typeof root.mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPE.test(root.mediaType)) {
    throw new VouchError(code, `${what}: not a Sigstore trusted root (mediaType ${String(root.mediaType)})`);
  }
  let material = 0;
  for (const key of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    if (root[key] === undefined) continue;
    for (const [i, raw] of asArray(root[key], `${what}.${key}`, code).entries()) {
      const ca = asObject(raw, `${what}.${key}[${i}]`, code);
      const chain = asObject(ca.certChain, `${key}[${i}].certChain`, code);
      const certs = asArray(chain.certificates, `${key}[${i}].certChain.certificates`, code);
      if (certs.length === 0) throw new VouchError(code, `${what}: ${key}[${i}] has an empty certificate chain`);
      for (const [j, c] of certs.entries()) {
        const der = decodeBase64(asObject(c, `${key}[${i}] cert ${j}`, code).rawBytes, `${key}[${i}] cert ${j}`, code);
        try {
          new X509Certificate(der);
        } catch (e) {
          throw new VouchError(code, `${what}: ${key}[${i}] certificate ${j} is not a certificate`, { cause: e });
        }
      }
      material++;
    }
  }
  for (const key of ['tlogs', 'ctlogs'] as const) {
    if (root[key] === undefined) continue;
    for (const [i, raw] of asArray(root[key], `${what}.${key}`, code).entries()) {
      const log = asObject(raw, `${what}.${key}[${i}]`, code);
      const pk = asObject(log.publicKey, `${key}[${i}].publicKey`, code);
      const spki = decodeBase64(pk.rawBytes, `${key}[${i}].publicKey.rawBytes`, code);
      try {
        // Keys are SPKI DER, except the PKCS1_* key details, which are bare PKCS#1 RSA keys (protobuf-specs
        // PublicKeyDetails).
        const pkcs1 = typeof pk.keyDetails === 'string' && pk.keyDetails.startsWith('PKCS1_');
        createPublicKey({ key: spki, format: 'der', type: pkcs1 ? 'pkcs1' : 'spki' });
      } catch (e) {
        throw new VouchError(code, `${what}: ${key}[${i}] public key is not an SPKI key`, { cause: e });
      }
      const logId = asObject(log.logId, `${key}[${i}].logId`, code);
      decodeBase64(logId.keyId, `${key}[${i}].logId.keyId`, code);
      if (key === 'tlogs') material++;
    }
  }
  if (material === 0)
    throw new VouchError(code, `${what}: trusts no certificate authority, log or timestamp authority`);
  return root as TrustedRootJSON;
}

/** Every root of the store, shipped first, then embedded, then imported by name. */
export function listTrustStore(home: string): TrustStoreEntry[] {
  const entries: TrustStoreEntry[] = [
    {
      name: PUBLIC_GOOD,
      source: 'shipped',
      root: parseTrustedRoot(readFileSync(assetPath('public-good.trusted_root.json'), 'utf8'), 'public-good root'),
      localIssuers: [],
      localDevelopment: false,
    },
  ];
  const dir = paths.trust(home);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return entries;
    throw new VouchError('TRUST_ROOT_INVALID', `cannot read the trust store ${dir}`, { cause: e });
  }
  const names = files
    .filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((n) => NAME.test(n) && n !== PUBLIC_GOOD)
    .sort((a, b) => (a === EMBEDDED ? -1 : b === EMBEDDED ? 1 : a.localeCompare(b)));
  for (const name of names) {
    const file = join(dir, `${name}.json`);
    entries.push({
      name,
      source: name === EMBEDDED ? 'embedded' : 'imported',
      root: parseTrustedRoot(readStoreFile(file), file),
      ...readMeta(dir, name),
    });
  }
  return entries;
}

/** The trusted roots `verify` uses by default (for src/verify/trust.ts loadTrustedRoot). */
export function loadTrustStore(home: string): TrustedRootJSON[] {
  return listTrustStore(home).map((e) => e.root);
}

/** Issuers whose identities are local development identities, across the whole store. */
export function localDevelopmentIssuers(home: string): string[] {
  return [...new Set(listTrustStore(home).flatMap((e) => e.localIssuers))].sort();
}

/** `vouch trust import FILE --name N`: check the root, then store it under its name. */
export function importTrustedRoot(
  home: string,
  text: string,
  name: string,
  options: { force?: boolean; localIssuers?: string[] } = {},
): TrustStoreEntry {
  checkName(name);
  if (name === PUBLIC_GOOD || name === EMBEDDED) {
    throw new VouchError('USAGE', `"${name}" is reserved for the ${name === EMBEDDED ? 'embedded' : 'shipped'} root`);
  }
  const root = parseTrustedRoot(text, `trusted root "${name}"`);
  const dir = paths.trust(home);
  const file = join(dir, `${name}.json`);
  if (!options.force && existsSync(file)) {
    throw new VouchError('FILE_EXISTS', `a trusted root named "${name}" already exists`, {
      hint: 'Choose another --name, or pass --force to replace it.',
    });
  }
  const meta = { localIssuers: [...new Set(options.localIssuers ?? [])].sort(), localDevelopment: false };
  writeAtomic(file, text);
  writeMeta(dir, name, meta);
  return { name, source: 'imported', root, ...meta };
}

/**
 * Record the embedded instance's root and its local issuer(s). Called each time the embedded instance runs; it
 * rewrites the file only when the root changed (the embedded keys are stable, so normally never).
 */
export function recordEmbeddedRoot(home: string, root: TrustedRootJSON): void {
  const dir = paths.trust(home);
  const file = join(dir, `${EMBEDDED}.json`);
  const text = `${JSON.stringify(root, null, 2)}\n`;
  let current: string | undefined;
  try {
    current = readStoreFile(file);
  } catch {
    current = undefined;
  }
  if (current !== text) writeAtomic(file, text);
  const meta = readMeta(dir, EMBEDDED);
  if (!meta.localDevelopment) writeMeta(dir, EMBEDDED, { ...meta, localDevelopment: true });
}

/** Mark issuers of a stored root as local development issuers (kept sorted, no duplicates). */
export function addLocalIssuers(home: string, name: string, issuers: string[]): void {
  checkName(name);
  const dir = paths.trust(home);
  const meta = readMeta(dir, name);
  const merged = [...new Set([...meta.localIssuers, ...issuers])].sort();
  if (merged.length !== meta.localIssuers.length) writeMeta(dir, name, { ...meta, localIssuers: merged });
}

/**
 * Record that `issuer` is a local development issuer of the instance whose root is `root`: on every stored root that
 * trusts one of the same CA certificates (the embedded root, or an imported root of a `vouch serve`). The embedded
 * issuer's URL carries the port it ran on, so each run adds one short string; identities keep their mark forever.
 */
export function markLocalIssuer(home: string, root: TrustedRootJSON, issuer: string): string[] {
  const certs = new Set(
    (root.certificateAuthorities ?? []).flatMap((ca) => ca.certChain.certificates.map((c) => c.rawBytes)),
  );
  const marked: string[] = [];
  for (const entry of listTrustStore(home)) {
    if (entry.source === 'shipped') continue;
    const shares = (entry.root.certificateAuthorities ?? []).some((ca) =>
      ca.certChain.certificates.some((c) => certs.has(c.rawBytes)),
    );
    if (shares) {
      addLocalIssuers(home, entry.name, [issuer]);
      marked.push(entry.name);
    }
  }
  return marked;
}

/** `vouch trust export NAME`: the stored document, as it was imported. */
export function exportTrustedRoot(home: string, name: string): string {
  if (name === PUBLIC_GOOD) return readFileSync(assetPath('public-good.trusted_root.json'), 'utf8');
  checkName(name);
  try {
    return readStoreFile(join(paths.trust(home), `${name}.json`));
  } catch (e) {
    if (!isVouchError(e, 'FILE_NOT_FOUND')) throw e;
    throw new VouchError('USAGE', `no trusted root named "${name}"`, {
      cause: e,
      hint: 'See `vouch trust show` for the names.',
    });
  }
}

/** What `vouch trust show` prints for one root. */
export interface TrustSummary {
  name: string;
  source: TrustSource;
  localIssuers: string[];
  localDevelopment: boolean;
  certificateAuthorities: {
    subject: string;
    uri?: string;
    validFrom?: string;
    validTo?: string;
    /** Marked in the root as a local development CA (src/core/localdev.ts). */
    localDevelopment?: true;
  }[];
  tlogs: { baseUrl?: string; logId: string; validFrom?: string; validTo?: string }[];
  timestampAuthorities: { subject: string; uri?: string; validFrom?: string; validTo?: string }[];
  ctlogs: { baseUrl?: string; logId: string }[];
}

export function summarize(entry: TrustStoreEntry): TrustSummary {
  const r = entry.root;
  const ca = (a: CertificateAuthorityJSON) => {
    const first = a.certChain.certificates[0]!;
    const cert = new X509Certificate(Buffer.from(first.rawBytes, 'base64'));
    return clean({ subject: cert.subject.replace(/\n/g, ', '), uri: a.uri, ...window(a.validFor) });
  };
  const logId = (l: TransparencyLogJSON) => Buffer.from(l.logId.keyId, 'base64').toString('hex');
  const marked = (a: CertificateAuthorityJSON) => a.subject?.organization === LOCAL_DEVELOPMENT_ORGANIZATION;
  const cas = r.certificateAuthorities ?? [];
  return {
    name: entry.name,
    source: entry.source,
    localIssuers: entry.localIssuers,
    localDevelopment: entry.localDevelopment || (cas.length > 0 && cas.every(marked)),
    certificateAuthorities: cas.map((a) => (marked(a) ? { ...ca(a), localDevelopment: true as const } : ca(a))),
    tlogs: (r.tlogs ?? []).map((l) => clean({ baseUrl: l.baseUrl, logId: logId(l), ...window(l.publicKey.validFor) })),
    timestampAuthorities: (r.timestampAuthorities ?? []).map(ca),
    ctlogs: (r.ctlogs ?? []).map((l) => clean({ baseUrl: l.baseUrl, logId: logId(l) })),
  };
}

function window(v: ValidForJSON | undefined): { validFrom?: string; validTo?: string } {
  return { validFrom: v?.start, validTo: v?.end } as { validFrom?: string; validTo?: string };
}

function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new VouchError('USAGE', `invalid trusted root name "${name.slice(0, 80)}"`, {
      hint: 'Names are 1-63 lowercase letters, digits, "-" or "_".',
    });
  }
}

interface Meta {
  localIssuers: string[];
  localDevelopment: boolean;
}

function readMeta(dir: string, name: string): Meta {
  const file = join(dir, `${name}.meta.json`);
  let text: string;
  try {
    text = readStoreFile(file, MAX_META_BYTES);
  } catch (e) {
    // No meta file: an ordinary root. An unreadable one must not silently drop a local development mark.
    if (isVouchError(e, 'FILE_NOT_FOUND')) return { localIssuers: [], localDevelopment: false };
    throw e;
  }
  const meta = asObject(parseStrictJson(text, { code: 'TRUST_ROOT_INVALID', what: file }), file, 'TRUST_ROOT_INVALID');
  const issuers = asArray(meta.localIssuers ?? [], `${file} localIssuers`, 'TRUST_ROOT_INVALID');
  if (!issuers.every((i) => typeof i === 'string')) {
    throw new VouchError('TRUST_ROOT_INVALID', `${file}: localIssuers must be strings`);
  }
  if (meta.localDevelopment !== undefined && typeof meta.localDevelopment !== 'boolean') {
    throw new VouchError('TRUST_ROOT_INVALID', `${file}: localDevelopment must be a boolean`);
  }
  return { localIssuers: issuers as string[], localDevelopment: meta.localDevelopment === true };
}

/** A file of the store, read under its cap (an oversize or endless one is TRUST_ROOT_INVALID). */
function readStoreFile(file: string, maxBytes = MAX_TRUSTED_ROOT_BYTES): string {
  return readCappedSync(file, { maxBytes, code: 'TRUST_ROOT_INVALID' }).toString('utf8');
}

function writeMeta(dir: string, name: string, meta: Meta): void {
  writeAtomic(join(dir, `${name}.meta.json`), `${JSON.stringify(meta, null, 2)}\n`);
}

/** Written atomically and durably, so a crash never leaves a half-written root that verify would read. */
function writeAtomic(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, text, { fsync: true });
}
