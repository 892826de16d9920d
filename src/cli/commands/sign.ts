/**
 * `vouch sign`: with `--key`, key-pair signing (the passphrase is asked once the key file is read); without it,
 * keyless on the resolved instance, with an interactive login offered when a person is at the terminal. A keyless
 * result also says how a customer verifies it (`verifyCommands`).
 */
import type { KeylessOptions } from '../../instance/session.ts';
import { type SignResult, signTarget } from '../../workflow/sign.ts';
import { formatSign } from '../format/sign.ts';
import { type IdentityFlags, identityOptions } from '../identity-flags.ts';
import { getPassphrase } from '../io.ts';
import { loginUi } from '../login-ui.ts';
import { type CommandContext, defineCommand } from '../run.ts';

/** What `vouch sign` prints: the result without the bundle itself (it is in its file or the registry). */
export type SignSummary = Omit<SignResult, 'bundle'> & { verifyCommands?: VerifyCommands };

interface SignFlags extends IdentityFlags {
  key?: string;
  bundle?: string;
  force?: boolean;
  device?: boolean;
  repository?: string;
  recursive?: boolean;
  allowInsecureRegistry?: boolean;
  format?: 'vouch' | 'model-signing';
  incremental?: boolean | string;
  manifest?: string;
  allowPeAnomaly?: string[];
  /** false with --no-tlog / --no-timestamp (commander's negated options). */
  tlog?: boolean;
  timestamp?: boolean;
}

export default defineCommand({
  async run([target]: [string], f: SignFlags, ctx: CommandContext): Promise<SignSummary> {
    const onProgress = ctx.progress();
    const keyless: KeylessOptions = {
      ...identityOptions(f),
      // A person at a terminal may sign in interactively; scripts and CI jobs never wait for one.
      ...(ctx.interactive ? { interactive: { ui: loginUi(ctx), device: Boolean(f.device) } } : {}),
    };
    const { bundle: _written, ...summary } = await signTarget(target, {
      ...(f.key !== undefined
        ? { key: f.key, passphrase: () => getPassphrase('Passphrase for the private key: ') }
        : {}),
      ...(f.bundle !== undefined ? { bundle: f.bundle } : {}),
      ...(f.force ? { force: true } : {}),
      keyless,
      ...(f.tlog === false || f.timestamp === false
        ? { proofs: { tlog: f.tlog !== false, timestamp: f.timestamp !== false } }
        : {}),
      ...(f.repository !== undefined ? { repository: f.repository } : {}),
      ...(f.recursive ? { recursive: true } : {}),
      ...(f.allowInsecureRegistry ? { allowInsecureRegistry: true } : {}),
      ...(f.format !== undefined ? { format: f.format } : {}),
      ...(f.incremental !== undefined ? { incremental: f.incremental } : {}),
      ...(f.manifest !== undefined ? { manifest: f.manifest } : {}),
      ...(f.allowPeAnomaly ? { allowPeAnomaly: f.allowPeAnomaly } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    for (const w of summary.warnings ?? []) ctx.warn(w);
    if (summary.identity === undefined || summary.issuer === undefined || summary.instance === undefined) {
      return summary;
    }
    const certified = { identity: summary.identity, issuer: summary.issuer };
    return { ...summary, verifyCommands: verifyCommands(summary, certified, summary.instance) };
  },
  human: formatSign,
});

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
