/** `vouch keygen`: a new key pair, the private key encrypted with a passphrase asked on the terminal. */
import { generateKeyPair, type KeyType, writeKeyPair } from '../../sign/keys.ts';
import { formatKeygen } from '../format/keygen.ts';
import { getPassphrase } from '../io.ts';
import { defineCommand } from '../run.ts';

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  type: KeyType;
  fingerprint: string;
}

interface KeygenFlags {
  out: string;
  type: KeyType;
  force?: boolean;
}

export default defineCommand({
  async run(_args: [], flags: KeygenFlags): Promise<KeygenResult> {
    const passphrase = await getPassphrase('Passphrase for the new private key: ', true);
    const pair = generateKeyPair(flags.type, passphrase);
    const { privatePath, publicPath } = writeKeyPair(flags.out, pair, flags.force);
    return { privateKey: privatePath, publicKey: publicPath, type: pair.type, fingerprint: pair.fingerprint };
  },
  human: formatKeygen,
});
