/**
 * VOUCH_HOME: where vouch keeps its state (embedded instance keys and logs, trust store, config). It follows the
 * XDG base directory spec: $VOUCH_HOME, else $XDG_DATA_HOME/vouch, else ~/.local/share/vouch.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

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

/**
 * Write a file under VOUCH_HOME through a temporary file and a rename, so a crash never leaves a half-written root
 * or login that a later run would read. Folders are created private (0700); `mode` 0600 for secrets.
 */
export function writeAtomic(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
