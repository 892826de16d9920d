import { type SignSummary, signTarget } from '../../workflow/sign.ts';
import { getPassphrase, writeFileAtomic } from '../io.ts';

export interface SignCommandOptions {
  key?: string;
  bundle?: string;
  repository?: string;
  recursive?: boolean;
  allowInsecureRegistry?: boolean;
  format?: 'vouch' | 'model-signing';
  incremental?: boolean | string;
  onProgress?: (p: { filesDone: number; filesTotal: number }) => void;
}

export async function sign(target: string, o: SignCommandOptions): Promise<SignSummary> {
  const passphrase = o.key ? await getPassphrase('Passphrase for the private key: ') : undefined;
  const { bundle, ...result } = await signTarget(target, { ...o, ...(passphrase !== undefined ? { passphrase } : {}) });
  // Registry images carry their signature as a referrer; a bundle file is written only when asked for.
  if (result.bundlePath) writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`);
  return result;
}
