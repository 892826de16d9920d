/**
 * The sign workflow: target -> digest or statement -> signing context -> bundle file. It is the one place that knows
 * every target kind; each kind's own module does the work (CONVENTIONS: variants as tagged unions, exhaustive switch).
 * It owns the signing context's lifecycle (a key read and decrypted, or a keyless session opened on the instance and
 * closed afterwards) and writes the bundle file, so the library's `sign()` and `vouch sign` do the same thing.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { PeCheckRecord } from '../artifact/dir/index.ts';
import type { PeRecord } from '../artifact/pe/index.ts';
import { describeTarget, parseTarget, type Target } from '../artifact/target.ts';
import { writeFileAtomic } from '../core/atomic.ts';
import { hashFile, hashStream } from '../core/digest.ts';
import { VouchError } from '../errors.ts';
import type { IdentitySource } from '../identity/providers.ts';
import { readConfig } from '../instance/config.ts';
import { vouchHome } from '../instance/home.ts';
import type { KeylessOptions, KeylessSession, ProofChoice, WitnessSession } from '../instance/session.ts';
import {
  fileStatement,
  type SerializedBundle,
  type SigningContext,
  signDigest,
  signStatement,
} from '../sign/bundle.ts';
import type { KeylessTimings } from '../sign/keyless.ts';
import { parsePrivateKey, readKeyFile } from '../sign/keys.ts';
import { KeyPairSigner } from '../sign/signer.ts';
import type { SignedImage } from './sign-image.ts';

/** Files up to this size are signed over their bytes (natively), larger ones over their streamed digest. */
const KEEP_BYTES = 1 << 20;

export interface SignOptions {
  /** Private key file (key-pair signing). Without it (and without `context`), signing is keyless. */
  key?: string;
  /**
   * Passphrase of the private key, or a function asked for it once the key file has been read (a prompt is then
   * shown only for a key that exists).
   */
  passphrase?: string | (() => Promise<string>);
  /**
   * Where to write the bundle; default `<target>.sigstore.json`. Required for stdin and digests. Registry images
   * and OCI layouts hold their signature themselves: for them a file is written only when this is given.
   */
  bundle?: string;
  /** Pre-built signing context (tests, programs with their own signer); overrides `key` and keyless signing. */
  context?: SigningContext;
  /**
   * Keyless signing (no `key`, no `context`): instance, identity token, VOUCH_HOME, device-flow prompt. Its
   * `instance` (else the configured one) also witnesses key-pair signatures: log entry and timestamp.
   */
  keyless?: KeylessOptions;
  /** Which proofs the instance adds (default: a log entry and, when it has a TSA, an RFC 3161 timestamp). */
  proofs?: ProofChoice;
  /** Images: the repository a local image (oci-layout, oci-archive, docker-archive) is signed for. */
  repository?: string;
  /** Images: also sign every platform manifest of an index. */
  recursive?: boolean;
  /** Images: plain HTTP to a non-loopback registry. */
  allowInsecureRegistry?: boolean;
  /** Directories: the statement format (vouch manifest, or OpenSSF model-signing). */
  format?: 'vouch' | 'model-signing';
  /** Directories: reuse digests of unchanged files (cache outside the tree; a path, or true for the default). */
  incremental?: boolean | string;
  /** Directories: progress of hashing, for a progress bar. */
  onProgress?: (p: { filesDone: number; filesTotal: number }) => void;
  /** Directories: where a manifest too large to embed is written (default: beside the bundle, DIR.manifest.jsonl). */
  manifest?: string;
  /**
   * PE files checked before signing (src/artifact/pe) that may carry an anomaly anyway (e.g. an installer tagged
   * after signing): a file target by its path, a directory's files by their path in the tree. The exception is
   * recorded in the result, and for a directory in the signed statement.
   */
  allowPeAnomaly?: string[];
  /** Replace a bundle that already exists (else FILE_EXISTS: a second signer adds a bundle, never replaces one). */
  force?: boolean;
}

