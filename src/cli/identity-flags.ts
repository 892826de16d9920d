/** The token flags `vouch sign` and `vouch whoami` share, as the keyless session takes them. */
import type { ProviderName } from '../identity/provider.ts';
import type { KeylessOptions } from '../instance/session.ts';

export interface IdentityFlags {
  instance?: string;
  identityToken?: string;
  identityTokenFile?: string;
  identityProvider?: ProviderName;
  identityAudience?: string;
}

export function identityOptions(f: IdentityFlags): KeylessOptions {
  return {
    ...(f.instance !== undefined ? { instance: f.instance } : {}),
    ...(f.identityToken !== undefined ? { identityToken: f.identityToken } : {}),
    ...(f.identityTokenFile !== undefined ? { identityTokenFile: f.identityTokenFile } : {}),
    ...(f.identityProvider !== undefined ? { identityProvider: f.identityProvider } : {}),
    ...(f.identityAudience !== undefined ? { audience: f.identityAudience } : {}),
  };
}
