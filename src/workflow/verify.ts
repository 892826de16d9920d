/**
 * The verify workflow: everything with I/O happens here, before the pure verifier runs: read and size-check the
 * bundle, hash the artifact (every byte, no excluded regions), load keys and trust material. Then
 * `verify(bundle, artifact, policy, trust)` decides, and its result is returned unchanged.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DirectoryVerification, FileInDirectoryVerification } from '../artifact/dir/index.ts';
import type { PeRecord } from '../artifact/pe/index.ts';
import { describeTarget, parseTarget, type Target } from '../artifact/target.ts';
import { fileError, hashFile, hashStream } from '../core/digest.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../core/intoto.ts';
import { readCappedText } from '../core/read.ts';
import { isVouchError, VouchError } from '../errors.ts';
import { vouchHome } from '../instance/home.ts';
import { listTrustStore } from '../instance/truststore.ts';
import { type Bundle, MAX_BUNDLE_BYTES, parseBundle } from '../verify/bundle.ts';
import { buildPolicy, type PolicyOptions } from '../verify/policy.ts';
import { loadTrustedRoot, MAX_TRUST_ROOT_BYTES, noAuthorities, type TrustMaterial } from '../verify/trust.ts';
import type { ArtifactInput, Policy, VerificationResult } from '../verify/types.ts';
import { verify } from '../verify/verifier.ts';
import type { BundleSubjectKind } from './bundle-claims.ts';
import type { ImageVerifyOptions, ImageVerifyResult } from './verify-image.ts';

/** Files up to this size are kept in memory so a message signature is checked natively over the bytes. */
const KEEP_BYTES = 1 << 20;

export interface VerifyOptions extends PolicyOptions {
  /** Bundle file; default `<file>.sigstore.json` for files (images: the signatures attached in the registry or stored in the OCI layout). */
  bundle?: string;
  /** Trust material; default: the trust store of VOUCH_HOME (shipped public-good, embedded, imported roots). */
  trust?: TrustMaterial | TrustMaterial[];
  /** VOUCH_HOME for the default trust store. */
  home?: string;
  /** A file of a signed directory: its path inside the directory (`--path bin/app.exe`). */
  path?: string;
  /** Directories: the manifest file of a signature that does not embed it (default: beside the bundle). */
  manifest?: string;
  /** Directories, model-signing: paths to leave out besides those the signature records (shown in the result). */
  ignorePaths?: string[];
  /**
   * Directories verified against several signatures (`verify --policy`): the trees found equal to a signed
   * statement, by the SHA-256 of its exact bytes and the options that decide a comparison. A signature of the same
   * statement takes that result instead of walking and hashing the tree again: the tree is already known to be what
   * the statement describes, and the signature is verified on its own as always. Failures are never kept.
   */
  comparisons?: Map<string, DirectoryVerification>;
  /** Directories: fail when the tree holds content the signed rules exclude (it is always reported). */
  failOnExcluded?: boolean;
  /** Directories: hashing progress, for a progress bar. */
  onProgress?: (p: { filesDone: number; filesTotal: number; phase?: 'hashing' | 'checking' }) => void;
  /** Directories: the paths of the verified entries, once the tree is known to be the signed one. */
  onVerifiedPaths?: (paths: Iterable<string>) => void;
  /** Images: see ImageVerifyOptions. */
  image?: Omit<ImageVerifyOptions, 'bundle'>;
  /**
   * `--pe-strict`: a verified file that is a PE image (or every PE file of a verified directory) must also pass the
   * check a signer runs (src/artifact/pe): no data hidden around its Authenticode signature, a signature that
   * matches it, chains to `roots` when given. `allow`: files (a directory's by their path in the tree) accepted
   * with an anomaly, and reported.
   */
  pe?: { strict: true; roots?: Buffer[]; allow?: string[] };
}

export type VerifyOutcome = VerificationResult & {
  target: string;
  image?: ImageVerifyResult['image'];
  directory?: DirectoryVerification;
  file?: FileInDirectoryVerification;
  /** `--pe-strict` on a PE file: what its check found. */
  pe?: PeRecord;
};

