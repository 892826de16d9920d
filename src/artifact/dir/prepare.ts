/**
 * One call for the sign workflow: walk a directory with the format's rules and build the statement to sign, with
 * the manifest embedded or spilled to a temporary file beside the bundle (`commit` moves it into place once the
 * signature exists). The bundle and manifest files, when they are written inside the tree, are excluded by a
 * recorded rule (`signatureFiles`), so re-signing never signs the previous signature and verifying never reports it.
 */
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { VouchError } from '../../errors.ts';
import { writeManifest } from './lines.ts';
import type { DirectoryRules } from './manifest.ts';
import { type PeCheckRecord, signingPeCheck } from './pe.ts';
import {
  type DirectoryFormat,
  defaultRules,
  type InTotoStatement,
  modelSigningStatement,
  vouchStatement,
} from './statement.ts';
import { type WalkOptions, type WalkResult, walkDirectory } from './walk.ts';

export interface DirectoryStatementOptions extends Omit<WalkOptions, 'mode' | 'ownFiles'> {
  format?: DirectoryFormat;
  /** Overrides of the format's default rules (vouch: exclude `.git` names; model-signing: the `.git` path). */
  rules?: Partial<DirectoryRules>;
  /** Where the bundle will be written (default: beside the directory, `DIR.sigstore.json`). */
  bundlePath?: string;
  /** Where a manifest too large to embed goes (default: manifestPathFor(bundlePath)). */
  manifestPath?: string;
  /** Subject name; default the directory's base name. */
  name?: string;
  /** PE files (paths in the tree) signed despite a refusing anomaly of the PE check, recorded in the statement. */
  allowPeAnomaly?: string[];
}

export interface PreparedDirectory {
  statement: InTotoStatement;
  walk: WalkResult;
  /** What the PE check found (recorded in vouch-format statements; model-signing has no place for it). */
  peCheck: PeCheckRecord;
  /** `sha256:<hex>` of the subject (manifest digest or model-signing root digest). */
  digest: string;
  /** Where the manifest file goes once signed; undefined when it is embedded (or the format has none). */
  manifestPath?: string;
  /** Put the manifest file in place (or remove a stale one beside an embedded signature), once signed. */
  commit(): Promise<void>;
  /** Remove the temporary manifest file (signing failed). */
  discard(): Promise<void>;
}

/** The detached manifest beside a bundle: `DIR.sigstore.json` -> `DIR.manifest.jsonl`. */
export function manifestPathFor(bundlePath: string): string {
  return `${bundlePath.replace(/(\.sigstore)?\.json$/, '')}.manifest.jsonl`;
}

/** `file`'s path relative to the real `root`, when it lies inside the tree. */
function inTree(rootReal: string, file: string): string | undefined {
  let dir: string;
  try {
    dir = realpathSync(dirname(resolve(file)));
  } catch {
    return undefined;
  }
  const rel = relative(rootReal, join(dir, basename(file)));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

export async function directoryStatement(
  root: string,
  options: DirectoryStatementOptions = {},
): Promise<PreparedDirectory> {
  const format = options.format ?? 'vouch';
  const bundlePath = options.bundlePath ?? `${resolve(root)}.sigstore.json`;
  const manifestPath = options.manifestPath ?? manifestPathFor(bundlePath);
  const rules: DirectoryRules = { ...defaultRules(format), ...options.rules };
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
  } catch {
    rootReal = resolve(root);
  }
  const own = [bundlePath, ...(format === 'vouch' ? [manifestPath] : [])]
    .map((f) => inTree(rootReal, f))
    .filter((p): p is string => p !== undefined);
  rules.signatureFiles = [...new Set([...rules.signatureFiles, ...own])];
  const { format: _f, rules: _r, bundlePath: _b, manifestPath: _m, name: _n, allowPeAnomaly, ...walkOptions } = options;
  if (format === 'model-signing' && allowPeAnomaly?.length) {
    throw new VouchError('USAGE', '--allow-pe-anomaly: the model-signing format has no place to record the exception');
  }
  const walk = await walkDirectory(root, rules, { ...walkOptions, mode: 'sign' });
  // Sign walks always run the PE check (walk.pe is there); its record goes into the statement.
  const peCheck = await signingPeCheck(root, walk.pe!, allowPeAnomaly ?? []);
  const name = options.name ?? basename(rootReal);
  if (format === 'model-signing') {
    const statement = modelSigningStatement(walk.entries, walk.rules, name);
    const done = async () => {};
    return {
      statement,
      walk,
      peCheck,
      digest: `sha256:${statement.subject[0]!.digest.sha256}`,
      commit: done,
      discard: done,
    };
  }
  const spill = join(dirname(manifestPath), `.${basename(manifestPath)}.${randomBytes(6).toString('hex')}.tmp`);
  const manifest = await writeManifest(walk.entries.lines(), spill);
  const statement = vouchStatement(name, walk.rules, walk.entries.counts(), manifest, peCheck);
  return {
    statement,
    walk,
    peCheck,
    digest: `sha256:${manifest.sha256.toString('hex')}`,
    ...(manifest.file && { manifestPath }),
    // An embedded manifest makes any file at the manifest's place a stale one: it would contradict the signature.
    commit: async () => (manifest.file ? rename(manifest.file, manifestPath) : rm(manifestPath, { force: true })),
    discard: async () => {
      if (manifest.file) await rm(manifest.file, { force: true });
    },
  };
}