/** What a directory signature covers; `hashed` + `cached` = files (cached only with --incremental). */
export interface SignedDirectorySummary {
  format: 'vouch' | 'model-signing';
  files: number;
  symlinks: number;
  emptyDirectories: number;
  bytes: number;
  hashed: number;
  cached: number;
  /** Where the manifest was written; absent when it is embedded in the bundle (up to 1 MiB). */
  manifestPath?: string;
  /** The exclusion rules signed, and how many entries they left out. */
  excluded: {
    excludeNames: string[];
    excludePaths: string[];
    signatureFiles: string[];
    found: number;
    foundPaths: string[];
  };
  /** The PE check run before signing: PE files found, and the exceptions `allowPeAnomaly` made (recorded). */
  peCheck: PeCheckRecord;
}

/** Who signed: a key (by fingerprint), or the identity a CA certified for a keyless signature. */
export type SignerSummary =
  | { type: 'key'; fingerprint: string }
  | { type: 'certificate'; identity: string; issuer: string };

/**
 * What a keyless signature adds to its result (`vouch sign --json` prints them at the top level): who the CA
 * certified, as read back from the certificate, and the session's instance, identity source and timings.
 */
export interface KeylessSummary {
  identity: string;
  issuer: string;
  identitySource: IdentitySource;
  /** From a development issuer that mints tokens for anyone: proves nothing about a person elsewhere. */
  localDevelopmentIdentity: boolean;
  /** `embedded`, `public-good` or the instance URL. */
  instance: string;
  /** The certificate's validity and its Fulcio extensions by name (what verifier policies match on). */
  certificate: { notBefore: string; notAfter: string; extensions: Record<string, string> };
  /** Milliseconds per service call: token, ca, tlog, tsa. */
  timings: KeylessTimings;
}

/** A signature made; the members of `KeylessSummary` are there exactly when it was keyless (a session on an instance). */
export interface SignResult extends Partial<KeylessSummary> {
  target: string;
  /** `sha256:<hex>` of what was signed (the file, or the manifest/statement subject). */
  digest: string;
  /** Where the bundle was written; empty when it was only attached to the image (registry or OCI layout). */
  bundlePath: string;
  /** The bundle (also written to `bundlePath` when that is set). */
  bundle: SerializedBundle;
  signer: SignerSummary;
  /** The first log entry's index and its integrated time, when the bundle was logged. */
  logIndex?: string;
  integratedTime?: string;
  /** RFC 3161 timestamps in the bundle. */
  rfc3161Timestamps: number;
  /** The proofs the bundle carries besides its signature; none for an offline key-pair signature. */
  proofs: Proof[];
  /** Key-pair signatures: the instance whose log and TSA witnessed it (keyless ones name theirs in `instance`). */
  witnessedBy?: string;
  /** Images: every manifest signed (several with --recursive) and where its signature was attached. */
  images?: Omit<SignedImage, 'bundle'>[];
  /** Directories: what the manifest covers. */
  directory?: SignedDirectorySummary;
  /** A PE file: what the check before signing found (and an anomaly let through by `allowPeAnomaly`). */
  pe?: PeRecord;
  /** What the signer should know (the CLI prints each as a warning), e.g. a digest a default push will change. */
  warnings?: string[];
}

/** A proof a bundle carries: a transparency log entry, an RFC 3161 timestamp. */
export type Proof = 'transparency-log' | 'rfc3161-timestamp';

/** A signing context made on first use: a target that fails its own checks never opens a session or asks a passphrase. */
type ContextSource = () => Promise<SigningContext>;

/**
 * Sign a target and write its bundle. With a ready `context` it signs with that; with a private key (`key`) with that
 * key; with neither, keyless: a session on the resolved instance (`keyless.instance`, the config file, else the
 * embedded stack) is opened for this one signature and closed afterwards.
 */
export async function signTarget(input: string | Target, options: SignOptions = {}): Promise<SignResult> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  if (options.context) {
    const context = options.context;
    return signWith(target, options, async () => context);
  }
  if (options.key) return signWithKey(target, options.key, options);
  let session: KeylessSession | undefined;
  try {
    const result = await signWith(target, options, async () => {
      const { openKeylessSession } = await import('../instance/session.ts');
      session ??= await openKeylessSession({
        ...options.keyless,
        ...(options.proofs !== undefined ? { proofs: options.proofs } : {}),
      });
      return session.context;
    });
    return session ? withSession(result, session) : result;
  } finally {
    await session?.close();
  }
}

