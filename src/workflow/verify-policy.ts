/**
 * Verifying a target against a policy document (src/policy): every signature found for the artifact (the bundles
 * given, the bundles beside a file, every signature attached to an image) is verified on its own against the
 * trusted roots, with any identity accepted at that stage; then the policy decides over the set of verified
 * signers. A signature that fails is reported with its reason and counts for nothing, but does not by itself fail a
 * policy the others meet. All I/O (bundles, hashing, trust, registry) happens here; the evaluation is pure.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { DirectoryVerification } from '../artifact/dir/index.ts';
import type { PeStrictResult } from '../artifact/dir/pe.ts';
import type { PeRecord } from '../artifact/pe/index.ts';
import { describeTarget, parseTarget, type Target } from '../artifact/target.ts';
import { type HashAlgorithm, hashFile, hashStream } from '../core/digest.ts';
import { type ErrorCode, isVouchError, VouchError } from '../errors.ts';
import {
  type EvaluationContext,
  evaluatePolicy,
  type PolicyEvaluation,
  type SignatureOutcome,
} from '../policy/evaluate.ts';
import type { ArtifactKind, CompiledPolicy } from '../policy/types.ts';
import { type Bundle, parseBundle } from '../verify/bundle.ts';
import { buildPolicy } from '../verify/policy.ts';
import type { TrustMaterial } from '../verify/trust.ts';
import type { ArtifactInput, Policy, PublicKeyInput, VerificationResult } from '../verify/types.ts';
import { verify } from '../verify/verifier.ts';
import { readBundleFile, strictPe, type VerifyOptions, verifyTarget } from './verify.ts';

/** A trusted root with the name a policy signer's `roots` refers to (trust store name). */
export interface NamedTrust {
  name: string;
  material: TrustMaterial;
}

export interface PolicyVerifyOptions {
  policy: CompiledPolicy;
  /** Bundle files, or folders of bundles (every `*.json` in them). Default: the bundles beside a file target. */
  bundles?: string[];
  /** Public keys for key-pair bundles besides those the policy carries (`--key`). */
  keys?: PublicKeyInput[];
  trust: NamedTrust[];
  /** "Now", for `maxAgeDays` (default: the clock). */
  now?: number;
  /** Images: as for verifyTarget (platform, repository, registry...). */
  image?: import('./verify-image.ts').ImageVerifyOptions;
  /**
   * `--pe-strict` (file and directory targets): once the policy is met, the artifact as it is now must also pass
   * the PE check a signer runs, as for verifyTarget; its failure is the check's own code.
   */
  pe?: VerifyOptions['pe'];
}

export interface PolicyVerifyOutcome {
  verified: true;
  target: string;
  artifact?: { digest: string };
  image?: { repository: string; digest: string; mediaType: string };
  evaluation: PolicyEvaluation;
  /** `pe` on a file that is a PE image: what its check found. */
  pe?: PeRecord;
  /** `pe` on a directory: what the check of its PE files found. */
  peStrict?: PeStrictResult;
}

/** What a POLICY_NOT_SATISFIED error carries in `details`: the same outcome, not verified. */
export type PolicyVerifyFailure = Omit<PolicyVerifyOutcome, 'verified'> & { verified: false };

/** At most this many signatures are considered for one artifact. */
export const MAX_SIGNATURES = 64;

/**
 * The verifier's own policy for the first stage: any identity of any issuer (the policy document decides who counts,
 * with every mismatch explained), or the policy's and the caller's keys for key-pair bundles.
 */
const ANY_IDENTITY = buildPolicy({ identities: [{ identityRegexp: '[\\s\\S]*', issuerRegexp: '[\\s\\S]*' }] });

