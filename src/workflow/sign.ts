/**
 * The sign workflow: target -> digest or statement -> signing context -> bundle file. It is the one place that knows
 * every target kind; each kind's own module does the work (CONVENTIONS: variants as tagged unions, exhaustive switch).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { PeRecord } from '../artifact/pe/index.ts';
import { describeTarget, parseTarget, type Target } from '../artifact/target.ts';
import { hashFile, hashStream } from '../core/digest.ts';
import { VouchError } from '../errors.ts';
import { vouchHome } from '../instance/home.ts';
import type { KeylessOptions } from '../instance/session.ts';
import {
  fileStatement,
  type SerializedBundle,
  type SigningContext,
  signDigest,
  signStatement,
} from '../sign/bundle.ts';
import { parsePrivateKey, readKeyFile } from '../sign/keys.ts';
import { KeyPairSigner } from '../sign/signer.ts';
import { signStatementToFile } from '../sign/stream.ts';
import type { SignedImage } from './sign-image.ts';

/** Files up to this size are signed over their bytes (natively), larger ones over their streamed digest. */
const KEEP_BYTES = 1 << 20;

export interface SignOptions {
  /** Private key file (key-pair signing). Without it, signing is keyless. */
  key?: string;
  /** Passphrase of the private key. */
  passphrase?: string;
  /**
   * Where to write the bundle; default `<target>.sigstore.json`. Required for stdin and digests. Registry images
   * and OCI layouts hold their signature themselves: for them a file is written only when this is given.
   */
  bundle?: string;
  /** Pre-built signing context (keyless callers and tests); overrides `key`. */
  context?: SigningContext;
  /** Keyless signing (no `key`, no `context`): instance, identity token, VOUCH_HOME. */
  keyless?: KeylessOptions;
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
  /**
   * Directories signed without witnesses (key pairs): write the bundle file here, streaming (src/sign/stream.ts),
   * instead of returning it. A million-file manifest is a ~150 MB statement, and the in-memory path holds several
   * copies of it. The result then has `bundleWritten: true` and no `bundle`. The CLI sets this; library callers
   * that leave it unset get the bundle object as before and write it themselves.
   */
  writeBundle?: boolean;
  /**
   * Files: PE files checked before signing (src/artifact/pe) that may carry an anomaly anyway, by path (e.g. an
   * installer tagged after signing). The exception is recorded in the result.
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
}

export type SignerSummary =
  | { type: 'key'; fingerprint: string }
  | { type: 'certificate'; identity: string; issuer: string };

interface SignResultFields {
  target: string;
  /** `sha256:<hex>` of what was signed (the file, or the manifest/statement subject). */
  digest: string;
  /** Where the bundle is written; empty when it was only attached to the image in its registry. */
  bundlePath: string;
  /** Images: every manifest signed (several with --recursive) and where its signature was attached. */
  images?: Omit<SignedImage, 'bundle'>[];
  signer: SignerSummary;
  logIndex?: string;
  /** Directories: what the manifest covers. */
  directory?: SignedDirectorySummary;
  /** A PE file: what the check before signing found (and an anomaly let through by `allowPeAnomaly`). */
  pe?: PeRecord;
}

/** A signature: the bundle itself, or (with `writeBundle`, when it was streamed) the fact that it is at `bundlePath`. */
export type SignResult = SignResultFields &
  ({ bundle: SerializedBundle; bundleWritten?: undefined } | { bundle?: undefined; bundleWritten: true });

/**
 * Sign a target. With a private key (`key`) or a ready context it signs with that; with neither it signs keyless:
 * a session on the resolved instance (`keyless.instance`, the config file, else the embedded stack) is opened for
 * this one signature and closed afterwards.
 */
export async function signTarget(input: string | Target, options: SignOptions = {}): Promise<SignResult> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  if (options.context || options.key) return signWith(target, options);
  const { openKeylessSession } = await import('../instance/session.ts');
  const session = await openKeylessSession(options.keyless ?? {});
  try {
    return await signWith(target, { ...options, context: session.context });
  } finally {
    await session.close();
  }
}

/**
 * Checked just before the signature is made (after the key, the target and its digest, so their errors come first):
 * a bundle already there is someone's signature, e.g. the pipeline's beside the release manager's
 * (`--bundle app.exe.rm.sigstore.json`), and is not replaced unless asked (`force`).
 */
function refuseExistingBundle(path: string): void {
  if (existsSync(path)) {
    throw new VouchError('FILE_EXISTS', `${path} already exists: it may be another signer's bundle`, {
      hint: 'Write yours beside it with --bundle (e.g. app.exe.rm.sigstore.json), or pass --force to replace it.',
    });
  }
}

async function signWith(input: string | Target, options: SignOptions): Promise<SignResult> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  if (options.allowPeAnomaly?.length && target.kind !== 'file' && target.kind !== 'stdin') {
    throw new VouchError('USAGE', '--allow-pe-anomaly applies to PE files signed as file targets');
  }
  switch (target.kind) {
    case 'file':
    case 'stdin':
      return signFile(target, options);
    case 'oci':
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive':
      return signImageTarget(target, options);
    case 'digest':
      return signDigestTarget(target, options);
    case 'dir':
      return signDirectoryTarget(target, options);
  }
}

