/**
 * Baseline of bench/verify-once.ts: the same verification in a fresh process with @sigstore/verify.
 * Run: node bench/verify-once-sigstore.ts [case-name]
 */
import { loadCase } from '../test/helpers/realbundles.ts';
import { sigstoreJsVerify } from '../test/helpers/sigstore-verify.ts';

const c = loadCase(process.argv[2] ?? 'prod-v0.3-hashedrekord');
const base = { trustedRootJson: c.trustedRootText, bundleJson: c.bundleText, identity: c.identity!, issuer: c.issuer! };
const v = sigstoreJsVerify(c.artifactBytes ? { ...base, artifact: c.artifactBytes } : base);
if (v.ok !== true) process.exit(1);
