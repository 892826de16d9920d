/**
 * `$VOUCH_HOME/config.json`: the user's defaults. Today one setting, the instance to sign with when `--instance`
 * is not given: `"embedded"` (the default), `"public-good"`, or the URL of a `vouch serve`. Parsed strictly (unknown
 * keys are errors, not silently ignored, so a typo cannot fall back to another instance).
 */
import { asObject, parseStrictJson } from '../core/json.ts';
import { readCappedSync } from '../core/read.ts';
import { isVouchError, VouchError } from '../errors.ts';
import { paths } from './home.ts';

export interface VouchConfig {
  instance?: string;
}

const MAX_CONFIG_BYTES = 64 * 1024;
const KEYS = new Set(['instance']);

export function readConfig(home: string): VouchConfig {
  const path = paths.config(home);
  let text: string;
  try {
    text = readCappedSync(path, { maxBytes: MAX_CONFIG_BYTES, code: 'CONFIG_INVALID' }).toString('utf8');
  } catch (e) {
    if (isVouchError(e, 'FILE_NOT_FOUND')) return {};
    if (isVouchError(e, 'CONFIG_INVALID')) throw e;
    throw new VouchError('CONFIG_INVALID', `cannot read ${path}`, { cause: e });
  }
  const obj = asObject(
    parseStrictJson(text, { code: 'CONFIG_INVALID', what: path, maxBytes: MAX_CONFIG_BYTES }),
    path,
    'CONFIG_INVALID',
  );
  for (const key of Object.keys(obj)) {
    if (!KEYS.has(key)) throw new VouchError('CONFIG_INVALID', `${path}: unknown setting "${key}"`);
  }
  const config: VouchConfig = {};
  if (obj.instance !== undefined) {
    if (typeof obj.instance !== 'string' || obj.instance === '') {
      throw new VouchError('CONFIG_INVALID', `${path}: "instance" must be a name or a URL`);
    }
    config.instance = obj.instance;
  }
  return config;
}
