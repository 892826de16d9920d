/**
 * Registry credentials from the docker CLI configuration (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`): `credHelpers[registry]`, then `credsStore`, then the base64 `auths[registry].auth`.
 * Helpers are run as `docker-credential-<name> get` with the server name on stdin, the protocol docker-credential-helpers
 * defines; their output is parsed strictly and never logged.
 */
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decodeBase64 } from '../../core/encoding.ts';
import { asObject, parseStrictJson } from '../../core/json.ts';
import { readCappedSync } from '../../core/read.ts';
import { isVouchError, VouchError } from '../../errors.ts';

export type Credentials = { username: string; password: string } | { identityToken: string };

/** Docker Hub's historical key in config.json. */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

function keysFor(registry: string): string[] {
  if (registry === 'docker.io') return HUB_KEYS;
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

function runHelper(helper: string, server: string): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
    return Promise.reject(new VouchError('CONFIG_INVALID', `invalid credential helper name "${helper.slice(0, 40)}"`));
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      `docker-credential-${helper}`,
      ['get'],
      { timeout: 15_000, maxBuffer: 64 << 10 },
      (err, stdout) => {
        if (err) {
          // Helpers exit non-zero with "credentials not found" for unknown servers: that means anonymous access.
          if (/not found/i.test(String(stdout)) || (err as { code?: unknown }).code === 1) return resolve(undefined);
          return reject(
            new VouchError('CONFIG_INVALID', `credential helper docker-credential-${helper} failed`, { cause: err }),
          );
        }
        try {
          const o = asObject(
            parseStrictJson(stdout, { code: 'CONFIG_INVALID', what: 'helper output' }),
            'helper',
            'CONFIG_INVALID',
          );
          const user = typeof o.Username === 'string' ? o.Username : '';
          const secret = typeof o.Secret === 'string' ? o.Secret : '';
          if (secret === '') return resolve(undefined);
          resolve(user === '<token>' ? { identityToken: secret } : { username: user, password: secret });
        } catch (e) {
          reject(e);
        }
      },
    );
    child.stdin?.end(server);
  });
}

/** Credentials for `registry` (canonical name as in ImageReference.registry), or undefined for anonymous access. */
export async function dockerCredentials(
  registry: string,
  options: { configPath?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Credentials | undefined> {
  const path = options.configPath ?? dockerConfigPath(options.env);
  let text: string;
  try {
    text = readCappedSync(path, { maxBytes: 1 << 20, code: 'CONFIG_INVALID' }).toString('utf8');
  } catch (e) {
    // No docker configuration (or none readable): anonymous access. One that never ends is an error.
    if (isVouchError(e, 'CONFIG_INVALID')) throw e;
    return undefined;
  }
  const config = asObject(
    parseStrictJson(text, { code: 'CONFIG_INVALID', what: path, maxBytes: 1 << 20 }),
    path,
    'CONFIG_INVALID',
  );
  const keys = keysFor(registry);
  const helpers = config.credHelpers === undefined ? {} : asObject(config.credHelpers, 'credHelpers', 'CONFIG_INVALID');
  for (const k of keys) {
    const h = helpers[k];
    if (typeof h === 'string') return runHelper(h, k);
  }
  const auths = config.auths === undefined ? {} : asObject(config.auths, 'auths', 'CONFIG_INVALID');
  for (const k of keys) {
    const entry = auths[k];
    if (entry === undefined) continue;
    const e = asObject(entry, `auths["${k}"]`, 'CONFIG_INVALID');
    if (typeof e.identitytoken === 'string' && e.identitytoken !== '') return { identityToken: e.identitytoken };
    if (typeof e.auth === 'string' && e.auth !== '') {
      const decoded = decodeBase64(e.auth, `auths["${k}"].auth`, 'CONFIG_INVALID').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new VouchError('CONFIG_INVALID', `auths["${k}"].auth is not user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  if (typeof config.credsStore === 'string' && config.credsStore !== '') {
    return runHelper(config.credsStore, keys[0]!);
  }
  return undefined;
}
