/**
 * The PE check of a directory (issue 15): the 3CX release shipped a DLL with a payload hidden inside its still
 * valid Authenticode signature, and a whole-tree signature would have vouched for it. The hashing threads run the
 * structural check of src/artifact/pe on every file that starts with "MZ" (src/artifact/dir/hash-loop.ts); here the
 * files they flagged are looked at again with the same check single files get (`enforcePe`), so a refusal has the
 * same code and offsets as `vouch sign FILE`, and an explicit exception (`--allow-pe-anomaly PATH`) is recorded in
 * the signed statement (`peCheck`, docs/formats/directory-manifest.md). `verify --pe-strict` runs the full check
 * (with the Authenticode signature and, given roots, its chain) on every PE file of a verified tree.
 */
import { join } from 'node:path';
import { thousands } from '../../core/encoding.ts';
import { asArray, asObject, asString } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { PE_ANOMALIES, type PeAnomalyCode } from '../pe/check.ts';
import { assertCanonicalPath, comparePaths, DEFAULT_LIMITS, type DirectoryLimits } from './paths.ts';
import type { TreePe } from './walk.ts';

/** The check's version in a signature: 1 is the structural check of src/artifact/pe/check.ts. */
export const PE_CHECK_VERSION = 1;

/** A PE file signed despite a refusing anomaly, and the anomaly's code. */
export interface PeException {
  path: string;
  code: string;
}

/** What a signature records: that the check ran, on how many PE files, and every exception made. */
export interface PeCheckRecord {
  version: number;
  files: number;
  allowed: PeException[];
}

/** `--allow-pe-anomaly` paths of a directory: relative to its root, as the manifest spells them. */
function allowedPaths(list: readonly string[]): Set<string> {
  return new Set(list.map((p) => assertCanonicalPath(p.replace(/^\.\//, ''), '--allow-pe-anomaly', 'USAGE')));
}

function sorted(paths: readonly string[]): string[] {
  return [...paths].sort(comparePaths);
}

/**
 * Before signing: every flagged file refused with its anomaly's code (PE_SIGNATURE_PADDING for the 3CX trick),
 * unless allowed; an allowance that matches no such file is a usage error (a stale exception must not be signed).
 */
export async function signingPeCheck(root: string, pe: TreePe, allow: readonly string[]): Promise<PeCheckRecord> {
  const allowed = allowedPaths(allow);
  for (const path of allowed) {
    if (!pe.flagged.includes(path)) {
      throw new VouchError('USAGE', `--allow-pe-anomaly ${path}: no PE file with an anomaly at that path of the tree`);
    }
  }
  const { enforcePe } = await import('../pe/index.ts');
  const exceptions: PeException[] = [];
  for (const path of sorted(pe.flagged)) {
    const record = await enforcePe(join(root, path), { allow: allowed.has(path) });
    if (!record?.allowed) {
      // Flagged while hashed, clean now: the file changed while the tree was read.
      throw new VouchError('DIRECTORY_UNSUPPORTED', `${JSON.stringify(path)}: changed while the directory was read`);
    }
    exceptions.push({ path, code: record.allowed });
  }
  return { version: PE_CHECK_VERSION, files: pe.files.length, allowed: exceptions };
}

/** What `verify --pe-strict` found in a verified tree: the PE files checked now, and the verifier's exceptions. */
export interface PeStrictResult {
  files: number;
  allowed: PeException[];
}

/** `verify --pe-strict` on a verified tree: the full check on each PE file, as for a single file. */
export async function strictPeCheck(
  root: string,
  pe: TreePe,
  o: { roots?: Buffer[]; allow?: readonly string[] },
): Promise<PeStrictResult> {
  const allowed = allowedPaths(o.allow ?? []);
  for (const path of allowed) {
    if (!pe.files.includes(path))
      throw new VouchError('USAGE', `--allow-pe-anomaly ${path} names no PE file of the tree`);
  }
  const { enforcePe } = await import('../pe/index.ts');
  const exceptions: PeException[] = [];
  for (const path of sorted(pe.files)) {
    const record = await enforcePe(join(root, path), { allow: allowed.has(path), ...(o.roots && { roots: o.roots }) });
    if (record?.allowed) exceptions.push({ path, code: record.allowed });
  }
  return { files: pe.files.length, allowed: exceptions };
}

function bad(message: string): VouchError {
  return new VouchError('MANIFEST_INVALID', message);
}

/** A statement's `peCheck`, strictly: exact members, a refusing anomaly code per exception, paths sorted. */
export function parsePeCheck(v: unknown, limits: DirectoryLimits = DEFAULT_LIMITS): PeCheckRecord {
  const o = asObject(v, 'predicate.peCheck', 'MANIFEST_INVALID');
  for (const k of Object.keys(o)) {
    if (k !== 'version' && k !== 'files' && k !== 'allowed')
      throw bad(`peCheck has an unknown member "${k.slice(0, 64)}"`);
  }
  if (o.version !== PE_CHECK_VERSION) {
    throw new VouchError('BUNDLE_UNSUPPORTED', `PE check version ${String(o.version).slice(0, 20)}`);
  }
  const files = o.files;
  if (typeof files !== 'number' || !Number.isSafeInteger(files) || files < 0 || files > limits.maxEntries) {
    throw bad('peCheck.files must be a count');
  }
  const list = asArray(o.allowed, 'peCheck.allowed', 'MANIFEST_INVALID');
  if (list.length > files) throw bad('peCheck allows more files than it checked');
  const allowed = list.map((e): PeException => {
    const x = asObject(e, 'peCheck exception', 'MANIFEST_INVALID');
    if (Object.keys(x).length !== 2) throw bad('a peCheck exception has exactly a path and a code');
    const path = assertCanonicalPath(x.path, 'peCheck exception path', 'MANIFEST_INVALID', limits);
    const code = asString(x.code, 'peCheck exception code', 'MANIFEST_INVALID');
    if (!Object.hasOwn(PE_ANOMALIES, code) || PE_ANOMALIES[code as PeAnomalyCode][0] !== 'refuse') {
      throw bad(
        `peCheck exception ${JSON.stringify(path)}: ${JSON.stringify(code.slice(0, 64))} is no refusing anomaly`,
      );
    }
    return { path, code };
  });
  for (let i = 1; i < allowed.length; i++) {
    if (comparePaths(allowed[i - 1]!.path, allowed[i]!.path) >= 0)
      throw bad('peCheck exceptions are not sorted and unique');
  }
  return { version: PE_CHECK_VERSION, files, allowed };
}

/** "2 PE files checked, 1 allowed: lib/tagged.exe (PE_OVERLAY)", paths escaped for a terminal. */
export function describePeCheck(r: { files: number; allowed: readonly PeException[] }): string {
  const esc = (t: string) => JSON.stringify(t).slice(1, -1);
  const files = `${thousands(r.files)} PE ${r.files === 1 ? 'file' : 'files'} checked`;
  if (r.allowed.length === 0) return `${files}, no exception`;
  return `${files}, ${r.allowed.length} allowed: ${r.allowed.map((e) => `${esc(e.path)} (${e.code})`).join(', ')}`;
}