export async function verifyTarget(input: string | Target, options: VerifyOptions): Promise<VerifyOutcome> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  // The policy is checked before any work, so a missing identity fails fast as a usage error.
  const policy = buildPolicy(options);
  if (options.pe && target.kind !== 'file' && target.kind !== 'dir') {
    throw new VouchError('USAGE', '--pe-strict checks a file or a directory target');
  }
  switch (target.kind) {
    case 'file': {
      const outcome = await verifyBlob(target, policy, options);
      return options.pe ? { ...outcome, ...(await strictPe(target.path, options.pe)) } : outcome;
    }
    case 'stdin':
    case 'digest':
      return verifyBlob(target, policy, options);
    case 'oci':
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive': {
      const trust = options.trust ?? loadDefaultTrust(options.home);
      // Loaded on demand: the registry client pulls in node:http, whose ESM facade starts undici (~20 ms).
      const { archiveBundlePath, verifyImageTarget } = await import('./verify-image.ts');
      const bundlePath = options.bundle ?? archiveBundlePath(target);
      const bundle = bundlePath === undefined ? undefined : await readBundleFile(bundlePath);
      const r = await verifyImageTarget(target, (text, artifact) => verify(text, artifact, policy, trust), {
        ...options.image,
        ...(bundle !== undefined ? { bundle } : {}),
      });
      return { target: describeTarget(target), ...r.result, image: r.image };
    }
    case 'dir':
      return verifyDirectory(target, policy, options);
  }
}

/**
 * After the signature verified: the same PE check a signer runs, on the file as it is now. A file that is not a PE
 * image passes; `allow` names files whose anomaly is accepted (and recorded).
 */
export async function strictPe(path: string, o: NonNullable<VerifyOptions['pe']>): Promise<{ pe?: PeRecord }> {
  const allowed = new Set((o.allow ?? []).map((p) => resolve(p)));
  for (const a of allowed) {
    if (a !== resolve(path)) throw new VouchError('USAGE', `--allow-pe-anomaly ${a} names no file being verified`);
  }
  const { enforcePe } = await import('../artifact/pe/index.ts');
  const pe = await enforcePe(path, { allow: allowed.has(resolve(path)), ...(o.roots ? { roots: o.roots } : {}) });
  return pe ? { pe } : {};
}

/**
 * A directory: the bundle is read and verified like any other (it is small: the manifest is bound by its digest),
 * then the tree is walked with the signer's recorded rules, every file re-hashed (nothing is taken from a cache),
 * and compared with the manifest as it streams, from the statement or the file beside the bundle, through one
 * SHA-256 that must be the signed one.
 */
async function verifyDirectory(
  target: Target & { kind: 'dir' },
  policy: Policy,
  options: VerifyOptions,
): Promise<VerifyOutcome> {
  if (options.path !== undefined) throw new VouchError('USAGE', '--path takes the file to check, not its directory');
  const root = target.path.replace(/(?<=.)\/+$/, '');
  const bundlePath = options.bundle ?? `${resolve(root)}.sigstore.json`;
  const { verifyDirectory: compare } = await import('../artifact/dir/index.ts');
  const v = await verifiedDirectoryBundle(bundlePath, policy, options);
  const done = (directory: DirectoryVerification): VerifyOutcome => ({
    target: describeTarget(target),
    ...v.result,
    artifact: { digest: directory.manifestDigest },
    directory,
  });
  // The statement's bytes decide the comparison with the options below; the excluded-content report, which counts
  // the signature's own files differently per signature, is not one of them (--fail-on-excluded is).
  const key =
    options.comparisons && !options.pe
      ? JSON.stringify([
          v.statementSha256,
          resolve(root),
          options.ignorePaths ?? [],
          options.failOnExcluded === true,
          options.manifest ?? null,
        ])
      : undefined;
  const known = key === undefined ? undefined : options.comparisons!.get(key);
  if (known) {
    await v.manifest?.close();
    return done(known);
  }
  try {
    const directory = await compare(v.signed, root, v.manifest?.source, {
      ownFiles: [v.bundleFile, ...(v.manifest ? [v.manifest.file] : [])],
      ...(options.ignorePaths ? { ignorePaths: options.ignorePaths } : {}),
      ...(options.failOnExcluded ? { failOnExcluded: true } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.pe
        ? { pe: { ...(options.pe.roots && { roots: options.pe.roots }), allow: options.pe.allow ?? [] } }
        : {}),
      ...(options.onVerifiedPaths ? { onVerifiedPaths: options.onVerifiedPaths } : {}),
    });
    if (key !== undefined) options.comparisons!.set(key, directory);
    return done(directory);
  } finally {
    await v.manifest?.close();
  }
}

/**
 * A directory bundle up to its verified, parsed statement, and where the manifest's bytes come from: the file given
 * with --manifest, or the one beside the bundle when the statement does not embed it. A statement that embeds its
 * manifest beside a different file of that name is refused: two manifests for one signature.
 */