/**
 * Key-pair signing. On an instance (`keyless.instance`, else the configured one) its log and TSA witness the
 * signature, as cosign does by default; the instance is opened only after the target was read and the key
 * decrypted. Without an instance, or with both proofs turned off, the signature stays offline.
 */
async function signWithKey(target: Target, key: string, options: SignOptions): Promise<SignResult> {
  const proofs = options.proofs ?? {};
  const instance =
    proofs.tlog === false && proofs.timestamp === false
      ? undefined
      : (options.keyless?.instance ?? readConfig(options.keyless?.home ?? vouchHome(options.keyless?.env)).instance);
  let session: WitnessSession | undefined;
  let context: SigningContext | undefined;
  try {
    const result = await signWith(target, options, async () => {
      context ??= await keyContext(key, options.passphrase);
      if (instance === undefined) return context;
      const { openWitnessSession } = await import('../instance/session.ts');
      session ??= await openWitnessSession(instance, { ...options.keyless, proofs });
      return { ...context, witnesses: session.witnesses };
    });
    return session ? { ...result, witnessedBy: (session as WitnessSession).instance.name } : result;
  } finally {
    await session?.close();
  }
}

async function signWith(target: Target, options: SignOptions, context: ContextSource): Promise<SignResult> {
  if (options.allowPeAnomaly?.length && target.kind !== 'file' && target.kind !== 'stdin' && target.kind !== 'dir') {
    throw new VouchError('USAGE', '--allow-pe-anomaly applies to PE files signed as files or in a directory');
  }
  const result = await signKind(target, options, context);
  if (result.bundlePath) {
    writeFileAtomic(result.bundlePath, `${JSON.stringify(result.bundle)}\n`, { fsync: true });
  }
  return result;
}

function signKind(target: Target, options: SignOptions, context: ContextSource): Promise<SignResult> {
  switch (target.kind) {
    case 'file':
    case 'stdin':
      return signFile(target, options, context);
    case 'oci':
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive':
      return signImageTarget(target, options, context);
    case 'digest':
      return signDigestTarget(target, options, context);
    case 'dir':
      return signDirectoryTarget(target, options, context);
  }
}

/**
 * Checked once the signing context is ready (so a missing key or file is reported first) and before anything is
 * signed or logged: a bundle already there is someone's signature, e.g. the pipeline's beside the release manager's
 * (`--bundle app.exe.rm.sigstore.json`), and is not replaced unless asked (`force`).
 */
function refuseExistingBundle(path: string): void {
  if (existsSync(path)) {
    throw new VouchError('FILE_EXISTS', `${path} already exists: it may be another signer's bundle`, {
      hint: 'Write yours beside it with --bundle (e.g. app.exe.rm.sigstore.json), or pass --force to replace it.',
    });
  }
}

/** Sign a digest without the bytes (the artifact never leaves the machine that built it). */
async function signDigestTarget(
  target: Target & { kind: 'digest' },
  options: SignOptions,
  contextOf: ContextSource,
): Promise<SignResult> {
  if (!options.bundle) throw new VouchError('USAGE', 'signing a digest needs --bundle PATH');
  if (target.algorithm !== 'sha256') throw new VouchError('TARGET_UNSUPPORTED', 'only sha256 digests can be signed');
  const context = await contextOf();
  if (!options.force) refuseExistingBundle(options.bundle);
  const bundle =
    context.signer.keyType === 'ed25519'
      ? await signStatement(context, fileStatement(describeTarget(target), target.value))
      : await signDigest(context, target.value);
  return {
    target: describeTarget(target),
    digest: describeTarget(target),
    bundlePath: options.bundle,
    bundle,
    signer: signerSummary(context),
    ...proofsOf(bundle),
  };
}

/**
 * Sign a directory: every entry (files with size, digest and executable bit, symlinks with their target, empty
 * directories) in a manifest whose digest is the subject of a DSSE in-toto statement (docs/formats/directory-manifest.md).
 */