export async function verifyWithPolicy(input: string | Target, o: PolicyVerifyOptions): Promise<PolicyVerifyOutcome> {
  const target = typeof input === 'string' ? parseTarget(input) : input;
  if (o.pe && target.kind !== 'file' && target.kind !== 'dir') {
    throw new VouchError('USAGE', '--pe-strict checks a file or a directory target');
  }
  const keys: PublicKeyInput[] = [...(o.keys ?? [])];
  for (const s of o.policy.signers.values()) if (s.kind === 'key' && s.pem) keys.push({ spki: s.pem });
  checkRootNames(o.policy, o.trust);
  const perRoot = [...o.policy.signers.values()].some((s) => s.roots);
  const ctx = { keys, trust: o.trust, perRoot };

  let outcomes: SignatureOutcome[];
  let artifact: { digest: string } | undefined;
  let entryPaths: Iterable<string> | undefined;
  let image: PolicyVerifyOutcome['image'];
  /** Directories: a bundle the tree verified against, to walk it once more for `pe`. */
  let verifiedWith: { bundle: string; policy: Policy; roots: TrustMaterial[] } | undefined;
  let kind: ArtifactKind;
  let name: string;
  switch (target.kind) {
    case 'file':
    case 'stdin':
    case 'digest': {
      kind = 'file';
      name = target.kind === 'file' ? basename(target.path) : describeTarget(target);
      const paths = await bundlePaths(o.bundles, target.kind === 'file' ? target.path : undefined);
      const r = await verifyBlobBundles(target, paths, ctx);
      outcomes = r.outcomes;
      artifact = r.artifact;
      break;
    }
    case 'dir': {
      kind = 'directory';
      const root = target.path.replace(/(?<=.)\/+$/, '');
      name = basename(resolve(root));
      const paths = await bundlePaths(o.bundles, undefined, `${resolve(root)}.sigstore.json`);
      outcomes = [];
      // Signers of one release sign the same statement: the tree is walked and hashed once for all of them.
      const comparisons = new Map<string, DirectoryVerification>();
      const onVerifiedPaths = (p: Iterable<string>) => {
        entryPaths ??= p;
      };
      for (const p of paths) {
        // Directory bundles are small (the manifest is a file of its own): read whole to tell keyless from a key.
        const kindOf = async () => parseBundle(await readBundleFile(p));
        outcomes.push(
          await outcomeOf(
            p,
            async (policy, roots) => {
              const r = await verifyTarget(target, {
                ...policyOptions(policy),
                bundle: p,
                trust: roots,
                onVerifiedPaths,
                comparisons,
              });
              artifact ??= r.artifact;
              verifiedWith ??= { bundle: p, policy, roots };
              return r;
            },
            ctx,
            kindOf,
          ),
        );
      }
      break;
    }
    default: {
      kind = 'image';
      const r = await verifyImageSignatures(target, o, ctx);
      outcomes = r.outcomes;
      image = r.image;
      name = r.image.repository;
      artifact = { digest: r.image.digest };
    }
  }
  // Directories: path rules apply where the verified tree has entries under their pattern; when no signature
  // verified, the entries are not known and every path rule applies (not knowing never relaxes the policy).
  const evalCtx: EvaluationContext = {
    now: o.now ?? Date.now(),
    target: { kind, name },
    ...(entryPaths ? { paths: entryPaths } : {}),
  };
  const evaluation = evaluatePolicy(o.policy, outcomes, evalCtx);
  const outcome: PolicyVerifyOutcome = { verified: true, target: describeTarget(target), evaluation };
  if (artifact) outcome.artifact = artifact;
  if (image) outcome.image = image;
  if (!evaluation.satisfied) {
    const { verified: _v, ...details } = outcome;
    const failed = evaluation.rules.filter((r) => !r.satisfied).map((r) => r.id);
    throw new VouchError(
      'POLICY_NOT_SATISFIED',
      `${describeTarget(target)}: ${failed.join(', ')} not met by the ${outcomes.filter((x) => x.verified).length} of ${outcomes.length} signatures that verified`,
      { details: { verified: false, ...details } },
    );
  }
  if (o.pe && target.kind === 'file') Object.assign(outcome, await strictPe(target.path, o.pe));
  if (o.pe && target.kind === 'dir' && verifiedWith) {
    // The policy is met, so at least one signature verified the tree: walk it again with that one, checking every
    // PE file as it is now. Separate from the policy's walks, so a PE anomaly fails with its own code.
    const r = await verifyTarget(target, {
      ...policyOptions(verifiedWith.policy),
      bundle: verifiedWith.bundle,
      trust: verifiedWith.roots,
      pe: o.pe,
    });
    if (r.directory?.peStrict) outcome.peStrict = r.directory.peStrict;
  }
  return outcome;
}

interface VerifyCtx {
  keys: PublicKeyInput[];
  trust: NamedTrust[];
  perRoot: boolean;
}

/** A policy's signer named a root the trust material does not have: a mistake to report before any work. */
function checkRootNames(policy: CompiledPolicy, trust: NamedTrust[]): void {
  const names = new Set(trust.map((t) => t.name));
  for (const s of policy.signers.values()) {
    for (const r of s.roots ?? []) {
      if (!names.has(r)) {
        throw new VouchError(
          'POLICY_INVALID',
          `${policy.source}: signer ${s.name} names the trusted root ${r}, which is not trusted here (${[...names].join(', ')})`,
          { hint: 'Import it with `vouch trust import FILE --name NAME`, or give it with --trusted-root NAME.json.' },
        );
      }
    }
  }
}

function policyOptions(p: Policy) {
  return p.keys ? { keys: p.keys } : { identities: [{ identityRegexp: '[\\s\\S]*', issuerRegexp: '[\\s\\S]*' }] };
}

