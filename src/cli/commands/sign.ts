import { writeFileAtomic } from '../../core/atomic.ts';
import { type SignOptions, type SignSummary, signTarget } from '../../workflow/sign.ts';
import { getPassphrase } from '../io.ts';

/** `vouch sign --key`: the workflow's options as the command line gives them (the passphrase is asked for here). */
export type SignCommandOptions = Omit<SignOptions, 'passphrase' | 'context' | 'keyless'>;

export async function sign(target: string, o: SignCommandOptions): Promise<SignSummary> {
  const passphrase = o.key ? await getPassphrase('Passphrase for the private key: ') : undefined;
  const { bundle, ...result } = await signTarget(target, {
    ...o,
    ...(passphrase !== undefined ? { passphrase } : {}),
  });
  // Registry images carry their signature as a referrer; a bundle file is written only when asked for.
  if (result.bundlePath) writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`, { fsync: true });
  return result;
}