async function signDirectoryTarget(
  target: Target & { kind: 'dir' },
  options: SignOptions,
  contextOf: ContextSource,
): Promise<SignResult> {
  const root = target.path.replace(/(?<=.)\/+$/, '');
  const bundlePath = options.bundle ?? `${resolve(root)}.sigstore.json`;
  // Signing never replaces an existing bundle (another signer's) unless told to: refused before the walk.
  if (!options.force) refuseExistingBundle(bundlePath);
  const { directoryStatement } = await import('../artifact/dir/index.ts');
  const prepared = await directoryStatement(root, {
    bundlePath,
    ...(options.manifest !== undefined ? { manifestPath: options.manifest } : {}),
    ...(options.format !== undefined ? { format: options.format } : {}),
    ...(options.incremental
      ? {
          incremental: {
            vouchHome: vouchHome(),
            ...(typeof options.incremental === 'string' ? { path: options.incremental } : {}),
          },
        }
      : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.allowPeAnomaly ? { allowPeAnomaly: options.allowPeAnomaly } : {}),
  });
  // The context comes after the walk: a tree that fails its own checks never opens a session or asks a passphrase.
  let context: SigningContext;
  let bundle: SerializedBundle;
  try {
    context = await contextOf();
    bundle = await signStatement(context, prepared.statement);
    await prepared.commit();
  } catch (e) {
    await prepared.discard();
    throw e;
  }
  const { walk } = prepared;
  const counts = walk.entries.counts();
  const rules = prepared.statement.predicate.rules as { excludeNames?: string[]; excludePaths?: string[] } | undefined;
  return {
    target: describeTarget(target),
    digest: prepared.digest,
    bundlePath,
    bundle,
    signer: signerSummary(context),
    directory: {
      format: options.format ?? 'vouch',
      files: counts.files,
      symlinks: counts.symlinks,
      emptyDirectories: counts.emptyDirectories,
      bytes: counts.bytes,
      hashed: walk.stats.hashed,
      cached: walk.stats.cached,
      ...(prepared.manifestPath !== undefined ? { manifestPath: prepared.manifestPath } : {}),
      excluded: {
        excludeNames: rules?.excludeNames ?? walk.rules.excludeNames,
        excludePaths: rules?.excludePaths ?? walk.rules.excludePaths,
        signatureFiles: walk.rules.signatureFiles,
        found: walk.excluded.count,
        foundPaths: walk.excluded.paths,
      },
      peCheck: prepared.peCheck,
    },
    ...proofsOf(bundle),
  };
}

async function signFile(
  target: Target & { kind: 'file' | 'stdin' },
  options: SignOptions,
  contextOf: ContextSource,
): Promise<SignResult> {
  if (target.kind === 'stdin' && !options.bundle) {
    throw new VouchError('USAGE', 'signing stdin needs --bundle PATH');
  }
  const bundlePath = options.bundle ?? `${(target as { path: string }).path}.sigstore.json`;
  const allowed = new Set((options.allowPeAnomaly ?? []).map((p) => resolve(p)));
  if (target.kind === 'stdin' && allowed.size > 0) {
    throw new VouchError('USAGE', '--allow-pe-anomaly names files; stdin is not checked');
  }
  const pe = target.kind === 'file' ? await checkBeforeSigning(target.path, allowed) : undefined;
  // Small files keep their bytes, which are signed natively (no pre-hashed signing library to load).
  const digest =
    target.kind === 'stdin'
      ? await hashStream(process.stdin as AsyncIterable<Buffer>, 'sha256', KEEP_BYTES)
      : await hashFile(target.path, 'sha256', { keepUpTo: KEEP_BYTES });
  const context = await contextOf();
  if (!options.force) refuseExistingBundle(bundlePath);
  const name = target.kind === 'stdin' ? 'stdin' : basename(resolve(target.path));
  const bundle =
    context.signer.keyType === 'ed25519'
      ? await signStatement(context, fileStatement(name, digest.value))
      : await signDigest(context, digest.value, digest.bytes);
  return {
    target: describeTarget(target),
    digest: `sha256:${digest.value.toString('hex')}`,
    bundlePath,
    bundle,
    signer: signerSummary(context),
    ...proofsOf(bundle),
    ...(pe ? { pe } : {}),
  };
}

/**
 * The 3CX trick is stopped here: a PE file (by its magic bytes, whatever its name) with data hidden around its
 * Authenticode signature, or whose signature no longer matches it, is not signed unless named in `allowed`.
 */
