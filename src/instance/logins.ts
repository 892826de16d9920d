/**
 * People's logins, kept per instance under `$VOUCH_HOME/logins/` until the ID token expires, so `vouch sign` after
 * `vouch login` needs no browser. One file per instance (named by a hash of the instance, written 0600 in a 0700
 * folder: an ID token lets whoever holds it get certificates in the person's name until it expires). A file that is
 * unreadable, malformed, for another instance or expired is ignored; `vouch logout` removes them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic.ts';
import { asObject, parseStrictJson } from '../core/json.ts';
import { readCappedSync } from '../core/read.ts';
import { decodeIdentityToken } from '../identity/token.ts';
import { paths } from './home.ts';

export interface StoredLogin {
  /** The instance the login is for (`public-good`, a URL). */
  instance: string;
  /** The OIDC issuer signed in at. */
  issuer: string;
  idToken: string;
  expiresAt: Date;
}

/** A token this close to expiry is not used: the CA must still find it valid when the request arrives. */
const MARGIN_MS = 60_000;
const MAX_FILE = 64 * 1024;

function fileFor(home: string, instance: string): string {
  const name = createHash('sha256').update(instance).digest('hex').slice(0, 32);
  return join(paths.logins(home), `${name}.json`);
}

export function saveLogin(home: string, login: StoredLogin): string {
  const file = fileFor(home, login.instance);
  const record = {
    instance: login.instance,
    issuer: login.issuer,
    expiresAt: login.expiresAt.toISOString(),
    idToken: login.idToken,
  };
  mkdirSync(paths.logins(home), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** The stored login of `instance` if it is still valid at `now` (with a minute to spare). */
export function loadLogin(home: string, instance: string, now: Date = new Date()): StoredLogin | undefined {
  let text: string;
  try {
    // Capped while read (src/core/read.ts): an oversize or endless file is no login.
    text = readCappedSync(fileFor(home, instance), { maxBytes: MAX_FILE, code: 'CONFIG_INVALID' }).toString('utf8');
  } catch {
    return undefined;
  }
  try {
    const o = asObject(parseStrictJson(text, { code: 'CONFIG_INVALID', what: 'login' }), 'login', 'CONFIG_INVALID');
    if (o.instance !== instance || typeof o.issuer !== 'string' || typeof o.idToken !== 'string') return undefined;
    // The token's own claims decide, not the file's note: a token whose exp passed is never sent.
    const claims = decodeIdentityToken(o.idToken, now);
    if (claims.issuer !== o.issuer || claims.expiresAt === undefined) return undefined;
    if (claims.expiresAt.getTime() - MARGIN_MS < now.getTime()) return undefined;
    return { instance, issuer: o.issuer, idToken: o.idToken, expiresAt: claims.expiresAt };
  } catch {
    return undefined;
  }
}

/** Remove the login of `instance`, or every login when none is named. Returns how many were removed. */
export function removeLogins(home: string, instance?: string): number {
  const dir = paths.logins(home);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return 0;
  }
  const target = instance === undefined ? undefined : fileFor(home, instance);
  let removed = 0;
  for (const n of names) {
    const file = join(dir, n);
    if (target !== undefined && file !== target) continue;
    rmSync(file, { force: true });
    removed++;
  }
  return removed;
}
