/**
 * `vouch sign` without `--key`: keyless signing on the resolved instance (embedded by default). A session resolves
 * the instance, picks the identity provider, and builds the signing context; it must be closed (it may have started
 * the embedded stack). `signKeyless` is the whole command for file targets; other target kinds (directories,
 * images) open a session and pass its context to the sign workflow themselves.
 */
import type { Target } from '../../artifact/target.ts';
import { VouchError } from '../../errors.ts';
import { type IdentityProvider, type IdentitySource, selectIdentityProvider } from '../../identity/providers.ts';
import { decodeIdentityToken } from '../../identity/token.ts';
import { type Instance, resolveInstance } from '../../instance/instance.ts';
import { markLocalIssuer } from '../../instance/truststore.ts';
import type { SerializedBundle, SigningContext } from '../../sign/bundle.ts';
import { FulcioClient } from '../../sign/fulcio.ts';
import { type CertificateSigner, type KeylessTimings, keylessContext } from '../../sign/keyless.ts';
import { type SignSummary, signTarget } from '../../workflow/sign.ts';
import { writeFileAtomic } from '../io.ts';

export interface KeylessOptions {
  /** `--instance`: URL of a `vouch serve`, or `public-good` / `embedded`. */
  instance?: string;
  /** `--identity-token` */
  identityToken?: string;
  /** VOUCH_HOME (default from the environment). */
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Timeout of each service call in ms (default 15 s). */
  timeoutMs?: number;
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
      ...(o.identityToken !== undefined ? { token: o.identityToken } : {}),
      ...(instance.localIssuerTokenUrl !== undefined ? { localIssuerTokenUrl: instance.localIssuerTokenUrl } : {}),
      env,
    });
    const { ca, tlog, tsa } = instance.services;
    const timeoutMs = o.timeoutMs ?? 15_000;
    const provider =
      instance.kind === 'embedded' && selected.source !== 'local-issuer' && instance.services.oidc !== undefined
        ? new EmbeddedIssuerCheck(selected.provider, instance.services.oidc, selected.source)
        : selected.provider;
    const context = keylessContext(provider, {
      ca: new FulcioClient(ca, { timeoutMs }),
      tlog,
      ...(tsa !== undefined ? { tsa } : {}),
      timeoutMs,
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

export interface KeylessSignSummary extends SignSummary {
  identity: string;
  issuer: string;
  identitySource: IdentitySource;
  localDevelopmentIdentity: boolean;
  /** `embedded`, `public-good` or the instance URL. */
  instance: string;
  certificate: { notBefore: string; notAfter: string };
  integratedTime?: string;
  rfc3161Timestamps: number;
  /** Milliseconds per service call: token, ca, tlog, tsa. */
  timings: KeylessTimings;
}

/** Sign a target keyless and write its bundle. */
export async function signKeyless(
  target: string | Target,
  o: KeylessOptions & { bundle?: string } = {},
): Promise<KeylessSignSummary> {
  const session = await openKeylessSession(o);
  try {
    const { bundle, ...result } = await signTarget(target, {
      context: session.context,
      ...(o.bundle !== undefined ? { bundle: o.bundle } : {}),
    });
    explicitZeroIndexes(bundle);
    writeFileAtomic(result.bundlePath, `${JSON.stringify(bundle)}\n`);
    const certified = session.context.signer.certified!;
    const entry = bundle.verificationMaterial.tlogEntries?.[0];
    const summary: KeylessSignSummary = {
      ...result,
      identity: certified.identity,
      issuer: certified.issuer,
      identitySource: session.identitySource,
      localDevelopmentIdentity: session.localDevelopmentIdentity,
      instance: session.instance.name,
      certificate: { notBefore: certified.notBefore.toISOString(), notAfter: certified.notAfter.toISOString() },
      rfc3161Timestamps: bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps?.length ?? 0,
      timings: roundTimings(session.context.timings),
    };
    if (entry) summary.logIndex = entry.logIndex;
    if (entry?.integratedTime) summary.integratedTime = new Date(Number(entry.integratedTime) * 1000).toISOString();
    return summary;
  } finally {
    await session.close();
  }
}

/**
 * Protobuf JSON omits zero-valued fields, so @sigstore/bundle writes the first entry of a log (index 0) with no
 * `logIndex` at all; verifiers that require the member (as the bundle spec marks it REQUIRED) then reject the very
 * first signature of a fresh embedded instance. Write the zero explicitly, which every reader accepts.
 */
function explicitZeroIndexes(bundle: SerializedBundle): void {
  for (const entry of bundle.verificationMaterial.tlogEntries ?? []) {
    const e = entry as { logIndex?: string; inclusionProof?: { logIndex?: string } };
    e.logIndex ??= '0';
    if (e.inclusionProof) e.inclusionProof.logIndex ??= '0';
  }
}

function roundTimings(t: KeylessTimings): KeylessTimings {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
}
