/**
 * The whole trust stack on one port: CA (Fulcio v2) at /ca, transparency log (Rekor v1) at /tlog, TSA (RFC 3161)
 * at /tsa and the local dev OIDC issuer at /oidc. The same function serves the embedded default (port 0 on
 * loopback, inside the CLI process) and `vouch serve` for a team. Keys are created on first start in `dataDir`
 * and reused; `trusted_root.json` and `signing_config.json` are (re)written on every start, since the URL may
 * change while the keys do not.
 */
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../core/localdev.ts';
import { type ServiceInput, signingConfigJson, type TrustedRootInput, trustedRootJson } from '../core/trustroot.ts';
import { CertificateAuthority } from './ca/ca.ts';
import { type IssuerConfig, TokenVerifier } from './ca/oidc.ts';
import { caRoutes } from './ca/routes.ts';
import type { LoginConfig } from './config.ts';
import { createHttpServer, type Mount } from './http.ts';
import { LocalIssuer } from './oidc/issuer.ts';
import { LoginIssuer } from './oidc/login.ts';
import { certDer, loadOrCreateAuthorities, loadOrCreateKey } from './pki.ts';
import { Router } from './routes.ts';
import { SqliteLogStore } from './store/sqlite.ts';
import type { LogStore } from './store/types.ts';
import { TransparencyLog } from './tlog/log.ts';
import { MAX_ENTRY_BODY, tlogRoutes } from './tlog/routes.ts';
import { tsaRoutes } from './tsa/routes.ts';
import { TimestampAuthority } from './tsa/tsa.ts';
import type { TufRepository } from './tuf/repository.ts';

export type StorageOptions = { kind: 'sqlite'; path?: string } | { kind: 'postgres'; url: string };

export interface StackOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /**
   * Which services to run; by default the CA, log and TSA, the dev OIDC issuer when listening on loopback, and no
   * TUF repository (`vouch serve` asks for one; the embedded instance has no clients to bootstrap).
   */
  services?: { ca?: boolean; tlog?: boolean; tsa?: boolean; oidc?: boolean; tuf?: boolean };
  /** OIDC issuers the CA trusts besides the stack's own dev issuer. */
  issuers?: IssuerConfig[];
  /** Let the CA discover issuers over plain HTTP on a loopback address (tests and development only). */
  allowInsecureLoopbackIssuers?: boolean;
  storage?: StorageOptions;
  /** Log tuning: largest group-commit batch (default 1000; 1 disables group commit, for the benchmark baseline). */
  tlog?: { maxBatch?: number };
  /** The URL clients use, when it differs from the listening address (behind a proxy). */
  publicUrl?: string;
  /**
   * The URL that names the stack's identities (its dev issuer is `ISSUER_URL/oidc`), when it differs from the URL
   * clients use: `vouch serve` keeps the first URL it served, so a restart on another port keeps the issuer.
   */
  issuerUrl?: string;
  /** Email of the local user in dev tokens; default `<login>@localhost`. */
  localEmail?: string;
  /**
   * The whole stack is for local development (the embedded instance): every CA of its trusted root is marked as a
   * local development CA (src/core/localdev.ts), trusted by verifiers for its own development identities only.
   */
  localDevelopment?: boolean;
  /** Run the login connector at /login (people sign in through GitHub or an OIDC provider); the CA trusts it. */
  login?: LoginConfig;
  clock?: () => Date;
}

export interface StackUrls {
  ca: string;
  tlog: string;
  tsa: string;
  oidc: string;
  /** TUF mirror URL (metadata at its root, targets under `targets/`). */
  tuf: string;
  /** The login connector's issuer, when it runs. */
  login?: string;
}

export interface Stack {
  url: string;
  urls: StackUrls;
  /** Sigstore TrustedRoot (protobuf JSON) of this stack. */
  trustedRoot: Record<string, unknown>;
  /** Sigstore SigningConfig v0.2 (protobuf JSON) of this stack. */
  signingConfig: Record<string, unknown>;
  /** The domain objects, for in-process use and tests. */
  ca?: CertificateAuthority;
  log?: TransparencyLog;
  tsa?: TimestampAuthority;
  issuer?: LocalIssuer;
  tuf?: TufRepository;
  login?: LoginIssuer;
  close(): Promise<void>;
}

async function openStore(dataDir: string, s: StorageOptions | undefined): Promise<LogStore> {
  if (!s || s.kind === 'sqlite') return new SqliteLogStore(s?.path ?? join(dataDir, 'tlog.sqlite3'));
  const { PostgresLogStore } = await import('./store/postgres.ts');
  return PostgresLogStore.connect(s.url);
}

