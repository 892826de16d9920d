/**
 * `vouch sign` without `--key`: keyless signing of any target on the resolved instance (embedded by default), in one
 * session (src/instance/session.ts), the bundle written atomically.
 */
import type { Target } from '../../artifact/target.ts';
import { writeFileAtomic } from '../../core/atomic.ts';
import type { IdentitySource } from '../../identity/providers.ts';
import { type KeylessOptions, openKeylessSession } from '../../instance/session.ts';
import type { KeylessTimings } from '../../sign/keyless.ts';
import { type SignOptions, type SignSummary, signTarget } from '../../workflow/sign.ts';

export { type KeylessOptions, type KeylessSession, openKeylessSession } from '../../instance/session.ts';

export interface KeylessSignSummary extends SignSummary {
  identity: string;
  issuer: string;
  identitySource: IdentitySource;
  localDevelopmentIdentity: boolean;
  /** `embedded`, `public-good` or the instance URL. */
  instance: string;
  certificate: { notBefore: string; notAfter: string };
  integratedTime?: string;
  rfc3161Timestamps: number;
  /** Milliseconds per service call: token, ca, tlog, tsa. */
  timings: KeylessTimings;
}

/** Sign a target keyless and write its bundle. */
export async function signKeyless(
  target: string | Target,
  o: KeylessOptions & Omit<SignOptions, 'key' | 'passphrase' | 'context'> = {},
): Promise<KeylessSignSummary> {
  const session = await openKeylessSession(o);
  try {
    const { instance: _i, identityToken: _t, home: _h, env: _e, timeoutMs: _m, prompt: _p, ...signOptions } = o;
    const { bundle, ...result } = await signTarget(target, { ...signOptions, context: session.context });
    // Registry images carry their signature as a referrer; a bundle file is written only when asked for.
    if (result.bundlePath) writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`, { fsync: true });
    const certified = session.context.signer.certified!;
    const entry = bundle.verificationMaterial.tlogEntries?.[0];
    const summary: KeylessSignSummary = {
      ...result,
      identity: certified.identity,
      issuer: certified.issuer,
      identitySource: session.identitySource,
      localDevelopmentIdentity: session.localDevelopmentIdentity,
      instance: session.instance.name,
      certificate: { notBefore: certified.notBefore.toISOString(), notAfter: certified.notAfter.toISOString() },
      rfc3161Timestamps: bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.length ?? 0,
      timings: roundTimings(session.context.timings),
    };
    if (entry) summary.logIndex = entry.logIndex;
    if (entry?.integratedTime) summary.integratedTime = new Date(Number(entry.integratedTime) * 1000).toISOString();
    return summary;
  } finally {
    await session.close();
  }
}

function roundTimings(t: KeylessTimings): KeylessTimings {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
}