async function verifiedDirectoryBundle(bundlePath: string, policy: Policy, options: VerifyOptions) {
  const { manifestPathFor, parseDirectoryStatement, fileSource } = await import('../artifact/dir/index.ts');
  const bundle = parseBundle(await readBundleFile(bundlePath));
  const trust =
    options.trust ?? (needsAuthorities(bundle, policy) ? loadDefaultTrust(options.home) : [noAuthorities()]);
  // A file's bundle (a message signature) given for a directory: say so rather than "unsupported".
  if (bundle.content.kind === 'message') throw kindMismatch('a file', 'dir');
  const verified = verify(bundle, { kind: 'statement' }, policy, trust);
  if (!verified.statement || verified.statement.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new VouchError('DSSE_INVALID', 'a directory signature is an in-toto statement in a DSSE envelope');
  }
  // A statement about a file or an image is named as such by its parser (src/artifact/dir/statement.ts).
  const signed = parseDirectoryStatement(verified.statement.payload);
  const statementSha256 = createHash('sha256').update(bundle.content.payload).digest('hex');
  const { statement: _omitted, ...result } = verified;
  const bundleFile = await stat(bundlePath);
  const manifestPath = options.manifest ?? manifestPathFor(bundlePath);
  let manifest:
    | { source: AsyncIterable<Uint8Array>; file: { dev: number; ino: number }; close(): Promise<void> }
    | undefined;
  if (signed.format === 'vouch') {
    const fh = await open(manifestPath, 'r').catch((e: NodeJS.ErrnoException) => {
      // Embedded: a file is only needed when one was named.
      if (e.code === 'ENOENT' && signed.manifest.embedded && options.manifest === undefined) return undefined;
      throw fileError(e, manifestPath);
    });
    if (fh) {
      const st = await fh.stat();
      const embedded = signed.manifest.embedded;
      if (embedded && (st.size !== embedded.length || !(await sameBytes(fileSource(fh, embedded.length), embedded)))) {
        await fh.close();
        throw new VouchError('MANIFEST_INVALID', `${manifestPath} is not the manifest this signature embeds`);
      }
      manifest = { source: fileSource(fh, signed.manifest.size), file: st, close: () => fh.close() };
    }
  }
  return { signed, statementSha256, result, bundleFile, manifest };
}

/** Whether a source's bytes are exactly `expected` (the source stops one byte past its cap, so never more). */
async function sameBytes(source: AsyncIterable<Uint8Array>, expected: Buffer): Promise<boolean> {
  let at = 0;
  for await (const chunk of source) {
    if (at + chunk.length > expected.length || !expected.subarray(at, at + chunk.length).equals(chunk)) return false;
    at += chunk.length;
  }
  return at === expected.length;
}

/** `--path`: one file checked against its entry in a signed directory's manifest. */
async function verifyFileInSignedDirectory(
  target: Target & { kind: 'file' },
  relPath: string,
  policy: Policy,
  options: VerifyOptions,
): Promise<VerifyOutcome> {
  if (!options.bundle) throw new VouchError('USAGE', "--path needs --bundle (the directory's bundle)");
  const { fileInDirectoryPath, signedEntry, verifyFileAgainst } = await import('../artifact/dir/index.ts');
  const path = fileInDirectoryPath(relPath);
  const v = await verifiedDirectoryBundle(options.bundle, policy, options);
  try {
    const entry = await signedEntry(v.signed, path, v.manifest?.source);
    const file = await verifyFileAgainst(v.signed, entry, target.path, path);
    return { target: describeTarget(target), ...v.result, artifact: { digest: `sha256:${file.sha256}` }, file };
  } finally {
    await v.manifest?.close();
  }
}

/**
 * Trust material for `verify`, loaded before it runs (CONVENTIONS: load trust first, then verify purely): one
 * Sigstore trusted root file, or else every root of the trust store.
 */
export async function loadTrust(options: { trustedRoot?: string; home?: string } = {}): Promise<TrustMaterial[]> {
  if (options.trustedRoot === undefined) return loadDefaultTrust(options.home);
  const text = await readCappedText(options.trustedRoot, {
    maxBytes: MAX_TRUST_ROOT_BYTES,
    code: 'TRUST_ROOT_INVALID',
    what: `trusted root ${options.trustedRoot}`,
  });
  return [loadTrustedRoot(text)];
}

/**
 * A key-pair bundle with no log entry and no timestamp is checked against the policy's keys alone: no authority
 * of any root takes part, so the trust store is not read (it costs a cold `vouch verify --key` ~10 ms).
 */
function needsAuthorities(bundle: Bundle, policy: Policy): boolean {
  return !policy.keys || bundle.tlogEntries.length > 0 || bundle.rfc3161Timestamps.length > 0;
}

