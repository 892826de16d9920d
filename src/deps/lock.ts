/**
 * `vouch-deps.lock.json`: per package name, the publisher identity seen when it was recorded (issuer, source
 * repository URI and numeric id, owner id, workflow path), or the trust level alone ("registry-signed only").
 * Committed beside the lockfile, it turns "who builds this package" into something a review sees change:
 * `vouch deps verify` fails when a package's identity changes, its provenance disappears or its level drops,
 * until `vouch deps lock --update NAME` accepts the change.
 *
 * Read as hostile input (it arrives in pull requests like the lockfile): strict JSON, a size cap, every field
 * checked. Written sorted, so a change is one readable diff hunk.
 */
import { writeFileAtomic } from '../core/atomic.ts';
import { asObject, parseStrictJson } from '../core/json.ts';
import { readCapped } from '../core/read.ts';
import { VouchError } from '../errors.ts';
import { type PublisherIdentity, TRUST_LEVELS, type TrustLevel } from './types.ts';

export const DEPS_LOCK_NAME = 'vouch-deps.lock.json';
const MAX_DEPS_LOCK_BYTES = 64 << 20;

/** The identity fields a lock records and compares; the rest of PublisherIdentity varies per release. */
export const LOCKED_IDENTITY_FIELDS = ['issuer', 'repository', 'repositoryId', 'ownerId', 'workflow'] as const;
export type LockedIdentity = Pick<PublisherIdentity, (typeof LOCKED_IDENTITY_FIELDS)[number]>;

export interface DepsLockEntry {
  level: TrustLevel;
  /** The version the entry was recorded from. */
  version: string;
  identity?: LockedIdentity;
}

export interface DepsLock {
  lockfileVersion: 1;
  packages: Record<string, DepsLockEntry>;
}

function bad(msg: string): never {
  throw new VouchError('LOCKFILE_INVALID', `${DEPS_LOCK_NAME}: ${msg}`);
}

export function lockedIdentity(id: PublisherIdentity): LockedIdentity {
  const out: LockedIdentity = { issuer: id.issuer };
  for (const f of LOCKED_IDENTITY_FIELDS) if (id[f] !== undefined) out[f] = id[f]!;
  return out;
}

export function parseDepsLock(text: string): DepsLock {
  const doc = asObject(
    parseStrictJson(text, { code: 'LOCKFILE_INVALID', what: DEPS_LOCK_NAME, maxBytes: MAX_DEPS_LOCK_BYTES }),
    DEPS_LOCK_NAME,
    'LOCKFILE_INVALID',
  );
  if (doc.lockfileVersion !== 1) bad('lockfileVersion must be 1');
  const packages = asObject(doc.packages, 'packages', 'LOCKFILE_INVALID');
  const out: DepsLock = { lockfileVersion: 1, packages: Object.create(null) as Record<string, DepsLockEntry> };
  for (const [name, raw] of Object.entries(packages)) {
    if (name.length === 0 || name.length > 214) bad(`invalid package name ${JSON.stringify(name.slice(0, 60))}`);
    const e = asObject(raw, name, 'LOCKFILE_INVALID');
    for (const k of Object.keys(e))
      if (!['level', 'version', 'identity'].includes(k)) bad(`${name}: unknown field ${k}`);
    if (!TRUST_LEVELS.includes(e.level as TrustLevel)) bad(`${name}: unknown level`);
    if (typeof e.version !== 'string' || e.version.length > 256) bad(`${name}: version must be a string`);
    const entry: DepsLockEntry = { level: e.level as TrustLevel, version: e.version };
    if (e.identity !== undefined) {
      const id = asObject(e.identity, `${name}.identity`, 'LOCKFILE_INVALID');
      const ident: Partial<LockedIdentity> = {};
      for (const [k, v] of Object.entries(id)) {
        if (!(LOCKED_IDENTITY_FIELDS as readonly string[]).includes(k)) bad(`${name}.identity: unknown field ${k}`);
        if (typeof v !== 'string' || v.length > 2048) bad(`${name}.identity.${k} must be a string`);
        ident[k as keyof LockedIdentity] = v;
      }
      if (ident.issuer === undefined) bad(`${name}.identity has no issuer`);
      entry.identity = ident as LockedIdentity;
    }
    if ((entry.level === 'provenance' || entry.level === 'trusted-publisher') !== (entry.identity !== undefined)) {
      bad(`${name}: an identity goes with, and only with, a provenance level`);
    }
    out.packages[name] = entry;
  }
  return out;
}

/** The lock at `path`, or undefined when there is none. */
export async function readDepsLock(path: string): Promise<DepsLock | undefined> {
  let buf: Buffer;
  try {
    buf = await readCapped(path, { maxBytes: MAX_DEPS_LOCK_BYTES, code: 'LOCKFILE_INVALID', what: DEPS_LOCK_NAME });
  } catch (e) {
    if (e instanceof VouchError && e.code === 'FILE_NOT_FOUND') return undefined;
    throw e;
  }
  return parseDepsLock(buf.toString('utf8'));
}

export function formatDepsLock(lock: DepsLock): string {
  const packages: Record<string, DepsLockEntry> = {};
  for (const name of Object.keys(lock.packages).sort()) {
    const e = lock.packages[name]!;
    packages[name] = {
      level: e.level,
      version: e.version,
      ...(e.identity ? { identity: lockedIdentity(e.identity as PublisherIdentity) } : {}),
    };
  }
  return `${JSON.stringify({ lockfileVersion: 1, packages }, null, 2)}\n`;
}

export function writeDepsLock(path: string, lock: DepsLock): void {
  writeFileAtomic(path, formatDepsLock(lock));
}

/** The identity fields on which two identities disagree (a field absent on either side is not compared). */
export function identityChanges(was: LockedIdentity, now: PublisherIdentity): string[] {
  const out: string[] = [];
  for (const f of LOCKED_IDENTITY_FIELDS) {
    const a = was[f];
    const b = now[f];
    if (a === undefined || b === undefined) continue;
    const same = f === 'repository' ? a.toLowerCase() === b.toLowerCase() : a === b;
    if (!same) out.push(f);
  }
  return out;
}

/** `github.com/o/r (repository id 12)`: how a report names an identity. */
export function describeIdentity(id: LockedIdentity | undefined): string {
  if (!id) return 'no provenance';
  const repo = id.repository?.replace(/^https:\/\//, '') ?? id.issuer;
  const ids = [id.repositoryId ? `repository id ${id.repositoryId}` : '', id.workflow ?? ''].filter(Boolean).join(', ');
  return ids ? `${repo} (${ids})` : repo;
}
