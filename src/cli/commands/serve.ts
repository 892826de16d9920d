/**
 * `vouch serve`: the embedded trust stack as a server a team shares. Returns once listening; the CLI then waits for
 * `stopped` (SIGTERM/SIGINT flush the log and close the store).
 */
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
  urls: Record<string, string>;
  dataDir: string;
  trustedRoot: string;
  signingConfig: string;
  storage: 'sqlite' | 'postgres';
  /** Issuer URLs (and wildcard patterns) the CA accepts, besides the stack's own. */
  issuers: string[];
  /** Plain-HTTP loopback issuers are accepted: a test or development configuration. */
  insecureLoopbackIssuers: boolean;
}

export async function serve(o: ServeCommandOptions): Promise<{ serving: Serving; summary: ServeSummary }> {
  const dataDir = o.data ?? join(vouchHome(), 'serve');
  const port = o.port === undefined ? 8080 : Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VouchError('USAGE', `invalid --port ${o.port}`);
  const options: StackOptions = { dataDir, host: o.host ?? '127.0.0.1', port };
  if (o.publicUrl) options.publicUrl = o.publicUrl;
  if (o.localEmail) options.localEmail = o.localEmail;
  const config = o.config ? loadServeConfig(o.config) : undefined;
  options.issuers = [
    ...(config?.issuers ?? []),
    ...(o.issuer ?? []).map((issuer): IssuerConfig => (o.audience ? { issuer, audience: o.audience } : { issuer })),
  ];
  options.allowInsecureLoopbackIssuers = Boolean(
    o.allowInsecureLoopbackIssuers || config?.allowInsecureLoopbackIssuers,
  );
  if (o.postgres) options.storage = { kind: 'postgres', url: o.postgres };
  if (o.services) {
    const names = o.services.split(',').map((s) => s.trim());
    const known = ['ca', 'tlog', 'tsa', 'oidc'];
    for (const n of names)
      if (!known.includes(n)) throw new VouchError('USAGE', `unknown service "${n}" (ca, tlog, tsa, oidc)`);
    options.services = Object.fromEntries(known.map((k) => [k, names.includes(k)]));
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
  return {
    serving,
    summary: {
      url: serving.stack.url,
      urls: { ...serving.stack.urls },
      dataDir,
      trustedRoot: join(dataDir, 'trusted_root.json'),
      signingConfig: join(dataDir, 'signing_config.json'),
      storage: o.postgres ? 'postgres' : 'sqlite',
      issuers: options.issuers.map((i) => i.issuer),
      insecureLoopbackIssuers: options.allowInsecureLoopbackIssuers,
    },
  };
}
