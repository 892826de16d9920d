/**
 * `vouch whoami`: the identity, issuer, extensions and claims the next keyless signature would carry, as the
 * instance's CA will map the token (src/instance/ca-issuers.ts), and where its token comes from. Never signs in
 * interactively.
 */
import { type IdentitySource, selectIdentityProvider } from '../../identity/providers.ts';
import { decodeIdentityToken } from '../../identity/token.ts';
import { expectedCertificate } from '../../instance/ca-issuers.ts';
import { readConfig } from '../../instance/config.ts';
import { vouchHome } from '../../instance/home.ts';
import { resolveInstance } from '../../instance/instance.ts';
import { loadLogin } from '../../instance/logins.ts';
import { identityChoice, type KeylessOptions } from '../../instance/session.ts';
import { EMBEDDED } from '../../instance/truststore.ts';
import { formatWhoami } from '../format/identity.ts';
import { type IdentityFlags, identityOptions } from '../identity-flags.ts';
import { defineCommand } from '../run.ts';

type WhoamiOptions = Pick<
  KeylessOptions,
  'instance' | 'identityToken' | 'identityTokenFile' | 'identityProvider' | 'audience' | 'home' | 'timeoutMs'
>;

export interface WhoamiSummary {
  identitySource: IdentitySource;
  instance: string;
  /** The identity the certificate will name (its SAN), as this instance's CA maps the token. */
  identity: string;
  /** The issuer the certificate will name: what `--certificate-oidc-issuer` must say. */
  issuer: string;
  /** The identity extensions the certificate will carry, by name (as `vouch sign --json` and `vouch verify --json`). */
  extensions: Record<string, string>;
  tokenIssuer: string;
  subject: string;
  audience: string[];
  expiresAt?: string;
  /** Every claim of the token (decoded, not verified: the CA verifies). */
  claims: Record<string, unknown>;
}

/** The identity the next keyless signature would carry. Never signs in interactively. */
async function whoami(o: WhoamiOptions): Promise<WhoamiSummary> {
  const home = o.home ?? vouchHome();
  const choice = o.instance ?? readConfig(home).instance ?? EMBEDDED;
  const instance = choice === EMBEDDED ? undefined : await resolveInstance({ instance: choice, home });
  try {
    const selected = selectIdentityProvider({
      ...identityChoice(o),
      ...(instance?.localIssuerTokenUrl !== undefined ? { localIssuerTokenUrl: instance.localIssuerTokenUrl } : {}),
      ...(instance !== undefined ? { cachedLogin: () => loadLogin(home, instance.name)?.idToken } : {}),
    });
    const token = await selected.provider.getToken();
    const claims = decodeIdentityToken(token);
    const certificate = await expectedCertificate(instance, claims, {
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
    const summary: WhoamiSummary = {
      identitySource: selected.source,
      instance: instance?.name ?? EMBEDDED,
      identity: certificate.san.value,
      issuer: certificate.issuer,
      extensions: Object.fromEntries(certificate.extensions.map((e) => [e.name, e.value])),
      tokenIssuer: claims.issuer,
      subject: claims.subject,
      audience: claims.audience,
      claims: claims.raw,
    };
    if (claims.expiresAt) summary.expiresAt = claims.expiresAt.toISOString();
    return summary;
  } finally {
    await instance?.close();
  }
}

export default defineCommand({
  run: (_args: [], f: IdentityFlags) => whoami(identityOptions(f)),
  human: formatWhoami,
});
