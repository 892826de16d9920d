/**
 * Cold-start probe for bench/verify.ts: verify one real bundle in a fresh process with vouch's verifier.
 * Exits non-zero unless it verifies. bench/verify.ts bundles it with esbuild first, as the CLI is shipped.
 * Run: node bench/verify-once.ts [case-name]
 */
import { buildPolicy, loadTrustedRoot, verify } from '../src/verify/index.ts';
import { loadCase } from '../test/helpers/realbundles.ts';

const c = loadCase(process.argv[2] ?? 'prod-v0.3-hashedrekord');
const r = verify(
  c.bundleText,
  c.artifact,
  buildPolicy({ identities: [{ identity: c.identity!, issuer: c.issuer! }] }),
  loadTrustedRoot(c.trustedRootText),
);
if (!r.verified) process.exit(1);
