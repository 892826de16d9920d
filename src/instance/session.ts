/**
 * A keyless signing session: resolve the instance, pick the identity provider, build the signing context (certificate
 * signer over an ephemeral key, log and TSA witnesses). It must be closed: it may have started the embedded stack,
 * and closing records a local development issuer in the trust store. Any target kind signs with `session.context`
 * (signDigest / signStatement); `vouch sign` without `--key` is src/cli/commands/keyless.ts on top of this.
 */
import { VouchError } from '../errors.ts';
import type { LoginUi } from '../identity/login.ts';
import type { IdentityProvider, ProviderName } from '../identity/provider.ts';
import { type IdentitySource, selectIdentityProvider } from '../identity/providers.ts';
import { decodeIdentityToken } from '../identity/token.ts';
import type { SigningContext, Witness } from '../sign/bundle.ts';
import { FulcioClient } from '../sign/fulcio.ts';
import { type CertificateSigner, instanceWitnesses, type KeylessTimings, keylessContext } from '../sign/keyless.ts';
import { readConfig } from './config.ts';
import { vouchHome } from './home.ts';
import { type Instance, resolveInstance } from './instance.ts';
import { loadLogin, saveLogin } from './logins.ts';
import { markLocalIssuer } from './truststore.ts';

export interface KeylessOptions {
  /** `--instance`: URL of a `vouch serve`, or `public-good` / `embedded`. */
  instance?: string;
  /** `--identity-token` */
  identityToken?: string;
  /** `--identity-token-file` */
  identityTokenFile?: string;
  /** `--identity-provider`: use this provider, without detection. */
  identityProvider?: ProviderName;
  /** The token audience to ask providers for (default `sigstore`). */
  audience?: string;
  /** VOUCH_HOME (default from the environment). */
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Overall deadline of each service call in ms (default: src/core/http.ts's, VOUCH_HTTP_TIMEOUT or 30 s). */
  timeoutMs?: number;
  /** An interactive login may be offered: given only when a person is at a terminal. */
  interactive?: { ui: LoginUi; device?: boolean; clientId?: string; connectorId?: string };
  /** Which proofs the instance adds (default both; `--no-tlog`, `--no-timestamp`). */
  proofs?: ProofChoice;
}

/**
 * The proofs an instance adds to a signature: a transparency log entry and an RFC 3161 timestamp, each unless
 * turned off (`false`). The timestamp needs an instance with a TSA.
 */
export interface ProofChoice {
  tlog?: boolean;
  timestamp?: boolean;
}

export interface KeylessSession {
  instance: Instance;
  identitySource: IdentitySource;
  context: SigningContext & { signer: CertificateSigner; timings: KeylessTimings };
  /** Whether the identity comes from a development issuer that mints tokens for anyone. */
  readonly localDevelopmentIdentity: boolean;
  close(): Promise<void>;
}

export async function openKeylessSession(o: KeylessOptions = {}): Promise<KeylessSession> {
  const env = o.env ?? process.env;
  const instance = await resolveInstance({
    ...(o.instance !== undefined ? { instance: o.instance } : {}),
    ...(o.home !== undefined ? { home: o.home } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    env,
  });
  try {
    const selected = selectIdentityProvider({
      ...identityChoice(o),
      ...(instance.localIssuerTokenUrl !== undefined ? { localIssuerTokenUrl: instance.localIssuerTokenUrl } : {}),
      cachedLogin: () => loadLogin(instance.home, instance.name)?.idToken,
      embedded: instance.kind === 'embedded',
      ...(o.interactive !== undefined &&
      instance.services.oidc !== undefined &&
      instance.localIssuerTokenUrl === undefined
        ? {
            interactive: {
              ...o.interactive,
              issuer: instance.services.oidc,
              onLogin: (login) => {
                if (login.expiresAt)
                  saveLogin(instance.home, { instance: instance.name, ...login, expiresAt: login.expiresAt });
              },
            },
          }
        : {}),
      env,
    });
    const { ca, tlog, tsa } = instance.services;
    const timeout = o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {};
    const provider =
      instance.kind === 'embedded' && selected.source !== 'local-issuer' && instance.services.oidc !== undefined
        ? new EmbeddedIssuerCheck(selected.provider, instance.services.oidc, selected.source)
        : selected.provider;
    const context = keylessContext(provider, {
      ca: new FulcioClient(ca, timeout),
      ...chosenWitnesses({ tlog, ...(tsa !== undefined ? { tsa } : {}) }, o.proofs),
      ...timeout,
    });
    // The embedded CA only accepts its own issuer, which mints tokens for anyone: every identity it certifies is a
    // development identity. Elsewhere, only tokens taken from the instance's local issuer are.
    const local = instance.kind === 'embedded' || selected.source === 'local-issuer';
    return {
      instance,
      identitySource: selected.source,
      context,
      localDevelopmentIdentity: local,
      close: async () => {
        const issuer = context.signer.certified?.issuer;
        try {
          if (local && issuer !== undefined) markLocalIssuer(instance.home, instance.trustedRoot, issuer);
        } finally {
          await instance.close();
        }
      },
    };
  } catch (e) {
    await instance.close();
    throw e;
  }
}

function chosenWitnesses(services: { tlog: string; tsa?: string }, proofs: ProofChoice = {}) {
  return {
    ...(proofs.tlog !== false ? { tlog: services.tlog } : {}),
    ...(proofs.timestamp !== false && services.tsa !== undefined ? { tsa: services.tsa } : {}),
  };
}

/** An instance's log and TSA, witnessing key-pair signatures; closed like a keyless session. */
export interface WitnessSession {
  instance: Instance;
  witnesses: Witness[];
  close(): Promise<void>;
}

/**
 * The instance key-pair signatures are witnessed on: `--instance`, else the one in the config file. Without either
 * a key-pair signature stays offline (its verifiers trust the key alone), as before instances existed.
 */
export function witnessInstance(o: KeylessOptions): string | undefined {
  if (o.proofs?.tlog === false && o.proofs?.timestamp === false) return undefined;
  return o.instance ?? readConfig(o.home ?? vouchHome(o.env)).instance;
}

/**
 * Open the instance a key-pair signature is witnessed on (cosign logs and, with a TSA in its signing config,
 * timestamps key-pair signatures by default). The caller closes it (it may have started the embedded stack).
 */
export async function openWitnessSession(instanceName: string, o: KeylessOptions = {}): Promise<WitnessSession> {
  const instance = await resolveInstance({
    instance: instanceName,
    ...(o.home !== undefined ? { home: o.home } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    env: o.env ?? process.env,
  });
  const { tlog, tsa } = instance.services;
  const witnesses = instanceWitnesses({
    ...chosenWitnesses({ tlog, ...(tsa !== undefined ? { tsa } : {}) }, o.proofs),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
  return { instance, witnesses, close: () => instance.close() };
}

/**
 * The embedded CA certifies only its own development issuer. A CI or personal token (GitHub Actions, GitLab,
 * SIGSTORE_ID_TOKEN) would be sent and refused; say why before sending it, and where such a token belongs.
 */
class EmbeddedIssuerCheck implements IdentityProvider {
  readonly #inner: IdentityProvider;
  readonly #issuer: string;
  readonly #source: IdentitySource;
  constructor(inner: IdentityProvider, issuer: string, source: IdentitySource) {
    this.#inner = inner;
    this.#issuer = issuer;
    this.#source = source;
  }
  async getToken(): Promise<string> {
    const token = await this.#inner.getToken();
    const { issuer } = decodeIdentityToken(token);
    if (issuer !== this.#issuer) {
      throw new VouchError('TOKEN_INVALID', `the embedded instance does not accept tokens of ${issuer.slice(0, 200)}`, {
        hint: `This ${this.#source} token needs a real instance: pass --instance public-good or the URL of a \`vouch serve\`, or set "instance" in $VOUCH_HOME/config.json.`,
        details: { issuer, source: this.#source },
      });
    }
    return token;
  }
}

/** The token choices of the command line, as selectIdentityProvider takes them. */
export function identityChoice(o: KeylessOptions) {
  return {
    ...(o.identityToken !== undefined ? { token: o.identityToken } : {}),
    ...(o.identityTokenFile !== undefined ? { tokenFile: o.identityTokenFile } : {}),
    ...(o.identityProvider !== undefined ? { provider: o.identityProvider } : {}),
    ...(o.audience !== undefined || o.timeoutMs !== undefined
      ? {
          context: {
            ...(o.audience !== undefined ? { audience: o.audience } : {}),
            ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
          },
        }
      : {}),
  };
}
