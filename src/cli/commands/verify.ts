/** `vouch verify`: cosign verify-blob's flags mapped onto a policy; key-pair with --key, else keyless. */

import { createPublicKey } from 'node:crypto';
import { basename } from 'node:path';
import { VouchError } from '../../errors.ts';
import type { CompiledPolicy } from '../../policy/types.ts';
import { readKeyFile } from '../../sign/keys.ts';
import type { IdentityOptions } from '../../verify/policy.ts';
import { spkiFingerprint } from '../../verify/trust.ts';
import {
  loadNamedTrust,
  loadTrust,
  type VerifyOptions,
  type VerifyOutcome,
  verifyTarget,
} from '../../workflow/verify.ts';
import type { NamedTrust, PolicyVerifyFailure, PolicyVerifyOutcome } from '../../workflow/verify-policy.ts';
import { formatPolicyOutcome, sarifOf } from '../format/policy.ts';
import { formatVerify } from '../format/verify.ts';
import { type CommandContext, defineCommand } from '../run.ts';

interface VerifyFlags {
  bundle?: string[];
  key?: string[];
  policy?: string;
  policyDigest?: string;
  certificateGithubWorkflowRepository?: string;
  certificateGithubWorkflowRef?: string;
  certificateGithubWorkflowTrigger?: string;
  certificateGithubWorkflowSha?: string;
  certificateGithubWorkflowName?: string;
  format?: 'text' | 'json' | 'sarif';
  json?: boolean;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  trustedRoot?: string;
  platform?: string;
  repository?: string;
  allowRepository?: string[];
  unsafeAllowAnyRepository?: boolean;
  allowInsecureRegistry?: boolean;
  path?: string;
  manifest?: string;
  ignorePaths?: string[];
  failOnExcluded?: boolean;
  peStrict?: boolean;
  authenticodeRoots?: string;
  allowPeAnomaly?: string[];
}

/**
 * A keyless verification needs the signer's identity and its issuer: name the flags that are missing, rather than
 * the policy's fields (and where a person finds the values: the bundle's claims, shown by `vouch inspect`).
 */
function requireIdentityFlags(o: VerifyFlags): void {
  const missing: string[] = [];
  if (o.certificateIdentity === undefined && o.certificateIdentityRegexp === undefined) {
    missing.push('--certificate-identity (or --certificate-identity-regexp)');
  }
  if (o.certificateOidcIssuer === undefined && o.certificateOidcIssuerRegexp === undefined) {
    missing.push('--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)');
  }
  if (missing.length === 0) return;
  throw new VouchError('POLICY_INVALID', `missing ${missing.join(' and ')}`, {
    hint: `Say who must have signed: ${missing.join(' and ')}; or --key FILE for a key-pair signature. \`vouch inspect BUNDLE\` shows the identity and issuer a bundle claims.`,
  });
}

export default defineCommand({
  async run([target]: [string], o: VerifyFlags, ctx: CommandContext): Promise<VerifyOutcome | PolicyVerifyOutcome> {
    if (o.unsafeAllowAnyRepository) ctx.warn('--unsafe-allow-any-repository: the repository is not checked');
    const claims = claimFlags(o);
    if (
      o.policy !== undefined ||
      (o.bundle?.length ?? 0) > 1 ||
      (o.key?.length ?? 0) > 1 ||
      Object.keys(claims).length > 0
    ) {
      return verifyPolicy(target, o, claims);
    }
    if (o.policyDigest !== undefined) throw new VouchError('USAGE', '--policy-digest goes with --policy');
    const options: VerifyOptions = {};
    if (o.key?.[0]) options.keys = [{ spki: await readKeyFile(o.key[0]) }];
    const identity: IdentityOptions = {};
    if (o.certificateIdentity !== undefined) identity.identity = o.certificateIdentity;
    if (o.certificateIdentityRegexp !== undefined) identity.identityRegexp = o.certificateIdentityRegexp;
    if (o.certificateOidcIssuer !== undefined) identity.issuer = o.certificateOidcIssuer;
    if (o.certificateOidcIssuerRegexp !== undefined) identity.issuerRegexp = o.certificateOidcIssuerRegexp;
    // Identity flags make a keyless policy; with --key as well, buildPolicy refuses the mix (POLICY_INVALID).
    if (!o.key) requireIdentityFlags(o);
    if (Object.keys(identity).length > 0 || !o.key) options.identities = [identity];
    if (o.trustedRoot) options.trust = await loadTrust({ trustedRoot: o.trustedRoot });
    if (o.bundle?.[0] !== undefined) options.bundle = o.bundle[0];
    if (o.path !== undefined) options.path = o.path;
    if (o.manifest !== undefined) options.manifest = o.manifest;
    if (o.ignorePaths !== undefined) options.ignorePaths = o.ignorePaths;
    if (o.failOnExcluded) options.failOnExcluded = true;
    const onProgress = ctx.progress();
    if (onProgress) options.onProgress = onProgress;
    options.image = imageOptions(o);
    const pe = await peOptions(o);
    if (pe) options.pe = pe;
    return verifyTarget(target, options);
  },
  human: (r) => ('evaluation' in r ? formatPolicyOutcome(r) : formatVerify(r)),
  json: (r, flags) => (flags.format === 'sarif' ? sarifOf(r) : r),
  failure: { verified: false },
  renderFailure(e, flags) {
    const outcome = policyFailure(e);
    if (flags.format === 'sarif') return { json: sarifOf(outcome ?? e) };
    return outcome && flags.json !== true && flags.format !== 'json'
      ? { lines: formatPolicyOutcome(outcome) }
      : undefined;
  },
});

