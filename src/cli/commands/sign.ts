/**
 * `vouch sign`: with `--key`, key-pair signing (the passphrase is asked once the key file is read); without it,
 * keyless on the resolved instance, with a device sign-in offered when a person is at the terminal.
 */
import { type SignResult, signTarget } from '../../workflow/sign.ts';
import { formatSign } from '../format/sign.ts';
import { getPassphrase } from '../io.ts';
import { type CommandContext, defineCommand } from '../run.ts';

/** What `vouch sign` prints: the result without the bundle itself (it is in its file or the registry). */
export type SignSummary = Omit<SignResult, 'bundle'>;

interface SignFlags {
  key?: string;
  bundle?: string;
  instance?: string;
  identityToken?: string;
  repository?: string;
  recursive?: boolean;
  allowInsecureRegistry?: boolean;
  format?: 'vouch' | 'model-signing';
  incremental?: boolean | string;
  allowPeAnomaly?: string[];
}

export default defineCommand({
  async run([target]: [string], f: SignFlags, ctx: CommandContext): Promise<SignSummary> {
    const onProgress = ctx.progress();
    const { bundle: _written, ...summary } = await signTarget(target, {
      ...(f.key !== undefined
        ? { key: f.key, passphrase: () => getPassphrase('Passphrase for the private key: ') }
        : {}),
      ...(f.bundle !== undefined ? { bundle: f.bundle } : {}),
      keyless: {
        ...(f.instance !== undefined ? { instance: f.instance } : {}),
        ...(f.identityToken !== undefined ? { identityToken: f.identityToken } : {}),
        // A person at a terminal may sign in interactively (device flow); scripts never wait for one.
        ...(ctx.interactive
          ? {
              prompt: (p) =>
                ctx.note(
                  `To sign, open ${p.verificationUriComplete ?? p.verificationUri} and enter the code ${p.userCode}`,
                ),
            }
          : {}),
      },
      ...(f.repository !== undefined ? { repository: f.repository } : {}),
      ...(f.recursive ? { recursive: true } : {}),
      ...(f.allowInsecureRegistry ? { allowInsecureRegistry: true } : {}),
      ...(f.format !== undefined ? { format: f.format } : {}),
      ...(f.incremental !== undefined ? { incremental: f.incremental } : {}),
      ...(f.allowPeAnomaly ? { allowPeAnomaly: f.allowPeAnomaly } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    return summary;
  },
  human: formatSign,
});
