/**
 * `vouch serve --config FILE`: a YAML file (read with the `yaml` package: duplicate keys refused, aliases capped)
 * checked against the JSON Schema in serve-config.schema.json (published as docs/serve-config.schema.json) by ajv,
 * then turned into issuer configurations. Issuer entries use Fulcio's key names (oidc-issuers, meta-issuers,
 * client-id, type, ci-provider, subject-domain, ...), so an entry of Fulcio's config/identity/config.yaml reads the
 * same here; presets name the well-known issuers. Every problem is CONFIG_INVALID naming the file and the place.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { fileError } from '../core/digest.ts';
import type { IssuerType } from '../core/identity-map.ts';
import { VouchError } from '../errors.ts';
import { type IssuerConfig, isLoopbackHost, validateIssuer } from './ca/oidc.ts';
import schema from './serve-config.schema.json' with { type: 'json' };

const MAX_CONFIG_BYTES = 1 << 20;

/** The upstream a login connector sends people to. */
export type ConnectorConfig =
  | {
      type: 'github';
      id: string;
      clientId: string;
      clientSecret: string;
      /** GitHub's web URL (authorize, access_token) and API URL (/user, /user/emails). */
      url: string;
      apiUrl: string;
    }
  | {
      type: 'oidc';
      id: string;
      issuer: string;
      clientId: string;
      clientSecret: string;
      scopes: string[];
      skipEmailVerification: boolean;
    };

export interface LoginConfig {
  clientId: string;
  tokenLifetimeSeconds: number;
  connectors: ConnectorConfig[];
}

export interface ServeConfig {
  issuers: IssuerConfig[];
  login?: LoginConfig;
  allowInsecureLoopbackIssuers: boolean;
}

type Raw = Record<string, unknown>;

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(doc: unknown): ErrorObject[] {
  // strictRequired off: `not: {required: [a, b]}` and `oneOf` of `required` lists are how the schema says "not both"
  // and "exactly one of", with the properties defined beside them.
  validator ??= new Ajv({ discriminator: true, strict: true, strictRequired: false }).compile(schema);
  return validator(doc) ? [] : (validator.errors ?? []);
}

/** Read and check a configuration file. */
export function loadServeConfig(path: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  return parseServeConfig(readCapped(path), path, env);
}

/** Check configuration text; `source` names it in errors. */
export function parseServeConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const fail = (message: string, hint?: string) =>
    new VouchError('CONFIG_INVALID', `${source}: ${message}`, hint ? { hint } : {});
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, merge: true });
  if (doc.errors.length > 0) throw fail(doc.errors[0]!.message.split('\n')[0]!);
  let value: unknown;
  try {
    // An alias bomb (a billion laughs) is refused rather than expanded.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (value === null || value === undefined) value = {};
  const errors = validate(value);
  if (errors.length > 0)
    throw fail(schemaMessage(errors[0]!), 'See docs/serve-config.schema.json and docs/identities.md.');
  const raw = value as Raw;
  const allowInsecureLoopbackIssuers = raw['allow-insecure-loopback-issuers'] === true;
  const issuers: IssuerConfig[] = [];
  for (const [url, entry] of Object.entries((raw['oidc-issuers'] ?? {}) as Record<string, Raw>)) {
    if (entry['issuer-url'] !== undefined && entry['issuer-url'] !== url) {
      throw fail(`oidc-issuers ${url}: issuer-url ${String(entry['issuer-url'])} differs from its key`);
    }
    issuers.push(issuerOf(url, entry, false));
  }
  for (const [pattern, entry] of Object.entries((raw['meta-issuers'] ?? {}) as Record<string, Raw>)) {
    issuers.push(issuerOf(pattern, entry, true));
  }
  for (const p of (raw.presets ?? []) as (string | Raw)[])
    issuers.push(...preset(typeof p === 'string' ? { name: p } : p));
  const seen = new Set<string>();
  for (const i of issuers) {
    try {
      validateIssuer(i, allowInsecureLoopbackIssuers);
    } catch (e) {
      throw fail((e as VouchError).message, (e as VouchError).hint);
    }
    const key = `${i.wildcard ? 'meta' : 'exact'} ${i.issuer}`;
    if (seen.has(key)) throw fail(`issuer ${i.issuer} is configured twice`);
    seen.add(key);
  }
  const config: ServeConfig = { issuers, allowInsecureLoopbackIssuers };
  if (raw.login !== undefined) config.login = loginOf(raw.login as Raw, env, fail, allowInsecureLoopbackIssuers);
  return config;
}

