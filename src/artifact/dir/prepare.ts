/**
 * One call for the sign workflow: walk a directory with the format's rules and build the statement to sign. The
 * bundle file, when it is written inside the tree, is excluded by a recorded rule, so re-signing never signs the
 * previous signature and verifying never reports it as added.
 */
import { basename, relative, resolve, sep } from 'node:path';
import type { DirectoryRules } from './manifest.ts';
import { buildStatement, type DirectoryFormat, defaultRules, type InTotoStatement } from './statement.ts';
import { type WalkOptions, type WalkResult, walkDirectory } from './walk.ts';

export interface DirectoryStatementOptions extends Omit<WalkOptions, 'mode'> {
  format?: DirectoryFormat;
  /** Overrides of the format's default rules (vouch: exclude `.git` names; model-signing: the `.git` path). */
  rules?: Partial<DirectoryRules>;
  /** Where the bundle will be written: excluded from the walk when it lies inside the tree. */
  bundlePath?: string;
  /** Subject name; default the directory's base name. */
  name?: string;
}

export interface PreparedDirectory {
  statement: InTotoStatement;
  manifest: WalkResult;
  /** `sha256:<hex>` of the subject (manifest digest or model-signing root digest). */
  digest: string;
}

export async function directoryStatement(
  root: string,
  options: DirectoryStatementOptions = {},
): Promise<PreparedDirectory> {
  const format = options.format ?? 'vouch';
  const rules: DirectoryRules = { ...defaultRules(format), ...options.rules };
  if (options.bundlePath) {
    const rel = relative(resolve(root), resolve(options.bundlePath));
    if (rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep)) {
      const posix = rel.split(sep).join('/');
      if (!rules.excludePaths.includes(posix)) rules.excludePaths = [...rules.excludePaths, posix];
    }
  }
  const { format: _f, rules: _r, bundlePath: _b, name: _n, ...walkOptions } = options;
  const manifest = await walkDirectory(root, rules, { ...walkOptions, mode: 'sign' });
  const statement = buildStatement(manifest, options.name ?? basename(resolve(root)), format);
  return { statement, manifest, digest: `sha256:${statement.subject[0]!.digest.sha256}` };
}