/** The PE flags, with or without a policy. */
async function peOptions(o: VerifyFlags): Promise<VerifyOptions['pe']> {
  if (!o.peStrict && (o.authenticodeRoots !== undefined || o.allowPeAnomaly)) {
    throw new VouchError('USAGE', '--authenticode-roots and --allow-pe-anomaly go with --pe-strict');
  }
  if (!o.peStrict) return undefined;
  const pe: NonNullable<VerifyOptions['pe']> = { strict: true };
  if (o.authenticodeRoots !== undefined) {
    // Loaded only for --pe-strict: a plain verify stays as cold-fast as before.
    const { loadAuthenticodeRoots } = await import('../../artifact/pe/index.ts');
    pe.roots = await loadAuthenticodeRoots(o.authenticodeRoots);
  }
  if (o.allowPeAnomaly) pe.allow = o.allowPeAnomaly;
  return pe;
}

/** The image flags, with or without a policy. */
function imageOptions(o: VerifyFlags): NonNullable<VerifyOptions['image']> {
  const image: NonNullable<VerifyOptions['image']> = {};
  if (o.platform !== undefined) image.platform = o.platform;
  if (o.repository !== undefined) image.repository = o.repository;
  if (o.unsafeAllowAnyRepository) image.allowRepositories = 'any';
  else if (o.allowRepository) image.allowRepositories = o.allowRepository;
  if (o.allowInsecureRegistry) image.registry = { allowInsecure: true };
  return image;
}

/** The outcome a POLICY_NOT_SATISFIED error carries: the tree for people, SARIF for dashboards. */
function policyFailure(e: VouchError): PolicyVerifyFailure | undefined {
  const d = e.details as { evaluation?: unknown } | undefined;
  return e.code === 'POLICY_NOT_SATISFIED' && d && typeof d === 'object' && d.evaluation
    ? (d as PolicyVerifyFailure)
    : undefined;
}

/** cosign's claim flags, as the certificate extensions they name (Fulcio OIDs 1.3.6.1.4.1.57264.1.2 to .6). */
function claimFlags(o: VerifyFlags): Record<string, string> {
  const out: Record<string, string> = {};
  if (o.certificateGithubWorkflowTrigger !== undefined) out.githubWorkflowTrigger = o.certificateGithubWorkflowTrigger;
  if (o.certificateGithubWorkflowSha !== undefined) out.githubWorkflowSha = o.certificateGithubWorkflowSha;
  if (o.certificateGithubWorkflowName !== undefined) out.githubWorkflowName = o.certificateGithubWorkflowName;
  if (o.certificateGithubWorkflowRepository !== undefined) {
    out.githubWorkflowRepository = o.certificateGithubWorkflowRepository;
  }
  if (o.certificateGithubWorkflowRef !== undefined) out.githubWorkflowRef = o.certificateGithubWorkflowRef;
  return out;
}