/**
 * Run one signature's verification. With `perRoot`, against each named root on its own, to learn every root it
 * verifies against entirely; else against all of them at once (the verifier tries each).
 */
async function outcomeOf(
  source: string,
  run: (policy: Policy, roots: TrustMaterial[]) => Promise<VerificationResult> | VerificationResult,
  ctx: VerifyCtx,
  bundle: Bundle | (() => Promise<Bundle>),
): Promise<SignatureOutcome> {
  try {
    const b = typeof bundle === 'function' ? await bundle() : bundle;
    const keyPair = b.material.kind !== 'certificate';
    let policy: Policy = ANY_IDENTITY;
    if (keyPair) {
      if (ctx.keys.length === 0) {
        throw new VouchError(
          'KEY_MISMATCH',
          'signed with a key pair, and neither the policy nor --key gives a public key',
        );
      }
      policy = { keys: ctx.keys };
    }
    if (!ctx.perRoot) {
      return {
        source,
        verified: true,
        result: await run(
          policy,
          ctx.trust.map((t) => t.material),
        ),
        roots: [],
      };
    }
    const roots: string[] = [];
    let result: VerificationResult | undefined;
    let firstError: unknown;
    for (const t of ctx.trust) {
      try {
        result = await run(policy, [t.material]);
        roots.push(t.name);
      } catch (e) {
        if (!isVouchError(e)) throw e;
        firstError ??= e;
      }
    }
    if (!result) {
      // The error the verifier gives over all roots at once: that of the root that got furthest.
      await run(
        policy,
        ctx.trust.map((t) => t.material),
      );
      throw firstError;
    }
    return { source, verified: true, result, roots };
  } catch (e) {
    if (!isVouchError(e)) throw e;
    return { source, verified: false, error: { code: e.code as ErrorCode, message: e.message } };
  }
}

/** The bundles to consider: those given (folders expanded), else `FILE.sigstore.json` and `FILE.*.sigstore.json`. */
async function bundlePaths(given: string[] | undefined, file?: string, fallback?: string): Promise<string[]> {
  const out: string[] = [];
  if (given && given.length > 0) {
    for (const g of given) {
      const st = await stat(g).catch(() => undefined);
      if (st?.isDirectory()) {
        const names = (await readdir(g)).filter((n) => n.endsWith('.json')).sort();
        out.push(...names.map((n) => join(g, n)));
      } else out.push(g);
    }
  } else if (file !== undefined) {
    const dir = dirname(file);
    const base = basename(file);
    const names = await readdir(dir).catch(() => [] as string[]);
    const own = `${base}.sigstore.json`;
    if (names.includes(own)) out.push(join(dir, own));
    out.push(
      ...names
        .filter((n) => n !== own && n.startsWith(`${base}.`) && n.endsWith('.sigstore.json'))
        .sort()
        .map((n) => join(dir, n)),
    );
  } else if (fallback !== undefined) {
    out.push(fallback);
  }
  if (out.length === 0) {
    throw new VouchError(
      'SIGNATURE_NOT_FOUND',
      file
        ? `no bundle beside ${file} (${basename(file)}.sigstore.json or ${basename(file)}.*.sigstore.json)`
        : 'no bundle given',
      {
        hint: 'Give the bundles with --bundle (repeatable, or a folder of bundles).',
      },
    );
  }
  if (out.length > MAX_SIGNATURES) {
    throw new VouchError('USAGE', `${out.length} bundles; at most ${MAX_SIGNATURES} are considered for one artifact`);
  }
  return out;
}

