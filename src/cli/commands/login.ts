/**
 * `vouch login`: a person's login at the instance's OIDC issuer (browser with PKCE, or `--device`), kept per
 * instance under $VOUCH_HOME/logins until it expires; `vouch sign` then uses it.
 */
import { VouchError } from '../../errors.ts';
import { browserLogin, deviceLogin, type LoginUi } from '../../identity/login.ts';
import { decodeIdentityToken } from '../../identity/token.ts';
import { expectedCertificate } from '../../instance/ca-issuers.ts';
import { readConfig } from '../../instance/config.ts';
import { vouchHome } from '../../instance/home.ts';
import { type Instance, resolveInstance } from '../../instance/instance.ts';
import { saveLogin } from '../../instance/logins.ts';
import { EMBEDDED } from '../../instance/truststore.ts';
import { formatLogin } from '../format/identity.ts';
import { loginUi } from '../login-ui.ts';
import { type CommandContext, defineCommand } from '../run.ts';

/** Dex connector ids of Sigstore's public issuer, by short name (`--connector github`). */
const CONNECTORS: Record<string, string> = {
  github: 'https://github.com/login/oauth',
  google: 'https://accounts.google.com',
  microsoft: 'https://login.microsoftonline.com',
};

interface LoginCommandOptions {
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

/** The instance a login is for; the embedded one signs with its own development identity and needs none. */
export async function instanceFor(o: { instance?: string; home?: string; timeoutMs?: number }): Promise<Instance> {
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

async function login(o: LoginCommandOptions, ui: LoginUi): Promise<LoginSummary> {
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
    // What the certificates will say (a login connector's upstream is their issuer), and a login this instance's CA
    // would refuse is not kept.
    const certificate = await expectedCertificate(instance, claims, {
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
    saveLogin(instance.home, {
      instance: instance.name,
      issuer: result.issuer,
      idToken: result.idToken,
      expiresAt: claims.expiresAt,
    });
    return {
      instance: instance.name,
      tokenIssuer: claims.issuer,
      issuer: certificate.issuer,
      identity: certificate.san.value,
      expiresAt: claims.expiresAt.toISOString(),
      flow: o.device ? 'device' : 'browser',
    };
  } finally {
    await instance.close();
  }
}

export default defineCommand({
  run: (_args: [], flags: LoginCommandOptions, ctx: CommandContext) => login(flags, loginUi(ctx)),
  human: formatLogin,
});