/** The trust store's roots by name (a policy signer's `roots` names them). */
export function loadNamedTrust(home = vouchHome()): { name: string; material: TrustMaterial }[] {
  return listTrustStore(home).map((e) => ({
    name: e.name,
    material: loadTrustedRoot(e.root, { localIssuers: e.localIssuers, localDevelopment: e.localDevelopment }),
  }));
}

/** The trust store's roots, each loaded once per process. */
export function loadDefaultTrust(home = vouchHome()): TrustMaterial[] {
  return listTrustStore(home).map((e) =>
    loadTrustedRoot(e.root, { localIssuers: e.localIssuers, localDevelopment: e.localDevelopment }),
  );
}

/** Read a bundle file (or FIFO, or device), refusing more than the cap while reading (a real bundle is a few KiB). */
export async function readBundleFile(path: string, maxBytes = MAX_BUNDLE_BYTES): Promise<string> {
  return readCappedText(path, { maxBytes, code: 'BUNDLE_TOO_LARGE', what: `bundle ${path}` });
}

async function verifyBlob(
  target: Target & { kind: 'file' | 'stdin' | 'digest' },
  policy: Policy,
  options: VerifyOptions,
): Promise<VerifyOutcome> {
  if (options.path !== undefined) {
    if (target.kind !== 'file') throw new VouchError('USAGE', '--path checks a file against a directory signature');
    return verifyFileInSignedDirectory(target, options.path, policy, options);
  }
  const bundlePath = options.bundle ?? (target.kind === 'file' ? `${target.path}.sigstore.json` : undefined);
  if (!bundlePath) throw new VouchError('USAGE', `verifying ${target.kind} needs --bundle PATH`);
  // A missing artifact is reported as such, not as its missing default bundle.
  if (target.kind === 'file') {
    await stat(target.path).catch((e: NodeJS.ErrnoException) => {
      throw fileError(e, target.path);
    });
  }
  const bundle = parseBundle(await readBundleFile(bundlePath));
  const algorithm = bundle.content.kind === 'message' ? (bundle.content.digest?.algorithm ?? 'sha256') : 'sha256';
  let artifact: ArtifactInput;
  switch (target.kind) {
    case 'digest':
      artifact = { kind: 'digest', algorithm: target.algorithm, digest: target.value };
      break;
    case 'file':
    case 'stdin': {
      const d =
        target.kind === 'file'
          ? await hashFile(target.path, algorithm, { keepUpTo: KEEP_BYTES })
          : await hashStream(process.stdin as AsyncIterable<Buffer>, algorithm, KEEP_BYTES);
      artifact = { kind: 'digest', algorithm, digest: d.value, ...(d.bytes ? { bytes: d.bytes } : {}) };
      break;
    }
  }
  const trust =
    options.trust ?? (needsAuthorities(bundle, policy) ? loadDefaultTrust(options.home) : [noAuthorities()]);
  try {
    return { target: describeTarget(target), ...verify(bundle, artifact, policy, trust) };
  } catch (e) {
    // The artifact is not what the bundle is about: when the bundle signs a directory or an image, say so rather
    // than "modified" (an image archive's bundle lies beside it under the name a file's bundle has).
    if (isVouchError(e, 'DIGEST_MISMATCH') || isVouchError(e, 'DSSE_INVALID')) {
      // Loaded only on this failure: a plain verification does not need it.
      const signs = (await import('./bundle-claims.ts')).bundleSigns(bundle);
      if (signs === 'directory' || signs === 'image') throw kindMismatch(SIGNS[signs], target.kind, e);
    }
    throw e;
  }
}

const SIGNS: Record<BundleSubjectKind, string> = {
  file: 'a file',
  directory: 'a directory',
  image: 'an image',
  attestation: 'an attestation',
  payload: 'a DSSE payload',
};

/** BUNDLE_KIND_MISMATCH, with the target that would match the bundle. */
function kindMismatch(signs: string, kind: string, cause?: unknown): VouchError {
  const as: Record<string, string> = {
    'a directory': 'verify the directory (dir:PATH) with this bundle',
    'an image': 'verify the image (oci-archive:FILE, oci-layout:DIR or oci:REF) with this bundle',
    'a file': 'verify the file it was made for (file:PATH) with this bundle',
  };
  const what = kind === 'dir' ? 'directory' : kind === 'digest' ? 'digest' : 'file';
  return new VouchError('BUNDLE_KIND_MISMATCH', `the bundle signs ${signs}, not a ${what}`, {
    cause,
    hint: `The bundle signs ${signs} (\`vouch inspect BUNDLE\` shows which): ${as[signs] ?? 'give the artifact it was made for'}.`,
  });
}