/** Sign a digest without the bytes (the artifact never leaves the machine that built it). */
async function signDigestTarget(target: Target & { kind: 'digest' }, options: SignOptions): Promise<SignResult> {
  if (!options.bundle) throw new VouchError('USAGE', 'signing a digest needs --bundle PATH');
  if (target.algorithm !== 'sha256') throw new VouchError('TARGET_UNSUPPORTED', 'only sha256 digests can be signed');
  const context = options.context ?? (await keyContext(options));
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
    ...logIndexOf(bundle),
  };
}

/**
 * Sign a directory: every entry (files with size, digest and executable bit, symlinks with their target, empty
 * directories) in a manifest whose digest is the subject of a DSSE in-toto statement (docs/formats/directory-manifest.md).
 */
async function signDirectoryTarget(target: Target & { kind: 'dir' }, options: SignOptions): Promise<SignResult> {
  const root = target.path.replace(/(?<=.)\/+$/, '');
  const bundlePath = options.bundle ?? `${resolve(root)}.sigstore.json`;
  const context = options.context ?? (await keyContext(options));
  const { countEntries, directoryStatement } = await import('../artifact/dir/index.ts');
  const prepared = await directoryStatement(root, {
    bundlePath,
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
  });
  if (!options.force) refuseExistingBundle(bundlePath);
  // Without witnesses nothing needs the envelope in memory: stream it to the file (src/sign/stream.ts).
  const streamed = options.writeBundle === true && context.witnesses.length === 0;
  let signed: { bundle: SerializedBundle; bundleWritten?: undefined } | { bundle?: undefined; bundleWritten: true };
  if (streamed) {
    await signStatementToFile(context, prepared.statement, bundlePath);
    signed = { bundleWritten: true };
  } else {
    signed = { bundle: await signStatement(context, prepared.statement) };
  }
  const counts = countEntries(prepared.manifest.entries);
  return {
    target: describeTarget(target),
    digest: prepared.digest,
    bundlePath,
    ...signed,
    signer: signerSummary(context),
    directory: {
      format: options.format ?? 'vouch',
      files: counts.files,
      symlinks: counts.symlinks,
      emptyDirectories: counts.emptyDirectories,
      bytes: counts.bytes,
      hashed: prepared.manifest.stats.hashed,
      cached: prepared.manifest.stats.cached,
    },
    ...(signed.bundle ? logIndexOf(signed.bundle) : {}),
  };
}

async function signFile(target: Target & { kind: 'file' | 'stdin' }, options: SignOptions): Promise<SignResult> {
  if (target.kind === 'stdin' && !options.bundle) {
    throw new VouchError('USAGE', 'signing stdin needs --bundle PATH');
  }
  const bundlePath = options.bundle ?? `${(target as { path: string }).path}.sigstore.json`;
  const allowed = new Set((options.allowPeAnomaly ?? []).map((p) => resolve(p)));
  if (target.kind === 'stdin' && allowed.size > 0)
    throw new VouchError('USAGE', '--allow-pe-anomaly names files; stdin is not checked');
  const pe = target.kind === 'file' ? await checkBeforeSigning(target.path, allowed) : undefined;
  const context = options.context ?? (await keyContext(options));
  // Small files keep their bytes, which are signed natively (no pre-hashed signing library to load).
  const digest =
    target.kind === 'stdin'
      ? await hashStream(process.stdin as AsyncIterable<Buffer>, 'sha256', KEEP_BYTES)
      : await hashFile(target.path, 'sha256', { keepUpTo: KEEP_BYTES });
  const name = target.kind === 'stdin' ? 'stdin' : basename(resolve(target.path));
  if (!options.force) refuseExistingBundle(bundlePath);
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
    ...logIndexOf(bundle),
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

async function signImageTarget(target: Target, options: SignOptions): Promise<SignResult> {
  const context = options.context ?? (await keyContext(options));
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
    ...logIndexOf(first.bundle),
  };
}

async function keyContext(options: SignOptions): Promise<SigningContext> {
  if (!options.key) throw new VouchError('INTERNAL', 'no key and no signing context');
  const key = parsePrivateKey(await readKeyFile(options.key), options.passphrase);
  return { signer: new KeyPairSigner(key), witnesses: [] };
}

function signerSummary(context: SigningContext): SignerSummary {
  const s = context.signer as Partial<KeyPairSigner> & { summary?: () => SignerSummary };
  if (typeof s.summary === 'function') return s.summary();
  return { type: 'key', fingerprint: s.fingerprint ?? '' };
}

function logIndexOf(bundle: SerializedBundle): { logIndex?: string } {
  const entry = bundle.verificationMaterial.tlogEntries?.[0];
  return entry ? { logIndex: entry.logIndex } : {};
}

/** A sign result without the bundle itself (what the CLI prints). */
export type SignSummary = SignResultFields;
