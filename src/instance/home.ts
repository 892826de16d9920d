/**
 * VOUCH_HOME: where vouch keeps its state (embedded instance keys and logs, trust store, config). It follows the
 * XDG base directory spec: $VOUCH_HOME, else $XDG_DATA_HOME/vouch, else ~/.local/share/vouch.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export function vouchHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VOUCH_HOME) return resolve(env.VOUCH_HOME);
  // XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
  if (env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME)) return join(env.XDG_DATA_HOME, 'vouch');
  return join(homedir(), '.local', 'share', 'vouch');
}

export const paths = {
  config: (home: string) => join(home, 'config.json'),
  embedded: (home: string) => join(home, 'embedded'),
  trust: (home: string) => join(home, 'trust'),
  logins: (home: string) => join(home, 'logins'),
};
