/**
 * `vouch serve`: the embedded trust stack as a server a team shares. Returns once listening; the CLI then waits for
 * `stopped` (SIGTERM/SIGINT flush the log and close the store).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { VouchError } from '../../errors.ts';
import { vouchHome } from '../../instance/home.ts';
import type { IssuerConfig } from '../../server/ca/oidc.ts';
import { loadServeConfig } from '../../server/config.ts';
import { type Serving, serve as startServing } from '../../server/serve.ts';
import type { StackOptions } from '../../server/stack.ts';

export interface ServeCommandOptions {
  data?: string;
  host?: string;
  port?: string;
  publicUrl?: string;
  issuer?: string[];
  audience?: string;
  postgres?: string;
  services?: string;
  localEmail?: string;
  /** YAML file: issuers, presets, login connectors (docs/identities.md). */
  config?: string;
  allowInsecureLoopbackIssuers?: boolean;
}

export interface ServeSummary {
  url: string;
  /** The services running, each at the URL a client calls (the TSA's is the full RFC 3161 endpoint). */
  urls: Partial<Record<(typeof SERVICES)[number] | 'login', string>>;
  /** The dev issuer's URL, the issuer its identities carry (fixed at first start, see `DATA/public_url`). */
  issuer?: string;
  dataDir: string;
  trustedRoot: string;
  signingConfig: string;
  /** The TUF repository: its mirror URL and the root clients pin, with that file's SHA-256. */
  tuf?: { mirror: string; root: string; rootSha256: string };
  storage: 'sqlite' | 'postgres';
  /** Issuer URLs (and wildcard patterns) the CA accepts, besides the stack's own. */
  issuers: string[];
  /** Plain-HTTP loopback issuers are accepted: a test or development configuration. */
  insecureLoopbackIssuers: boolean;
}

const SERVICES = ['ca', 'tlog', 'tsa', 'oidc', 'tuf'] as const;

export async function serve(o: ServeCommandOptions): Promise<{ serving: Serving; summary: ServeSummary }> {
  const dataDir = o.data ?? join(vouchHome(), 'serve');
  const port = o.port === undefined ? 8080 : Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VouchError('USAGE', `invalid --port ${o.port}`);
  const options: StackOptions = { dataDir, host: o.host ?? '127.0.0.1', port };
  if (o.publicUrl) {
    if (!URL.canParse(o.publicUrl) || !/^https?:$/.test(new URL(o.publicUrl).protocol)) {
      throw new VouchError('USAGE', `--public-url must be an http(s) URL, not "${o.publicUrl.slice(0, 100)}"`);
    }
    options.publicUrl = o.publicUrl;
  }
  if (o.localEmail) options.localEmail = o.localEmail;
  const config = o.config ? loadServeConfig(o.config) : undefined;
  options.issuers = [
    ...(config?.issuers ?? []),
    ...(o.issuer ?? []).map((issuer): IssuerConfig => (o.audience ? { issuer, audience: o.audience } : { issuer })),
  ];
  if (config?.login) options.login = config.login;
  options.allowInsecureLoopbackIssuers = Boolean(
    o.allowInsecureLoopbackIssuers || config?.allowInsecureLoopbackIssuers,
  );
  if (o.postgres) options.storage = { kind: 'postgres', url: o.postgres };
  if (o.services) {
    const names = o.services.split(',').map((s) => s.trim());
    const known: readonly string[] = SERVICES;
    for (const n of names)
      if (!known.includes(n)) throw new VouchError('USAGE', `unknown service "${n}" (${SERVICES.join(', ')})`);
    options.services = Object.fromEntries(SERVICES.map((k) => [k, names.includes(k)]));
  }
  let serving: Serving;
  try {
    serving = await startServing(options);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new VouchError('USAGE', `cannot listen on ${options.host}:${port}: ${code}`, {
        cause: e,
        hint:
          code === 'EADDRINUSE'
            ? 'Another process uses that port: pick another --port (0 for any free one).'
            : 'Pick another --host or --port.',
      });
    }
    throw e;
  }
  const stack = serving.stack;
  const running = { ca: stack.ca, tlog: stack.log, tsa: stack.tsa, oidc: stack.issuer, tuf: stack.tuf };
  const urls: ServeSummary['urls'] = {};
  for (const k of SERVICES)
    if (running[k]) urls[k] = k === 'tsa' ? `${stack.urls.tsa}/api/v1/timestamp` : stack.urls[k];
  if (stack.urls.login !== undefined) urls.login = stack.urls.login;
  const summary: ServeSummary = {
    url: stack.url,
    urls,
    dataDir,
    trustedRoot: join(dataDir, 'trusted_root.json'),
    signingConfig: join(dataDir, 'signing_config.json'),
    storage: o.postgres ? 'postgres' : 'sqlite',
    issuers: options.issuers.map((i) => i.issuer),
    insecureLoopbackIssuers: options.allowInsecureLoopbackIssuers,
  };
  if (stack.issuer) summary.issuer = stack.issuer.issuer;
  if (stack.tuf) {
    const root = stack.tuf.initialRoot();
    summary.tuf = {
      mirror: stack.urls.tuf,
      root: join(dataDir, 'tuf', 'root.json'),
      rootSha256: createHash('sha256').update(root).digest('hex'),
    };
  }
  return { serving, summary };
}

const LABELS: Record<(typeof SERVICES)[number], string> = {
  ca: 'CA',
  tlog: 'log',
  tsa: 'TSA',
  oidc: 'OIDC',
  tuf: 'TUF',
};

/** The listening summary for a person: only the services that run, each with the URL clients are given. */
export function formatServe(s: ServeSummary): string {
  const lines = [`vouch serve: listening on ${s.url} (${s.storage})`];
  for (const k of SERVICES) {
    const url = s.urls[k];
    if (url === undefined) continue;
    let line = `  ${LABELS[k].padEnd(5)} ${url}`;
    if (k === 'oidc' && s.issuer !== undefined && s.issuer !== url) line += `  (identities name ${s.issuer})`;
    if (k === 'tuf' && s.tuf) line += `  (pin ${s.tuf.root}, sha256 ${s.tuf.rootSha256})`;
    lines.push(line);
  }
  if (s.urls.login !== undefined) lines.push(`  login ${s.urls.login}  (people sign in here)`);
  lines.push(`  trusted root   ${s.trustedRoot}`, `  signing config ${s.signingConfig}`);
  return `${lines.join('\n')}\n`;
}
