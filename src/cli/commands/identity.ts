/**
 * `vouch login`, `vouch logout` and `vouch whoami`: a person's login at the instance's OIDC issuer (kept per instance
 * under $VOUCH_HOME/logins until it expires), and the identity the next signature would carry.
 */
import { VouchError } from '../../errors.ts';
import { browserLogin, deviceLogin, type LoginUi } from '../../identity/login.ts';
import type { ProviderName } from '../../identity/provider.ts';
import { type IdentitySource, selectIdentityProvider } from '../../identity/providers.ts';
import { certificateIssuer, decodeIdentityToken, proofSubject } from '../../identity/token.ts';
import { readConfig } from '../../instance/config.ts';
import { vouchHome } from '../../instance/home.ts';
import { type Instance, resolveInstance } from '../../instance/instance.ts';
import { loadLogin, removeLogins, saveLogin } from '../../instance/logins.ts';
import { identityChoice } from '../../instance/session.ts';
import { EMBEDDED } from '../../instance/truststore.ts';

/** Dex connector ids of Sigstore's public issuer, by short name (`--connector github`). */
const CONNECTORS: Record<string, string> = {
  github: 'https://github.com/login/oauth',
  google: 'https://accounts.google.com',
  microsoft: 'https://login.microsoftonline.com',
};

export interface LoginCommandOptions {
  instance?: string;
  /** `--oidc-issuer`: sign in here instead of the issuer the instance names. */
  oidcIssuer?: string;
  clientId?: string;
  connector?: string;
  device?: boolean;
  home?: string;
  timeoutMs?: number;
}

export interface LoginSummary {
  instance: string;
  /** The issuer signed in at. */
  tokenIssuer: string;
  /** The issuer certificates will name (differs from tokenIssuer behind Sigstore's Dex). */
  issuer: string;
  identity: string;
  expiresAt: string;
  flow: 'browser' | 'device';
}

async function instanceFor(o: { instance?: string; home?: string; timeoutMs?: number }): Promise<Instance> {
  const home = o.home ?? vouchHome();
  const choice = o.instance ?? readConfig(home).instance ?? EMBEDDED;
  if (choice === EMBEDDED) {
    throw new VouchError('USAGE', 'the embedded instance signs with its local development identity: no login', {
      hint: 'Log in to a real instance: --instance public-good or the URL of a `vouch serve`.',
    });
  }
  return resolveInstance({
    instance: choice,
    home,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
}

export async function login(o: LoginCommandOptions, ui: LoginUi): Promise<LoginSummary> {
  const instance = await instanceFor(o);
  try {
    const issuer = o.oidcIssuer ?? instance.services.oidc;
    if (issuer === undefined) {
      throw new VouchError('USAGE', `instance ${instance.name} names no OIDC issuer to sign in at`, {
        hint: 'Pass --oidc-issuer URL (the issuer its CA accepts).',
      });
    }
    if (o.oidcIssuer === undefined && instance.localIssuerTokenUrl !== undefined) {
      throw new VouchError('USAGE', `instance ${instance.name} has a development issuer: it needs no login`);
    }
    const options = {
      issuer,
      ui,
      ...(o.clientId !== undefined ? { clientId: o.clientId } : {}),
      ...(o.connector !== undefined ? { connectorId: CONNECTORS[o.connector] ?? o.connector } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    };
    const result = o.device ? await deviceLogin(options) : await browserLogin(options);
    const claims = decodeIdentityToken(result.idToken);
    if (claims.expiresAt === undefined) {
      throw new VouchError('TOKEN_INVALID', 'the issuer answered an ID token without an expiry (exp)');
    }
    saveLogin(instance.home, {
      instance: instance.name,
      issuer: result.issuer,
      idToken: result.idToken,
      expiresAt: claims.expiresAt,
    });
    return {
      instance: instance.name,
      tokenIssuer: claims.issuer,
      issuer: certificateIssuer(claims),
      identity: proofSubject(claims),
      expiresAt: claims.expiresAt.toISOString(),
      flow: o.device ? 'device' : 'browser',
    };
  } finally {
    await instance.close();
  }
}

export interface LogoutSummary {
  /** The instance logged out of, or `all`. */
  instance: string;
  removed: number;
}

export async function logout(o: { instance?: string; all?: boolean; home?: string }): Promise<LogoutSummary> {
  const home = o.home ?? vouchHome();
  if (o.all) return { instance: 'all', removed: removeLogins(home) };
  const instance = await instanceFor(o);
  await instance.close();
  return { instance: instance.name, removed: removeLogins(home, instance.name) };
}

export interface WhoamiOptions {
  instance?: string;
  identityToken?: string;
  identityTokenFile?: string;
  identityProvider?: ProviderName;
  audience?: string;
  home?: string;
  timeoutMs?: number;
}

export interface WhoamiSummary {
  identitySource: IdentitySource;
  instance: string;
  /** The identity the certificate will name (its SAN), as this instance's CA maps the token. */
  identity: string;
  /** The issuer the certificate will name: what `--certificate-oidc-issuer` must say. */
  issuer: string;
  tokenIssuer: string;
  subject: string;
  audience: string[];
  expiresAt?: string;
  /** Every claim of the token (decoded, not verified: the CA verifies). */
  claims: Record<string, unknown>;
}

/** The identity the next keyless signature would carry. Never signs in interactively. */
export async function whoami(o: WhoamiOptions): Promise<WhoamiSummary> {
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
    const summary: WhoamiSummary = {
      identitySource: selected.source,
      instance: instance?.name ?? EMBEDDED,
      identity: await expectedIdentity(claims),
      issuer: certificateIssuer(claims),
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

/**
 * The SAN the CA will write, from the CA's own claim mapping (src/server/ca), so `whoami` and the certificate cannot
 * disagree. Issuers the mapping does not know as a CI type are read as email identities; a token without a verified
 * email then names its subject.
 */
async function expectedIdentity(claims: ReturnType<typeof decodeIdentityToken>): Promise<string> {
  const [{ mapIdentity }, { issuerType }] = await Promise.all([
    import('../../core/identity-map.ts'),
    import('../../server/ca/oidc.ts'),
  ]);
  const issuer = claims.issuer;
  try {
    return mapIdentity(issuer, claims.raw, { type: issuerType({ issuer }) }).san.value;
  } catch {
    return proofSubject(claims);
  }
}

export function formatLogin(r: LoginSummary): string {
  const lines = [`Logged in to ${r.instance} as ${r.identity}`, `  issuer   ${r.issuer}`];
  if (r.issuer !== r.tokenIssuer)
    lines.push(`           (signed in through ${r.tokenIssuer}; verifiers use ${r.issuer})`);
  lines.push(`  expires  ${r.expiresAt}`);
  return `${lines.join('\n')}\n`;
}

export function formatWhoami(r: WhoamiSummary): string {
  const lines = [
    `${r.identity}`,
    `  issuer   ${r.issuer}`,
    `  source   ${r.identitySource}`,
    `  instance ${r.instance}`,
  ];
  if (r.issuer !== r.tokenIssuer) lines.push(`  token    issued by ${r.tokenIssuer}`);
  if (r.expiresAt) lines.push(`  expires  ${r.expiresAt}`);
  return `${lines.join('\n')}\n`;
}
