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
import { type ServiceInput, signingConfigJson, type TrustedRootInput, trustedRootJson } from '../core/trustroot.ts';
import { CertificateAuthority } from './ca/ca.ts';
import { type IssuerConfig, TokenVerifier } from './ca/oidc.ts';
import { caRoutes } from './ca/routes.ts';
import { createHttpServer, type Mount } from './http.ts';
import { LocalIssuer } from './oidc/issuer.ts';
import { certDer, loadOrCreateAuthorities, loadOrCreateKey } from './pki.ts';
import { Router } from './routes.ts';
import { SqliteLogStore } from './store/sqlite.ts';
import type { LogStore } from './store/types.ts';
import { TransparencyLog } from './tlog/log.ts';
import { MAX_ENTRY_BODY, tlogRoutes } from './tlog/routes.ts';
import { tsaRoutes } from './tsa/routes.ts';
import { TimestampAuthority } from './tsa/tsa.ts';

export type StorageOptions = { kind: 'sqlite'; path?: string } | { kind: 'postgres'; url: string };

export interface StackOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** Which services to run; all by default, except the dev OIDC issuer when listening beyond loopback. */
  services?: { ca?: boolean; tlog?: boolean; tsa?: boolean; oidc?: boolean };
  /** OIDC issuers the CA trusts besides the stack's own dev issuer. */
  issuers?: IssuerConfig[];
  /** Let the CA discover issuers over plain HTTP on a loopback address (tests and development only). */
  allowInsecureLoopbackIssuers?: boolean;
  storage?: StorageOptions;
  /** Log tuning: largest group-commit batch (default 1000; 1 disables group commit, for the benchmark baseline). */
  tlog?: { maxBatch?: number };
  /** The URL clients use, when it differs from the listening address (behind a proxy). */
  publicUrl?: string;
  /** Email of the local user in dev tokens; default `<login>@localhost`. */
  localEmail?: string;
  clock?: () => Date;
}

export interface StackUrls {
  ca: string;
  tlog: string;
  tsa: string;
  oidc: string;
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
  close(): Promise<void>;
}

async function openStore(dataDir: string, s: StorageOptions | undefined): Promise<LogStore> {
  if (!s || s.kind === 'sqlite') return new SqliteLogStore(s?.path ?? join(dataDir, 'tlog.sqlite3'));
  const { PostgresLogStore } = await import('./store/postgres.ts');
  return PostgresLogStore.connect(s.url);
}

/** A certificate authority entry of the TrustedRoot (CA or TSA): its chain, issuing certificate first. */
function authority(commonName: string, uri: string, chain: Parameters<typeof certDer>[0][], start: Date) {
  return { subject: { organization: 'vouch', commonName }, uri, chain: chain.map(certDer), start };
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const listenHost = options.host ?? '127.0.0.1';
  // The dev issuer mints tokens for whoever reaches it, so by default it runs only when nobody else can: on loopback.
  const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(listenHost);
  const enabled = { ca: true, tlog: true, tsa: true, oidc: loopback, ...options.services };
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
  try {
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no TCP address');
    // A wildcard address is not one clients can use; without publicUrl, name the machine's loopback.
    const bound = addr.address === '0.0.0.0' || addr.address === '::' ? 'localhost' : addr.address;
    const host = bound.includes(':') ? `[${bound}]` : bound;
    const url = (options.publicUrl ?? `http://${host}:${addr.port}`).replace(/\/$/, '');
    const urls: StackUrls = { ca: `${url}/ca`, tlog: `${url}/tlog`, tsa: `${url}/tsa`, oidc: `${url}/oidc` };

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
    if (enabled.oidc) {
      const issuer = new LocalIssuer({
        issuer: urls.oidc,
        key: await loadOrCreateKey(join(dataDir, 'keys'), 'oidc'),
        email: options.localEmail ?? `${userInfo().username}@localhost`,
        clock,
      });
      stack.issuer = issuer;
      mounts.push({ prefix: '/oidc', router: new Router(issuer.routes()) });
      // Only this stack's CA trusts this issuer, with its keys given directly (no discovery round trip).
      issuers.push({ issuer: urls.oidc, type: 'email', jwks: await issuer.jwks() });
      services.oidc.push(service(urls.oidc));
    }
    if (enabled.ca) {
      const ca = new CertificateAuthority({
        material,
        tokens: new TokenVerifier(issuers, {
          clock,
          allowInsecureLoopback: options.allowInsecureLoopbackIssuers ?? false,
        }),
        clock,
      });
      stack.ca = ca;
      mounts.push({ prefix: '/ca', router: new Router(caRoutes(ca)) });
      trust.certificateAuthorities.push(
        authority('vouch intermediate', urls.ca, [material.intermediate, material.root], start),
      );
      services.ca.push(service(urls.ca));
    }
    if (enabled.tlog) {
      store = await openStore(dataDir, options.storage);
      const log = await TransparencyLog.open({
        store,
        key: await loadOrCreateKey(join(dataDir, 'keys'), 'tlog'),
        keyName: new URL(url).hostname,
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
    writeFileAtomic(join(dataDir, 'trusted_root.json'), `${JSON.stringify(trustedRoot, null, 2)}\n`, { fsync: true });
    writeFileAtomic(join(dataDir, 'signing_config.json'), `${JSON.stringify(signingConfig, null, 2)}\n`, {
      fsync: true,
    });
    stack.trustedRoot = trustedRoot;
    stack.signingConfig = signingConfig;
    // Where `vouch sign --instance URL` fetches the instance's trust material (src/instance/instance.ts WELL_KNOWN).
    mounts.push({
      prefix: '/.well-known/vouch',
      router: new Router([
        { method: 'GET', pattern: '/trusted_root.json', handler: () => ({ status: 200, body: trustedRoot }) },
        { method: 'GET', pattern: '/signing_config.json', handler: () => ({ status: 200, body: signingConfig }) },
      ]),
    });
    let closing: Promise<void> | undefined;
    stack.close = () => {
      // Stop accepting, let in-flight requests finish, commit what is queued, then close the store.
      closing ??= (async () => {
        await app.close();
        await stack.log?.drain();
        await store?.close();
      })();
      return closing;
    };
    return stack;
  } catch (e) {
    await app.close();
    await store?.close();
    throw e;
  }
}
