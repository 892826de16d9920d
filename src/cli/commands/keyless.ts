/**
 * `vouch sign` without `--key`: keyless signing of any target on the resolved instance (embedded by default), in one
 * session (src/instance/session.ts), the bundle written atomically.
 */
import type { Target } from '../../artifact/target.ts';
import type { IdentitySource } from '../../identity/providers.ts';
import { type KeylessOptions, openKeylessSession } from '../../instance/session.ts';
import type { SerializedBundle } from '../../sign/bundle.ts';
import type { KeylessTimings } from '../../sign/keyless.ts';
import { type SignSummary, signTarget } from '../../workflow/sign.ts';
import { writeFileAtomic } from '../io.ts';

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
  o: KeylessOptions & { bundle?: string } = {},
): Promise<KeylessSignSummary> {
  const session = await openKeylessSession(o);
  try {
    const { bundle, ...result } = await signTarget(target, {
      context: session.context,
      ...(o.bundle !== undefined ? { bundle: o.bundle } : {}),
    });
    explicitZeroIndexes(bundle);
    writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`);
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

/**
 * Protobuf JSON omits zero-valued fields, so @sigstore/bundle writes the first entry of a log (index 0) with no
 * `logIndex` at all; verifiers that require the member (as the bundle spec marks it REQUIRED) then reject the very
 * first signature of a fresh embedded instance. Write the zero explicitly, which every reader accepts.
 */
function explicitZeroIndexes(bundle: SerializedBundle): void {
  for (const entry of bundle.verificationMaterial.tlogEntries ?? []) {
    const e = entry as { logIndex?: string; inclusionProof?: { logIndex?: string } };
    e.logIndex ??= '0';
    if (e.inclusionProof) e.inclusionProof.logIndex ??= '0';
  }
}

function roundTimings(t: KeylessTimings): KeylessTimings {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
}
