/** `vouch verify`: cosign verify-blob's flags mapped onto a policy; key-pair with --key, else keyless. */
import { VouchError } from '../../errors.ts';
import { readKeyFile } from '../../sign/keys.ts';
import type { IdentityOptions } from '../../verify/policy.ts';
import { loadTrust, type VerifyOptions, type VerifyOutcome, verifyTarget } from '../../workflow/verify.ts';
import { formatVerify } from '../format/verify.ts';
import { type CommandContext, defineCommand } from '../run.ts';

interface VerifyFlags {
  bundle?: string;
  key?: string;
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

export default defineCommand({
  async run([target]: [string], o: VerifyFlags, ctx: CommandContext): Promise<VerifyOutcome> {
    if (o.unsafeAllowAnyRepository) ctx.warn('--unsafe-allow-any-repository: the repository is not checked');
    const options: VerifyOptions = {};
    if (o.key) options.keys = [{ spki: await readKeyFile(o.key) }];
    const identity: IdentityOptions = {};
    if (o.certificateIdentity !== undefined) identity.identity = o.certificateIdentity;
    if (o.certificateIdentityRegexp !== undefined) identity.identityRegexp = o.certificateIdentityRegexp;
    if (o.certificateOidcIssuer !== undefined) identity.issuer = o.certificateOidcIssuer;
    if (o.certificateOidcIssuerRegexp !== undefined) identity.issuerRegexp = o.certificateOidcIssuerRegexp;
    // Identity flags make a keyless policy; with --key as well, buildPolicy refuses the mix (POLICY_INVALID).
    if (Object.keys(identity).length > 0 || !o.key) options.identities = [identity];
    if (o.trustedRoot) options.trust = await loadTrust({ trustedRoot: o.trustedRoot });
    if (o.bundle !== undefined) options.bundle = o.bundle;
    if (o.path !== undefined) options.path = o.path;
    if (o.manifest !== undefined) options.manifest = o.manifest;
    if (o.ignorePaths !== undefined) options.ignorePaths = o.ignorePaths;
    if (o.failOnExcluded) options.failOnExcluded = true;
    const onProgress = ctx.progress();
    if (onProgress) options.onProgress = onProgress;
    const image: NonNullable<VerifyOptions['image']> = {};
    if (o.platform !== undefined) image.platform = o.platform;
    if (o.repository !== undefined) image.repository = o.repository;
    if (o.unsafeAllowAnyRepository) image.allowRepositories = 'any';
    else if (o.allowRepository) image.allowRepositories = o.allowRepository;
    if (o.allowInsecureRegistry) image.registry = { allowInsecure: true };
    options.image = image;
    if (!o.peStrict && (o.authenticodeRoots !== undefined || o.allowPeAnomaly)) {
      throw new VouchError('USAGE', '--authenticode-roots and --allow-pe-anomaly go with --pe-strict');
    }
    if (o.peStrict) {
      options.pe = { strict: true };
      if (o.authenticodeRoots !== undefined) {
        // Loaded only for --pe-strict: a plain verify stays as cold-fast as before.
        const { loadAuthenticodeRoots } = await import('../../artifact/pe/index.ts');
        options.pe.roots = await loadAuthenticodeRoots(o.authenticodeRoots);
      }
      if (o.allowPeAnomaly) options.pe.allow = o.allowPeAnomaly;
    }
    return verifyTarget(target, options);
  },
  human: formatVerify,
  failure: { verified: false },
});