/** A certificate authority entry of the TrustedRoot (CA or TSA): its chain, issuing certificate first. */
function authority(
  commonName: string,
  uri: string,
  chain: Parameters<typeof certDer>[0][],
  start: Date,
  organization = 'vouch',
) {
  return { subject: { organization, commonName }, uri, chain: chain.map(certDer), start };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const listenHost = options.host ?? '127.0.0.1';
  // The dev issuer mints tokens for whoever reaches it, so by default it runs only when nobody else can: on loopback.
  const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(listenHost);
  const enabled = { ca: true, tlog: true, tsa: true, oidc: loopback, tuf: false, ...options.services };
  const clock = options.clock ?? (() => new Date());
  const mounts: Mount[] = [];
  const app = createHttpServer(mounts, {
    largeBodies: [{ path: '/tlog/api/v1/log/entries', limit: MAX_ENTRY_BODY }],
  });
  try {
    await app.listen({ host: listenHost, port: options.port ?? 0 });
  } catch (e) {
    // The listen error is passed on as is (callers retry on its errno code, e.g. EADDRINUSE).
    await app.close().catch(() => {});
    throw e;
  }
  let store: LogStore | undefined;
  let stopTuf: (() => void) | undefined;
  try {
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no TCP address');
    // A wildcard address is not one clients can use; without publicUrl, name the machine's loopback.
    const bound = addr.address === '0.0.0.0' || addr.address === '::' ? 'localhost' : addr.address;
    const host = bound.includes(':') ? `[${bound}]` : bound;
    const url = (options.publicUrl ?? `http://${host}:${addr.port}`).replace(/\/$/, '');
    const urls: StackUrls = {
      ca: `${url}/ca`,
      tlog: `${url}/tlog`,
      tsa: `${url}/tsa`,
      oidc: `${url}/oidc`,
      tuf: `${url}/tuf`,
    };
    const issuerUrl = `${(options.issuerUrl ?? url).replace(/\/$/, '')}/oidc`;

    const material = await loadOrCreateAuthorities(dataDir, 'vouch', clock());
    const start = material.root.notBefore;
    const stack: Stack = { url, urls, trustedRoot: {}, signingConfig: {}, close: async () => {} };
    const trust: Required<TrustedRootInput> = {
      certificateAuthorities: [],
      tlogs: [],
      ctlogs: [],
      timestampAuthorities: [],
    };
    const service = (u: string): ServiceInput => ({ url: u, majorApiVersion: 1, start, operator: 'vouch' });
    const services: Record<'ca' | 'oidc' | 'tlog' | 'tsa', ServiceInput[]> = { ca: [], oidc: [], tlog: [], tsa: [] };

    const issuers = [...(options.issuers ?? [])];
    if (options.login) {
      const login = new LoginIssuer({
        issuer: `${url}/login`,
        key: await loadOrCreateKey(join(dataDir, 'keys'), 'login'),
        config: options.login,
        allowInsecureLoopback: options.allowInsecureLoopbackIssuers ?? false,
        clock,
      });
      stack.login = login;
      urls.login = login.issuer;
      mounts.push({ prefix: '/login', router: new Router(login.routes()) });
      // As public Sigstore does for its Dex, the certificate names the upstream the person logged in through.
      issuers.push({
        issuer: login.issuer,
        type: 'email',
        audience: options.login.clientId,
        issuerClaim: '$.federated_claims.connector_id',
        jwks: await login.jwks(),
      });
      // Listed first: where there is a real login, signers should use it rather than the development issuer.
      services.oidc.push(service(login.issuer));
    }
    if (enabled.oidc) {
      const issuer = new LocalIssuer({
        issuer: issuerUrl,
        key: await loadOrCreateKey(join(dataDir, 'keys'), 'oidc'),
        email: options.localEmail ?? `${userInfo().username}@localhost`,
        clock,
      });
      stack.issuer = issuer;
      mounts.push({ prefix: '/oidc', router: new Router(issuer.routes()) });
      // Only this stack's CA trusts this issuer, with its keys given directly (no discovery round trip).
      issuers.push({ issuer: issuerUrl, type: 'email', jwks: await issuer.jwks() });
      services.oidc.push(service(urls.oidc));
    }
    if (enabled.ca) {
      const ca = new CertificateAuthority({
        material,
        tokens: new TokenVerifier(issuers, {
          clock,
          allowInsecureLoopback: options.allowInsecureLoopbackIssuers ?? false,
        }),
        ...(enabled.oidc ? { localIssuers: [issuerUrl] } : {}),
        clock,
      });
      stack.ca = ca;
      mounts.push({ prefix: '/ca', router: new Router(caRoutes(ca)) });
      // The mark travels with the root: a verifier anywhere trusts a marked CA only for this stack's own
      // development identities and reports them as such (src/core/localdev.ts).
      trust.certificateAuthorities.push(
        authority(
          'vouch intermediate',
          urls.ca,
          [material.intermediate, material.root],
          start,
          options.localDevelopment ? LOCAL_DEVELOPMENT_ORGANIZATION : 'vouch',
        ),
      );
      if (enabled.oidc) {
        trust.certificateAuthorities.push(
          authority(
            'vouch local development',
            urls.ca,
            [material.localIntermediate, material.root],
            start,
            LOCAL_DEVELOPMENT_ORGANIZATION,
          ),
        );
      }
      services.ca.push(service(urls.ca));
    }
    if (enabled.tlog) {
      store = await openStore(dataDir, options.storage);
      const log = await TransparencyLog.open({
        store,
        key: await loadOrCreateKey(join(dataDir, 'keys'), 'tlog'),
        keyName: new URL(issuerUrl).hostname,
        clock,
        maxBatch: options.tlog?.maxBatch,
      });
      stack.log = log;
      mounts.push({ prefix: '/tlog', router: new Router(tlogRoutes(log, '/tlog')) });
      trust.tlogs.push({
        baseUrl: urls.tlog,
        publicKey: log.publicKeyDer(),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        logId: log.logId,
        start,
      });
      services.tlog.push(service(urls.tlog));
    }
    if (enabled.tsa) {
      const tsa = new TimestampAuthority({
        key: material.tsaKey,
        chain: [certDer(material.tsa), certDer(material.root)],
        clock,
      });
      stack.tsa = tsa;
      mounts.push({ prefix: '/tsa', router: new Router(tsaRoutes(tsa)) });
      trust.timestampAuthorities.push(authority('vouch timestamping', urls.tsa, [material.tsa, material.root], start));
      services.tsa.push(service(`${urls.tsa}/api/v1/timestamp`));
    }
    const trustedRoot = trustedRootJson(trust);
    const signingConfig = signingConfigJson(services);
    const trustedRootBytes = Buffer.from(`${JSON.stringify(trustedRoot, null, 2)}\n`);
    const signingConfigBytes = Buffer.from(`${JSON.stringify(signingConfig, null, 2)}\n`);
    writeFileAtomic(join(dataDir, 'trusted_root.json'), trustedRootBytes, { fsync: true });
    writeFileAtomic(join(dataDir, 'signing_config.json'), signingConfigBytes, { fsync: true });
    if (enabled.tuf) {
      // Loaded only here: the embedded instance never pays for the TUF models.
      const { openDataTuf } = await import('./tuf/setup.ts');
      const tuf = await openDataTuf(
        dataDir,
        { trustedRoot: trustedRootBytes, signingConfig: signingConfigBytes },
        clock,
      );
      stack.tuf = tuf.repository;
      stopTuf = tuf.stop;
      mounts.push({ prefix: '/tuf', router: tuf.router });
    }
    stack.trustedRoot = trustedRoot;
    stack.signingConfig = signingConfig;
    // Where `vouch sign --instance URL` fetches the instance's trust material (src/instance/instance.ts WELL_KNOWN).
    mounts.push({
      prefix: '/.well-known/vouch',
      router: new Router([
        // The bytes of DATA/trusted_root.json, so the SHA-256 a publisher reads there pins what clients fetch.
        {
          method: 'GET',
          pattern: '/trusted_root.json',
          handler: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: trustedRootBytes }),
        },
        { method: 'GET', pattern: '/signing_config.json', handler: () => ({ status: 200, body: signingConfig }) },
      ]),
    });
    let closing: Promise<void> | undefined;
    stack.close = () => {
      // Stop accepting, let in-flight requests finish, commit what is queued, then close the store.
      closing ??= (async () => {
        stopTuf?.();
        await app.close();
        await stack.log?.drain();
        await store?.close();
      })();
      return closing;
    };
    return stack;
  } catch (e) {
    stopTuf?.();
    await app.close();
    await store?.close();
    throw e;
  }
}