/**
 * Several signatures, a policy document, or claims beyond identity and issuer: the policy path. Without --policy,
 * the flags become a policy of one signer (or any of the keys given), checked by the same loader.
 */
async function verifyPolicy(
  target: string,
  o: VerifyFlags,
  claims: Record<string, string>,
): Promise<PolicyVerifyOutcome> {
  const [{ parsePolicy }, { readPolicySource }, { verifyWithPolicy }] = await Promise.all([
    import('../../policy/load.ts'),
    import('../../instance/policies.ts'),
    import('../../workflow/verify-policy.ts'),
  ]);
  const flags =
    o.certificateIdentity ?? o.certificateIdentityRegexp ?? o.certificateOidcIssuer ?? o.certificateOidcIssuerRegexp;
  if (o.path !== undefined) throw new VouchError('USAGE', '--path checks one bundle; it does not take a policy');
  const keys = await Promise.all((o.key ?? []).map(async (k) => ({ spki: await readKeyFile(k) })));
  let policy: CompiledPolicy;
  if (o.policy !== undefined) {
    if (flags !== undefined || Object.keys(claims).length > 0) {
      throw new VouchError('USAGE', 'give either --policy or identity flags (--certificate-...), not both');
    }
    const p = await readPolicySource(o.policy, o.policyDigest !== undefined ? { digest: o.policyDigest } : {});
    policy = parsePolicy(p.text, p.source);
  } else {
    if (o.policyDigest !== undefined) throw new VouchError('USAGE', '--policy-digest goes with --policy');
    policy = parsePolicy(JSON.stringify(flagPolicy(o, claims, keys, flags !== undefined)), 'the command line');
  }
  const trust: NamedTrust[] = o.trustedRoot
    ? [
        {
          name: basename(o.trustedRoot).replace(/\.json$/, ''),
          material: (await loadTrust({ trustedRoot: o.trustedRoot }))[0]!,
        },
      ]
    : loadNamedTrust();
  const image = imageOptions(o);
  const pe = await peOptions(o);
  return verifyWithPolicy(target, {
    policy,
    trust,
    keys,
    image,
    ...(o.bundle ? { bundles: o.bundle } : {}),
    ...(pe ? { pe } : {}),
  });
}

/** The identity flags as a policy document: one keyless signer with its claims, or any one of the keys. */
function flagPolicy(
  o: VerifyFlags,
  claims: Record<string, string>,
  keys: { spki: Buffer | string }[],
  keyless: boolean,
): Record<string, unknown> {
  if (keys.length > 0 && !keyless && Object.keys(claims).length === 0) {
    const signers = Object.fromEntries(
      keys.map((k, i) => [
        `key-${i + 1}`,
        { fingerprint: spkiFingerprint(createPublicKey(k.spki).export({ format: 'der', type: 'spki' })) },
      ]),
    );
    return { apiVersion: 'vouch.dev/policy/v1', signers, require: { anyOf: Object.keys(signers) } };
  }
  if (keys.length > 0) throw new VouchError('POLICY_INVALID', 'give either keys or an identity (exactly one)');
  const identity =
    o.certificateIdentity ??
    (o.certificateIdentityRegexp !== undefined ? { regexp: o.certificateIdentityRegexp } : undefined);
  const issuer =
    o.certificateOidcIssuer ??
    (o.certificateOidcIssuerRegexp !== undefined ? { regexp: o.certificateOidcIssuerRegexp } : undefined);
  if (identity === undefined || issuer === undefined) {
    throw new VouchError(
      'POLICY_INVALID',
      'a keyless signature needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]',
    );
  }
  if (o.certificateIdentity !== undefined && o.certificateIdentityRegexp !== undefined) {
    throw new VouchError('POLICY_INVALID', 'give either identity or identity regexp, not both');
  }
  if (o.certificateOidcIssuer !== undefined && o.certificateOidcIssuerRegexp !== undefined) {
    throw new VouchError('POLICY_INVALID', 'give either issuer or issuer regexp, not both');
  }
  const signer: Record<string, unknown> = { identity, issuer };
  if (Object.keys(claims).length > 0) signer.extensions = claims;
  return { apiVersion: 'vouch.dev/policy/v1', signers: { signer: signer }, require: 'signer' };
}