/** An ajv error as a person reads it: the place as keys (not a JSON pointer), then what is wrong there. */
function schemaMessage(e: ErrorObject): string {
  const keys = e.instancePath
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  const where = keys.length === 0 ? 'the top level' : keys.join(' > ');
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown key ${(e.params as { additionalProperty: string }).additionalProperty}`;
  }
  if (e.keyword === 'not') {
    return e.schemaPath.endsWith('/else/not')
      ? `${where}: ci-provider goes only with type: ci-provider`
      : `${where}: give client-id or audience, not both`;
  }
  // A bad key of a map: ajv names it beside the error, not in the path.
  const key = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (key !== undefined) return `${where}: the key ${key} ${e.message}`;
  if (e.keyword === 'enum') {
    return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  return `${where} ${e.message}`;
}

function issuerOf(issuer: string, e: Raw, wildcard: boolean): IssuerConfig {
  const s = (k: string) => e[k] as string | undefined;
  // Fulcio's `type: ci-provider` + `ci-provider: NAME` is the same mapping as vouch's `type: NAME`.
  const type = (e.type === 'ci-provider' ? e['ci-provider'] : e.type) as IssuerType;
  const c: IssuerConfig = { issuer, type };
  if (wildcard) c.wildcard = true;
  const audience = s('audience') ?? s('client-id');
  if (audience !== undefined) c.audience = audience;
  if (s('subject-domain') !== undefined) c.subjectDomain = s('subject-domain')!;
  if (s('spiffe-trust-domain') !== undefined) c.spiffeTrustDomain = s('spiffe-trust-domain')!;
  if (e['skip-email-verification'] === true) c.skipEmailVerification = true;
  if (s('issuer-claim') !== undefined) c.issuerClaim = s('issuer-claim')!;
  if (s('challenge-claim') !== undefined) c.challengeClaim = s('challenge-claim')!;
  if (s('base-url') !== undefined) c.baseUrl = s('base-url')!;
  if (s('description') !== undefined) c.description = s('description')!;
  if (s('contact') !== undefined) c.contact = s('contact')!;
  return c;
}

/**
 * The issuers a preset stands for (docs/identities.md "Presets"). GitHub's wildcard is Fulcio's, for enterprises
 * with a customised issuer (`https://token.actions.githubusercontent.com/<slug>`). A Kubernetes preset names one
 * cluster: its SAN does not name the cluster, so a pattern over clusters belongs in meta-issuers, written out.
 */
function preset(p: Raw): IssuerConfig[] {
  const withAudience = (list: IssuerConfig[]) =>
    p.audience ? list.map((i) => ({ ...i, audience: p.audience as string })) : list;
  const str = (k: string) => p[k] as string;
  switch (p.name) {
    case 'google':
      return withAudience([{ issuer: 'https://accounts.google.com', type: 'email' }]);
    case 'microsoft':
      // Entra issues v2.0 tokens under one URL and v1 tokens (managed identities, IMDS) under another.
      return withAudience([
        { issuer: `https://login.microsoftonline.com/${str('tenant')}/v2.0`, type: 'entra' },
        { issuer: `https://sts.windows.net/${str('tenant')}/`, type: 'entra' },
      ]);
    case 'github-actions':
      return withAudience([
        { issuer: 'https://token.actions.githubusercontent.com', type: 'github-workflow' },
        { issuer: 'https://token.actions.githubusercontent.com/*', wildcard: true, type: 'github-workflow' },
      ]);
    case 'gitlab':
      return withAudience([{ issuer: (p.url as string | undefined) ?? 'https://gitlab.com', type: 'gitlab-pipeline' }]);
    case 'buildkite':
      return withAudience([{ issuer: 'https://agent.buildkite.com', type: 'buildkite-job' }]);
    case 'circleci':
      return withAudience([{ issuer: `https://oidc.circleci.com/org/${str('org')}`, type: 'circleci-job' }]);
    case 'aws':
      return withAudience([{ issuer: str('issuer'), type: 'aws-iam' }]);
    case 'azure-pipelines':
      // Azure DevOps fixes the audience of its tokens to Entra's token-exchange audience.
      return withAudience([
        {
          issuer: `https://vstoken.dev.azure.com/${str('org')}`,
          type: 'azure-pipelines',
          audience: 'api://AzureADTokenExchange',
        },
      ]);
    case 'kubernetes':
      return withAudience([{ issuer: str('issuer'), type: 'kubernetes' }]);
    default:
      throw new VouchError('INTERNAL', `preset ${String(p.name)} passed the schema but is not known`);
  }
}

function secretOf(c: Raw, env: NodeJS.ProcessEnv, fail: (m: string) => VouchError, what: string): string {
  const name = c['client-secret-env'] as string | undefined;
  const value = name !== undefined ? env[name] : readCapped(c['client-secret-file'] as string).trim();
  if (!value)
    throw fail(`${what}: the client secret (${name ? `environment variable ${name}` : 'file'}) is empty or unset`);
  return value;
}

function loginOf(
  raw: Raw,
  env: NodeJS.ProcessEnv,
  fail: (m: string, hint?: string) => VouchError,
  allowInsecureLoopback: boolean,
): LoginConfig {
  const connectors: ConnectorConfig[] = [];
  const checkUrl = (u: string, what: string): string => {
    if (!URL.canParse(u)) throw fail(`${what}: ${u} is not a URL`);
    const url = new URL(u);
    const loopbackHttp = url.protocol === 'http:' && isLoopbackHost(url.hostname);
    if (url.protocol !== 'https:' && !(loopbackHttp && allowInsecureLoopback)) {
      throw fail(`${what}: ${u} must be https`, 'Plain HTTP on loopback needs allow-insecure-loopback-issuers: true.');
    }
    return u;
  };
  for (const [i, c] of ((raw.connectors ?? []) as Raw[]).entries()) {
    const what = `login connector ${i + 1}`;
    if (c.type === 'github') {
      const url = checkUrl((c.url as string | undefined) ?? 'https://github.com', what).replace(/\/+$/, '');
      const apiUrl = checkUrl(
        (c['api-url'] as string | undefined) ??
          (url === 'https://github.com' ? 'https://api.github.com' : `${url}/api/v3`),
        what,
      ).replace(/\/+$/, '');
      connectors.push({
        type: 'github',
        // Public Sigstore's Dex names its GitHub connector by this URL, and certificates carry it as their issuer.
        id: (c.id as string | undefined) ?? `${url}/login/oauth`,
        clientId: c['client-id'] as string,
        clientSecret: secretOf(c, env, fail, what),
        url,
        apiUrl,
      });
    } else {
      connectors.push({
        type: 'oidc',
        id: (c.id as string | undefined) ?? (c.issuer as string),
        issuer: checkUrl(c.issuer as string, what),
        clientId: c['client-id'] as string,
        clientSecret: secretOf(c, env, fail, what),
        scopes: (c.scopes as string[] | undefined) ?? ['openid', 'email'],
        skipEmailVerification: c['skip-email-verification'] === true,
      });
    }
  }
  const ids = connectors.map((c) => c.id);
  if (new Set(ids).size !== ids.length) throw fail('two login connectors have the same id');
  return {
    clientId: (raw['client-id'] as string | undefined) ?? 'sigstore',
    tokenLifetimeSeconds: (raw['token-lifetime'] as number | undefined) ?? 300,
    connectors,
  };
}

/** A file read with its size capped while reading (not by a stat that could change before the read). */
function readCapped(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fileError(e as NodeJS.ErrnoException, path);
  }
  try {
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_CONFIG_BYTES)
        throw new VouchError('CONFIG_INVALID', `${path}: larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    return buf.subarray(0, n).toString('utf8');
  } catch (e) {
    if (e instanceof VouchError) throw e;
    throw fileError(e as NodeJS.ErrnoException, path);
  } finally {
    closeSync(fd);
  }
}
