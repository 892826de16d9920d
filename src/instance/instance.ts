/**
 * Which Sigstore instance signs: the services (CA, log, TSA, OIDC issuer) and the trusted root that goes with them.
 * Resolved in this order:
 *   1. `--instance`: a URL of a `vouch serve` (its trusted root and signing config are fetched once from its
 *      well-known paths), or a preset name (`public-good`, `embedded`);
 *   2. `instance` in `$VOUCH_HOME/config.json`;
 *   3. the embedded default: the vouch stack started in this process, its keys and log under
 *      `$VOUCH_HOME/embedded`, closed when signing is done. Its root is recorded in the trust store so a later
 *      `vouch verify` on this machine works with no flags.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchJson } from '../core/http.ts';
import { readCappedSync } from '../core/read.ts';
import { VouchError } from '../errors.ts';
import { assetPath } from './assets.ts';
import { readConfig } from './config.ts';
import { paths, vouchHome } from './home.ts';
import { acquireLock } from './lock.ts';
import { checkUrl, type ServiceUrls, selectServices } from './signingconfig.ts';
import {
  addLocalIssuers,
  EMBEDDED,
  PUBLIC_GOOD,
  parseTrustedRoot,
  recordEmbeddedRoot,
  type TrustedRootJSON,
} from './truststore.ts';

export type InstanceKind = 'embedded' | 'public-good' | 'remote';

export interface Instance {
  /** `embedded`, `public-good`, or the instance URL. */
  name: string;
  kind: InstanceKind;
  services: ServiceUrls;
  trustedRoot: TrustedRootJSON;
  signingConfig: unknown;
  /** Token endpoint of the instance's local development issuer, when it has one (embedded, `vouch serve --dev`). */
  localIssuerTokenUrl?: string;
  /** VOUCH_HOME used to resolve it. */
  home: string;
  /** Stops what the instance started (the embedded stack); a no-op for remote instances. Idempotent. */
  close(): Promise<void>;
}

export interface ResolveInstanceOptions {
  /** `--instance`: URL or preset name. */
  instance?: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Well-known paths of a `vouch serve` instance (served by src/server/http.ts). */
export const WELL_KNOWN = {
  trustedRoot: '/.well-known/vouch/trusted_root.json',
  signingConfig: '/.well-known/vouch/signing_config.json',
};

export async function resolveInstance(options: ResolveInstanceOptions = {}): Promise<Instance> {
  const home = options.home ?? vouchHome(options.env);
  const choice = options.instance ?? readConfig(home).instance ?? EMBEDDED;
  if (choice === EMBEDDED) return startEmbedded(home);
  if (choice === PUBLIC_GOOD) return publicGood(home);
  if (/^https?:\/\//.test(choice)) return remote(choice, home, options.timeoutMs);
  throw new VouchError('USAGE', `unknown instance "${choice.slice(0, 100)}"`, {
    hint: 'Use "embedded", "public-good", or the http(s) URL of a `vouch serve`.',
  });
}

function publicGood(home: string): Instance {
  const signingConfig = JSON.parse(readFileSync(assetPath('public-good.signing_config.json'), 'utf8')) as unknown;
  const trustedRoot = parseTrustedRoot(readFileSync(assetPath('public-good.trusted_root.json'), 'utf8'));
  return {
    name: PUBLIC_GOOD,
    kind: 'public-good',
    services: selectServices(signingConfig),
    trustedRoot,
    signingConfig,
    home,
    close: async () => {},
  };
}

async function remote(url: string, home: string, timeoutMs?: number): Promise<Instance> {
  const base = checkUrl(url, '--instance').href.replace(/\/+$/, '');
  const opts = timeoutMs === undefined ? {} : { timeoutMs };
  const [rootJson, signingConfig] = await Promise.all([
    fetchJson(base + WELL_KNOWN.trustedRoot, `instance ${base}`, { ...opts, maxBytes: 1 << 20 }),
    fetchJson(base + WELL_KNOWN.signingConfig, `instance ${base}`, opts),
  ]);
  // What the instance serves is its answer, not the user's input: a bad document is the service's error (exit 3).
  let trustedRoot: TrustedRootJSON;
  let services: ServiceUrls;
  try {
    trustedRoot = parseTrustedRoot(JSON.stringify(rootJson), `trusted root of ${base}`);
    services = selectServices(signingConfig);
  } catch (e) {
    throw new VouchError('SERVICE_ERROR', `instance ${base} serves unusable trust material: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const instance: Instance = {
    name: base,
    kind: 'remote',
    services,
    trustedRoot,
    signingConfig,
    home,
    close: async () => {},
  };
  const tokenUrl = localTokenUrl(base, services);
  if (tokenUrl !== undefined) instance.localIssuerTokenUrl = tokenUrl;
  return instance;
}

async function startEmbedded(home: string): Promise<Instance> {
  // Loaded on demand: verifying and key-pair signing never pay for the servers.
  const { startStack } = await import('../server/stack.ts');
  const dataDir = paths.embedded(home);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(join(dataDir, 'lock.sqlite3'));
  let stack: Awaited<ReturnType<typeof startStack>>;
  try {
    // The local issuer's URL (the `iss` of its tokens, the issuer in every certificate) contains the port, so the
    // port of the last run is reused when it is free: signatures made on different days then name the same issuer,
    // and one `--certificate-oidc-issuer` verifies them all. Only if it is taken does the issuer change.
    const portFile = join(dataDir, 'port');
    const last = readPort(portFile);
    try {
      stack = await startStack({ dataDir, port: last ?? 0, localDevelopment: true });
    } catch (e) {
      if (last === undefined || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      stack = await startStack({ dataDir, port: 0, localDevelopment: true });
    }
    const port = Number(new URL(stack.url).port);
    if (port !== last) writeFileSync(portFile, `${port}\n`, { mode: 0o600 });
  } catch (e) {
    lock.release();
    throw e;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await stack.close();
    } finally {
      lock.release();
    }
  };
  try {
    const trustedRoot = parseTrustedRoot(JSON.stringify(stack.trustedRoot), 'embedded trusted root');
    recordEmbeddedRoot(home, trustedRoot);
    // Recorded before any signature is made, so a bundle of this run verifies even if the process dies before the
    // session closes: the verifier accepts from a local development root only identities of its recorded issuers.
    addLocalIssuers(home, EMBEDDED, [stack.urls.oidc]);
    return {
      name: EMBEDDED,
      kind: 'embedded',
      services: selectServices(stack.signingConfig),
      trustedRoot,
      signingConfig: stack.signingConfig,
      localIssuerTokenUrl: `${stack.urls.oidc.replace(/\/+$/, '')}/token`,
      home,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

function readPort(file: string): number | undefined {
  try {
    const n = Number(readCappedSync(file, { maxBytes: 16, code: 'CONFIG_INVALID' }).toString('utf8').trim());
    return Number.isInteger(n) && n >= 1024 && n <= 65535 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A `vouch serve` advertises its development issuer in its signing config, on its own origin; its token endpoint is
 * `<issuer>/token`. An issuer elsewhere (a real identity provider) is never treated as one that mints tokens freely.
 */
function localTokenUrl(base: string, services: ServiceUrls): string | undefined {
  if (services.oidc === undefined || new URL(services.oidc).origin !== new URL(base).origin) return undefined;
  // The stack mounts its development issuer at /oidc; its login connector (/login) wants a person to sign in.
  if (!new URL(services.oidc).pathname.replace(/\/+$/, '').endsWith('/oidc')) return undefined;
  return `${services.oidc}/token`;
}
