import { generateKeyPair, type KeyType, writeKeyPair } from '../../sign/keys.ts';
import { getPassphrase } from '../io.ts';

export interface KeygenOptions {
  out: string;
  type: KeyType;
  force?: boolean;
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  type: KeyType;
  fingerprint: string;
}

export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const passphrase = await getPassphrase('Passphrase for the new private key: ', true);
  const pair = generateKeyPair(options.type, passphrase);
  const { privatePath, publicPath } = writeKeyPair(options.out, pair, options.force);
  return { privateKey: privatePath, publicKey: publicPath, type: pair.type, fingerprint: pair.fingerprint };
}