/** Files, stdin and digests: the artifact is hashed once per digest algorithm the bundles use. */
async function verifyBlobBundles(
  target: Target & { kind: 'file' | 'stdin' | 'digest' },
  paths: string[],
  ctx: VerifyCtx,
): Promise<{ outcomes: SignatureOutcome[]; artifact?: { digest: string } }> {
  const parsed: { path: string; bundle?: Bundle; error?: VouchError }[] = [];
  for (const path of paths) {
    try {
      parsed.push({ path, bundle: parseBundle(await readBundleFile(path)) });
    } catch (e) {
      if (!isVouchError(e) || e.category === 'usage') throw e;
      parsed.push({ path, error: e });
    }
  }
  const inputs = new Map<HashAlgorithm, ArtifactInput>();
  const inputFor = async (b: Bundle): Promise<ArtifactInput> => {
    const algorithm: HashAlgorithm =
      b.content.kind === 'message' ? (b.content.digest?.algorithm ?? 'sha256') : 'sha256';
    let input = inputs.get(algorithm);
    if (!input) {
      if (target.kind === 'digest') {
        input = { kind: 'digest', algorithm: target.algorithm, digest: target.value };
      } else {
        if (target.kind === 'stdin' && inputs.size > 0) {
          throw new VouchError('USAGE', 'stdin can be read once: its bundles must use one digest algorithm');
        }
        const d =
          target.kind === 'file'
            ? await hashFile(target.path, algorithm, { keepUpTo: KEEP_BYTES })
            : await hashStream(process.stdin as AsyncIterable<Buffer>, algorithm, KEEP_BYTES);
        input = { kind: 'digest', algorithm, digest: d.value, ...(d.bytes ? { bytes: d.bytes } : {}) };
      }
      inputs.set(algorithm, input);
    }
    return input;
  };
  const outcomes: SignatureOutcome[] = [];
  let artifact: { digest: string } | undefined;
  for (const p of parsed) {
    if (p.error) {
      outcomes.push({ source: p.path, verified: false, error: { code: p.error.code, message: p.error.message } });
      continue;
    }
    const b = p.bundle!;
    const input = await inputFor(b);
    if (!artifact && input.kind === 'digest')
      artifact = { digest: `${input.algorithm}:${input.digest.toString('hex')}` };
    outcomes.push(await outcomeOf(p.path, (policy, roots) => verify(b, input, policy, roots), ctx, b));
  }
  return artifact ? { outcomes, artifact } : { outcomes };
}

/** Files up to this size are kept in memory so a message signature is checked natively over the bytes. */
const KEEP_BYTES = 1 << 20;

/** Images: every signature attached to the digest (or the bundles given), each verified and bound on its own. */
async function verifyImageSignatures(
  target: Target,
  o: PolicyVerifyOptions,
  ctx: VerifyCtx,
): Promise<{ outcomes: SignatureOutcome[]; image: NonNullable<PolicyVerifyOutcome['image']> }> {
  const { imageCandidates } = await import('./verify-image.ts');
  const given = o.bundles && o.bundles.length > 0 ? await bundlePaths(o.bundles) : undefined;
  const texts = given
    ? await Promise.all(given.map(async (p) => ({ source: p, text: await readBundleFile(p) })))
    : undefined;
  const found = await imageCandidates(target, o.image ?? {}, texts);
  const outcomes: SignatureOutcome[] = [];
  for (const c of found.candidates) {
    let bundle: Bundle | undefined;
    try {
      bundle = parseBundle(c.bundle);
    } catch (e) {
      if (!isVouchError(e)) throw e;
      outcomes.push({ source: c.source, verified: false, error: { code: e.code, message: e.message } });
      continue;
    }
    outcomes.push(
      await outcomeOf(
        c.source,
        (policy, roots) => c.verify((text, input) => verify(text, input, policy, roots)),
        ctx,
        bundle,
      ),
    );
  }
  return { outcomes, image: found.image };
}

/**
 * One bundle verified on its own, for `vouch policy init`: against its own message digest or as a statement (the
 * artifact is not at hand), any identity accepted; a key-pair bundle against the keys given. Refuses what does not
 * verify, so a forged or tampered bundle is never pinned.
 */
export async function verifyBundleAlone(
  path: string,
  o: { keys: PublicKeyInput[]; trust: TrustMaterial[] },
): Promise<{ result: VerificationResult; keyPem?: string }> {
  const b = parseBundle(await readBundleFile(path));
  let artifact: ArtifactInput;
  if (b.content.kind === 'message') {
    if (!b.content.digest) throw new VouchError('BUNDLE_UNSUPPORTED', `${path}: the message signature names no digest`);
    artifact = { kind: 'digest', algorithm: b.content.digest.algorithm, digest: b.content.digest.value };
  } else artifact = { kind: 'statement' };
  if (b.material.kind === 'certificate') return { result: verify(b, artifact, ANY_IDENTITY, o.trust) };
  if (o.keys.length === 0)
    throw new VouchError('USAGE', `${path} is signed with a key pair: give its public key with --key`);
  const result = verify(b, artifact, { keys: o.keys }, o.trust);
  const { createPublicKey } = await import('node:crypto');
  const { spkiFingerprint } = await import('../verify/trust.ts');
  const pem = o.keys
    .map((k) => createPublicKey(typeof k.spki === 'string' ? k.spki : { key: k.spki, format: 'der', type: 'spki' }))
    .find(
      (k) =>
        result.signer.type === 'key' &&
        spkiFingerprint(k.export({ format: 'der', type: 'spki' })) === result.signer.fingerprint,
    )
    ?.export({ format: 'pem', type: 'spki' }) as string | undefined;
  return pem ? { result, keyPem: pem } : { result };
}