async function checkBeforeSigning(path: string, allowed: Set<string>): Promise<PeRecord | undefined> {
  for (const a of allowed) {
    if (a !== resolve(path)) throw new VouchError('USAGE', `--allow-pe-anomaly ${a} names no file being signed`);
  }
  const { enforcePe } = await import('../artifact/pe/index.ts');
  return enforcePe(path, { allow: allowed.has(resolve(path)) });
}

async function signImageTarget(target: Target, options: SignOptions, contextOf: ContextSource): Promise<SignResult> {
  const context = await contextOf();
  const { signImage } = await import('./sign-image.ts');
  const { image, signed } = await signImage(target, context, {
    ...(options.repository !== undefined ? { repository: options.repository } : {}),
    recursive: options.recursive ?? false,
    registry: { allowInsecure: options.allowInsecureRegistry ?? false },
  });
  const first = signed[0]!;
  // Registry images and OCI layouts carry their signature (a file only with --bundle); an archive needs the file.
  const archive =
    image.source.kind === 'oci-archive' || image.source.kind === 'docker-archive' ? image.source.path : '';
  return {
    target: describeTarget(target),
    digest: image.digest,
    bundlePath: options.bundle ?? (archive ? `${archive.replace(/[:@][^/]*$/, '')}.sigstore.json` : ''),
    bundle: first.bundle,
    signer: signerSummary(context),
    images: signed.map(({ bundle: _b, ...rest }) => rest),
    ...proofsOf(first.bundle),
    // A docker-archive without an OCI layout inside: its digest is that of a push keeping the layers uncompressed.
    ...(image.source.kind === 'docker-archive' && image.source.index === undefined
      ? {
          warnings: [
            `${image.digest} is the digest only a push that keeps the layers as they are gives (skopeo copy --preserve-digests); docker push and skopeo's default compress them into another digest, which this signature does not cover: push that way, or sign the pushed image`,
          ],
        }
      : {}),
  };
}

async function keyContext(path: string, passphrase: SignOptions['passphrase']): Promise<SigningContext> {
  const pem = await readKeyFile(path);
  const secret = typeof passphrase === 'function' ? await passphrase() : passphrase;
  return { signer: new KeyPairSigner(parsePrivateKey(pem, secret)), witnesses: [] };
}

function signerSummary(context: SigningContext): SignerSummary {
  const s = context.signer as Partial<KeyPairSigner> & { summary?: () => SignerSummary };
  if (typeof s.summary === 'function') return s.summary();
  return { type: 'key', fingerprint: s.fingerprint ?? '' };
}

/** The proofs a bundle carries besides its signature: the first log entry and the number of RFC 3161 timestamps. */
function proofsOf(
  bundle: SerializedBundle | undefined,
): Pick<SignResult, 'logIndex' | 'integratedTime' | 'rfc3161Timestamps' | 'proofs'> {
  const entry = bundle?.verificationMaterial.tlogEntries?.[0];
  const rfc3161Timestamps = bundle?.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.length ?? 0;
  const proofs: Proof[] = [];
  if (entry) proofs.push('transparency-log');
  if (rfc3161Timestamps > 0) proofs.push('rfc3161-timestamp');
  const out: Pick<SignResult, 'logIndex' | 'integratedTime' | 'rfc3161Timestamps' | 'proofs'> = {
    rfc3161Timestamps,
    proofs,
  };
  if (entry) out.logIndex = entry.logIndex;
  if (entry?.integratedTime && entry.integratedTime !== '0') {
    out.integratedTime = new Date(Number(entry.integratedTime) * 1000).toISOString();
  }
  return out;
}

/** A keyless result: the certified identity's details and the session's instance, identity source and timings. */
function withSession(result: SignResult, session: KeylessSession): SignResult {
  const certified = session.context.signer.certified;
  if (!certified) return result;
  return {
    ...result,
    identity: certified.identity,
    issuer: certified.issuer,
    identitySource: session.identitySource,
    localDevelopmentIdentity: session.localDevelopmentIdentity,
    instance: session.instance.name,
    certificate: {
      notBefore: certified.notBefore.toISOString(),
      notAfter: certified.notAfter.toISOString(),
      extensions: certified.extensions,
    },
    timings: Object.fromEntries(
      Object.entries(session.context.timings).map(([k, v]) => [k, Math.round((v as number) * 10) / 10]),
    ),
  };
}
