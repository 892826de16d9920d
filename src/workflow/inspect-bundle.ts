/**
 * `vouch inspect BUNDLE`: read a bundle (under the verifier's cap), describe it without verifying
 * it (src/workflow/bundle-claims.ts) against the trust store's roots by name, and build the `vouch verify` command that
 * would check what it claims: the artifact it was made for, the identity and issuer (or the key) it names, and the
 * trusted root when the store has none that names its authorities.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readCappedText } from '../core/read.ts';
import { vouchHome } from '../instance/home.ts';
import { listTrustStore } from '../instance/truststore.ts';
import { MAX_BUNDLE_BYTES, parseBundle } from '../verify/bundle.ts';
import { loadTrustedRoot } from '../verify/trust.ts';
import { type BundleInspection, inspectBundle, type NamedTrust } from './bundle-claims.ts';

export interface BundleReport extends BundleInspection {
  path: string;
  /** The `vouch verify` arguments that check the bundle's claims (placeholders in capitals where it cannot know). */
  verifyCommand: string[];
}

const BUNDLE_SUFFIX = '.sigstore.json';

export async function inspectBundleFile(path: string, options: { home?: string } = {}): Promise<BundleReport> {
  const text = await readCappedText(path, {
    maxBytes: MAX_BUNDLE_BYTES,
    code: 'BUNDLE_TOO_LARGE',
    what: `bundle ${path}`,
  });
  const bundle = parseBundle(text);
  const roots: NamedTrust[] = listTrustStore(options.home ?? vouchHome()).map((e) => ({
    name: e.name,
    trust: loadTrustedRoot(e.root, { localIssuers: e.localIssuers, localDevelopment: e.localDevelopment }),
  }));
  const inspection = inspectBundle(bundle, roots);
  return { path, ...inspection, verifyCommand: verifyCommandFor(path, inspection) };
}

/** The artifact argument of `vouch verify` for this bundle, and whether the bundle is its default one. */
function artifactFor(path: string, r: BundleInspection): { target: string; defaultBundle: boolean } {
  const name = basename(path);
  const beside =
    name.endsWith(BUNDLE_SUFFIX) && name.length > BUNDLE_SUFFIX.length
      ? join(dirname(path), basename(path).slice(0, -BUNDLE_SUFFIX.length))
      : undefined;
  const subject = r.subjects?.[0];
  switch (r.signs) {
    case 'image': {
      const digest = subject?.digests[0];
      // vouch names the repository in the subject; cosign's statements name none.
      const repo = subject?.name ? subject.name : 'REGISTRY/NAME';
      return { target: digest ? `oci:${repo}@${digest}` : `oci:${repo}@DIGEST`, defaultBundle: false };
    }
    case 'directory':
      return beside
        ? { target: `dir:${beside}`, defaultBundle: true }
        : { target: 'dir:DIRECTORY', defaultBundle: false };
    case 'file':
    case 'attestation':
    case 'payload': {
      // The file beside the bundle when there is one; else the digest the bundle names, which verify accepts too.
      const digest = r.digest ?? subject?.digests.find((d) => /^sha(256|384|512):/.test(d));
      if (beside && (existsSync(beside) || digest === undefined)) return { target: beside, defaultBundle: true };
      return { target: digest ?? 'FILE', defaultBundle: false };
    }
  }
}

export function verifyCommandFor(path: string, r: BundleInspection): string[] {
  const { target, defaultBundle } = artifactFor(path, r);
  const args = ['vouch', 'verify', target];
  if (!defaultBundle) args.push('--bundle', path);
  if (r.signer.type === 'key') args.push('--key', 'KEY.pub');
  else {
    args.push('--certificate-identity', r.signer.identity ?? 'IDENTITY');
    args.push('--certificate-oidc-issuer', r.signer.issuer ?? 'ISSUER');
  }
  // A key-pair bundle with neither log entry nor timestamp needs no trusted root at all.
  const needsRoot = r.signer.type === 'certificate' || r.tlogEntries.length > 0 || r.timestamps.length > 0;
  if (needsRoot && r.trustedRoots.length === 0) args.push('--trusted-root', 'TRUSTED_ROOT.json');
  return args;
}
