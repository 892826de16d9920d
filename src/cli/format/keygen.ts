/** `vouch keygen`, for people: the two files written and the key's fingerprint. */
import type { KeygenResult } from '../commands/keygen.ts';

export function formatKeygen(r: KeygenResult): string[] {
  return [`Wrote ${r.privateKey} and ${r.publicKey}`, `fingerprint sha256:${r.fingerprint} (${r.type})`];
}
