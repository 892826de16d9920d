import { type SignSummary, signTarget } from '../../workflow/sign.ts';
import { getPassphrase, writeFileAtomic } from '../io.ts';

export interface SignCommandOptions {
  key?: string;
  bundle?: string;
}

export async function sign(target: string, o: SignCommandOptions): Promise<SignSummary> {
  const passphrase = o.key ? await getPassphrase('Passphrase for the private key: ') : undefined;
  const { bundle, ...result } = await signTarget(target, { ...o, ...(passphrase !== undefined ? { passphrase } : {}) });
  writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`);
  return result;
}
