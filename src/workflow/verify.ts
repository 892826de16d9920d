/**
 * The verify workflow: everything with I/O happens here, before the pure verifier runs: read and size-check the
 * bundle, hash the artifact (every byte, no excluded regions), load keys and trust material. Then
 * `verify(bundle, artifact, policy, trust)` decides, and its result is returned unchanged.
 */
import { readFile, stat } from 'node:fs/promises';
import { describeTarget, parseTarget, type Target } from '../artifact/target.ts';
import { fileError, hashFile, hashStream } from '../core/digest.ts';
import { VouchError } from '../errors.ts';
import { vouchHome } from '../instance/home.ts';
import { listTrustStore } from '../instance/truststore.ts';
import { MAX_BUNDLE_BYTES, parseBundle } from '../verify/bundle.ts';
import { buildPolicy, type PolicyOptions } from '../verify/policy.ts';
import { loadTrustedRoot, type TrustMaterial } from '../verify/trust.ts';
import type { ArtifactInput, Policy, VerificationResult } from '../verify/types.ts';
import { verify } from '../verify/verifier.ts';
import { type ImageVerifyOptions, type ImageVerifyResult, verifyImageTarget } from './verify-image.ts';

/** Files up to this size are kept in memory so a message signature is checked natively over the bytes. */
const KEEP_BYTES = 1 << 20;

export interface VerifyOptions extends PolicyOptions {
  /** Bundle file; default `<file>.sigstore.json` for files (images: the signatures attached in the registry). */
  bundle?: string;
  /** Trust material; default: the trust store of VOUCH_HOME (shipped public-good, embedded, imported roots). */
  trust?: TrustMaterial | TrustMaterial[];
  /** VOUCH_HOME for the default trust store. */
  home?: string;
  /** Images: see ImageVerifyOptions. */
  image?: Omit<ImageVerifyOptions, 'bundle'>;
}

export type VerifyOutcome = VerificationResult & { target: string; image?: ImageVerifyResult['image'] };

export async function verifyTarget(input: string | Target, options: VerifyOptions): Promise<VerifyOutcome> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  // The policy is checked before any work, so a missing identity fails fast as a usage error.
  const policy = buildPolicy(options);
  switch (target.kind) {
    case 'file':
    case 'stdin':
    case 'digest':
      return verifyBlob(target, policy, options);
    case 'oci':
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive': {
      const trust = options.trust ?? loadDefaultTrust(options.home);
      const bundle = options.bundle === undefined ? undefined : await readBundleFile(options.bundle);
      const r = await verifyImageTarget(target, (text, artifact) => verify(text, artifact, policy, trust), {
        ...options.image,
        ...(bundle !== undefined ? { bundle } : {}),
      });
      return { target: describeTarget(target), ...r.result, image: r.image };
    }
    case 'dir':
      throw new VouchError('TARGET_UNSUPPORTED', `verifying ${target.kind} targets is not supported yet`);
  }
}

/** The trust store's roots, each loaded once per process. */
export function loadDefaultTrust(home = vouchHome()): TrustMaterial[] {
  return listTrustStore(home).map((e) =>
    loadTrustedRoot(e.root, { localIssuers: e.localIssuers, localDevelopment: e.localDevelopment }),
  );
}

/** Read a bundle file, refusing oversize ones before reading them (a real bundle is a few KiB). */
export async function readBundleFile(path: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, path);
  }
  if (size > MAX_BUNDLE_BYTES) {
    throw new VouchError('BUNDLE_TOO_LARGE', `${path} is ${size} bytes; bundles are capped at ${MAX_BUNDLE_BYTES}`);
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, path);
  }
}

async function verifyBlob(
  target: Target & { kind: 'file' | 'stdin' | 'digest' },
  policy: Policy,
  options: VerifyOptions,
): Promise<VerifyOutcome> {
  const bundlePath = options.bundle ?? (target.kind === 'file' ? `${target.path}.sigstore.json` : undefined);
  if (!bundlePath) throw new VouchError('USAGE', `verifying ${target.kind} needs --bundle PATH`);
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
  const trust = options.trust ?? loadDefaultTrust(options.home);
  return { target: describeTarget(target), ...verify(bundle, artifact, policy, trust) };
}
