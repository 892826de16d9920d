/**
 * The user's npm configuration, as far as fetching packages needs it: the default registry, `@scope:registry`
 * mappings, credentials per registry and the npm cache folder. Read from the places npm reads, highest precedence
 * first: `npm_config_*` environment variables, the project's `.npmrc`, the user's (`$NPM_CONFIG_USERCONFIG` or
 * `~/.npmrc`), and the global one (`$NPM_CONFIG_GLOBALCONFIG`). Files are parsed with npm's own `ini` and values
 * get npm's `${VAR}` substitution (a missing variable is an error, `${VAR?}` an empty string), as @npmcli/config does.
 *
 * Credentials are kept per "nerf-darted" registry key (`//host/path/:_authToken`) and only ever sent to a URL
 * under that key: a token for the company registry never reaches the public one or a tarball host.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseIni } from 'ini';
import { VouchError } from '../../errors.ts';

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';
const MAX_NPMRC_BYTES = 1 << 20;

export interface NpmConfig {
  /** Default registry, with a trailing slash. */
  registry: string;
  /** `@scope` -> registry, with a trailing slash. */
  scopes: Map<string, string>;
  /** Nerf-darted key (`//host/path/`) -> settings of that registry (`_authToken`, `_auth`, `username`, `_password`). */
  credentials: Map<string, Record<string, string>>;
  /** npm's cache folder (its `_cacache` holds tarballs by integrity). */
  cache: string;
  /** Where each setting came from, for messages. */
  sources: string[];
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function checkRegistryUrl(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VouchError('CONFIG_INVALID', `${where}: registry ${JSON.stringify(url.slice(0, 100))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new VouchError('CONFIG_INVALID', `${where}: registry ${u.href} is not http(s)`);
  }
  if (u.username || u.password) {
    throw new VouchError('CONFIG_INVALID', `${where}: put credentials in _authToken, not in the registry URL`);
  }
  u.search = '';
  u.hash = '';
  return withSlash(u.href);
}

/** npm's `${VAR}` substitution in configuration values (@npmcli/config env-replace). */
function envReplace(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/(\\*)\$\{([^${}?]+)(\?)?\}/g, (whole, escapes: string, name: string, optional?: string) => {
    // An even number of backslashes leaves the reference live; an odd one escapes it.
    if (escapes.length % 2 === 1) return whole.slice((escapes.length + 1) / 2);
    const v = env[name];
    if (v === undefined && !optional) {
      throw new VouchError('CONFIG_INVALID', `${where}: \${${name}} is used but the variable is not set`);
    }
    return escapes.slice(escapes.length / 2) + (v ?? '');
  });
}

function readNpmrc(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_NPMRC_BYTES) throw new VouchError('CONFIG_INVALID', `${path} is larger than 1 MiB`);
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof VouchError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new VouchError('CONFIG_INVALID', `${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseIni(text) as Record<string, unknown>;
}

/**
 * The npm configuration that applies to `projectDir`. Later layers are weaker: a key set by the environment is not
 * overridden by a file.
 */
export function loadNpmConfig(projectDir: string, env: NodeJS.ProcessEnv = process.env): NpmConfig {
  const home = env.HOME ?? homedir();
  const layers: { where: string; values: Record<string, unknown> }[] = [];
  // Environment: npm_config_<key> in any case; `_` in the name stands for `-` (npm's convention).
  const fromEnv: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || !/^npm_config_/i.test(k)) continue;
    const key = k.slice('npm_config_'.length);
    const lower = key.toLowerCase();
    fromEnv[lower.startsWith('//') || lower.startsWith('@') ? key : lower.replace(/_/g, '-')] = v;
  }
  layers.push({ where: 'the environment', values: fromEnv });
  const project = join(projectDir, '.npmrc');
  const userconfig = (fromEnv.userconfig as string | undefined) ?? env.NPM_CONFIG_USERCONFIG ?? join(home, '.npmrc');
  const globalconfig = (fromEnv.globalconfig as string | undefined) ?? env.NPM_CONFIG_GLOBALCONFIG;
  for (const path of [project, userconfig, globalconfig]) {
    if (path === undefined) continue;
    const values = readNpmrc(path);
    if (values) layers.push({ where: path, values });
  }

  const config: NpmConfig = {
    registry: DEFAULT_REGISTRY,
    scopes: new Map(),
    credentials: new Map(),
    cache: join(home, '.npm'),
    sources: layers.map((l) => l.where),
  };
  const seen = new Set<string>();
  for (const { where, values } of layers) {
    for (const [rawKey, rawValue] of Object.entries(values)) {
      if (typeof rawValue !== 'string') continue; // sections and lists: nothing registry-related
      const key = envReplace(rawKey, env, where);
      if (seen.has(key)) continue;
      seen.add(key);
      const value = envReplace(rawValue, env, where);
      if (key === 'registry') config.registry = checkRegistryUrl(value, where);
      else if (key === 'cache') config.cache = value.startsWith('~/') ? join(home, value.slice(2)) : value;
      else if (/^@[^/:]+:registry$/.test(key))
        config.scopes.set(key.slice(0, -':registry'.length), checkRegistryUrl(value, where));
      else if (key.startsWith('//')) {
        const colon = key.lastIndexOf(':');
        if (colon < 2) continue;
        const prefix = withSlash(key.slice(0, colon));
        const setting = key.slice(colon + 1);
        const entry = config.credentials.get(prefix) ?? {};
        entry[setting] ??= value;
        config.credentials.set(prefix, entry);
      }
    }
  }
  return config;
}

/** The registry a package is fetched from: its scope's, else the default. */
export function registryFor(config: NpmConfig, name: string): string {
  if (name.startsWith('@')) {
    const scoped = config.scopes.get(name.slice(0, name.indexOf('/')));
    if (scoped) return scoped;
  }
  return config.registry;
}

/** `https://host:port/path/` -> `//host:port/path/`: how npm names a registry in credential keys. */
function nerfDart(url: URL): string {
  return `//${url.host}${url.pathname}`;
}

/**
 * The Authorization header for `url`, from the most specific credential key that is a prefix of it (npm-registry-
 * fetch's getAuth walks up the path the same way); none when no key matches.
 */
export function authorizationFor(config: NpmConfig, url: string): string | undefined {
  const u = new URL(url);
  const full = nerfDart(u);
  // From the request's folder up to the host: //host/a/b/, //host/a/, //host/.
  for (let end = full.lastIndexOf('/'); end > 1; end = full.lastIndexOf('/', end - 1)) {
    const c = config.credentials.get(full.slice(0, end + 1));
    if (!c) continue;
    if (c._authToken) return `Bearer ${c._authToken}`;
    if (c._auth) return `Basic ${c._auth}`;
    if (c.username && c._password) {
      const password = Buffer.from(c._password, 'base64').toString('utf8');
      return `Basic ${Buffer.from(`${c.username}:${password}`).toString('base64')}`;
    }
  }
  return undefined;
}
