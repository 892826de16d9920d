/**
 * `vouch serve`: the embedded trust stack as a server a team shares. Returns once listening; the CLI prints where,
 * then waits for `stopped` (SIGTERM/SIGINT flush the log and close the store).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { VouchError } from '../../errors.ts';
import { vouchHome } from '../../instance/home.ts';
import type { IssuerConfig } from '../../server/ca/oidc.ts';
import { loadServeConfig } from '../../server/config.ts';
import { type Serving, serve as startServing } from '../../server/serve.ts';
import type { StackOptions } from '../../server/stack.ts';
import { formatServe } from '../format/serve.ts';
import { type CommandContext, defineCommand } from '../run.ts';

interface ServeFlags {
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

/** The services a stack may run, in the order the listing shows them. */
export const SERVICES = ['ca', 'tlog', 'tsa', 'oidc', 'tuf'] as const;

async function serve(o: ServeFlags): Promise<{ serving: Serving; summary: ServeSummary }> {
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

export default defineCommand({
  async run(_args: [], flags: ServeFlags, ctx: CommandContext) {
    const r = await serve(flags);
    if (r.summary.insecureLoopbackIssuers) {
      ctx.warn('plain-HTTP loopback issuers are accepted (a test or development setup)');
    }
    return r;
  },
  human: (r) => formatServe(r.summary),
  json: (r) => r.summary,
  wait: (r) => r.serving.stopped,
  jsonLine: true,
});
