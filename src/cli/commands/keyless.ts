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
  /** The certificate's validity and its Fulcio extensions by name (what verifier policies match on). */
  certificate: { notBefore: string; notAfter: string; extensions: Record<string, string> };
  /** The commands a customer runs to verify this signature as this identity. */
  verifyCommands: VerifyCommands;
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
    const {
      instance: _i,
      identityToken: _t,
      identityTokenFile: _f,
      identityProvider: _p,
      audience: _a,
      home: _h,
      env: _e,
      timeoutMs: _m,
      interactive: _l,
      ...signOptions
    } = o;
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
      certificate: {
        notBefore: certified.notBefore.toISOString(),
        notAfter: certified.notAfter.toISOString(),
        extensions: certified.extensions,
      },
      verifyCommands: verifyCommands(result, certified, session.instance.name),
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

export interface VerifyCommands {
  vouch: string;
  /** The same check with cosign, for targets cosign verifies (files and images). */
  cosign?: string;
  /** What a customer needs first when the instance is not the public one: its trusted root. */
  trustedRoot?: string;
}

/**
 * The exact verification a customer runs: identity and issuer exact (never a pattern), as read back from the
 * certificate. Instances other than public-good need their trusted root on the customer's side first.
 */
export function verifyCommands(
  r: { target: string; bundlePath: string; images?: { repository: string; digest: string }[] },
  certified: { identity: string; issuer: string },
  instance: string,
): VerifyCommands {
  const policy = `--certificate-identity ${shellQuote(certified.identity)} --certificate-oidc-issuer ${shellQuote(certified.issuer)}`;
  const image = r.images?.[0];
  const subject = image ? `oci:${image.repository}@${image.digest}` : r.target;
  const bundle = r.bundlePath && !image ? ` --bundle ${shellQuote(r.bundlePath)}` : '';
  const publicGood = instance === 'public-good';
  const out: VerifyCommands = { vouch: `vouch verify ${shellQuote(subject)}${bundle} ${policy}` };
  const root = publicGood ? '' : ' --trusted-root trusted_root.json';
  if (image) out.cosign = `cosign verify ${shellQuote(`${image.repository}@${image.digest}`)}${root} ${policy}`;
  else if (r.bundlePath && !r.target.startsWith('dir:') && !r.target.startsWith('sha256:')) {
    out.cosign = `cosign verify-blob ${shellQuote(r.target.replace(/^file:/, ''))}${bundle}${root} ${policy}`;
  }
  if (!publicGood) {
    out.trustedRoot = /^https?:/.test(instance)
      ? `${instance}/.well-known/vouch/trusted_root.json`
      : 'vouch trust export embedded > trusted_root.json';
  }
  return out;
}

/** POSIX shell quoting: bare when only safe characters, else single quotes. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function roundTimings(t: KeylessTimings): KeylessTimings {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
}
