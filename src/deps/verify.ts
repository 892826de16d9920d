/**
 * `verifyDependencies`: a lockfile in, the report out. The ecosystem examines every locked version (integrity,
 * installed files, registry signatures, attestations, what earlier versions claimed); then, ecosystem-neutral:
 *
 * 1. continuity against `vouch-deps.lock.json` (the identity recorded per package name) and against earlier-
 *    published versions of the same package, which catches the first compromised release before any lock exists:
 *    a package whose identity changed (PROVENANCE_IDENTITY_CHANGED), whose provenance disappeared
 *    (PROVENANCE_MISSING) or whose level dropped (TRUST_DOWNGRADE);
 * 2. the policy's `dependencies` section, then its exceptions.
 *
 * A registry that cannot be reached or answers badly is a problem of its packages with a service code (exit 3),
 * never a pass. The report is a value; printing it is the CLI's job.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ERROR_CODES, EXIT, isVouchError, VouchError } from '../errors.ts';
import { assetPath } from '../instance/assets.ts';
import { vouchHome } from '../instance/home.ts';
import { loadTrustedRoot, type TrustMaterial } from '../verify/trust.ts';
import { mapLimit } from './limit.ts';
import {
  DEPS_LOCK_NAME,
  type DepsLock,
  type DepsLockEntry,
  describeIdentity,
  identityChanges,
  lockedIdentity,
  readDepsLock,
  writeDepsLock,
} from './lock.ts';
import { npm } from './npm/index.ts';
import { applyExceptions, type DepsPolicy, evaluatePolicy } from './policy.ts';
import {
  type DepsReport,
  type Ecosystem,
  type Examination,
  type LockedPackage,
  type Lockfile,
  type PackageEvidence,
  type Problem,
  trustRank,
} from './types.ts';

/** The ecosystems vouch deps knows; a lockfile picks its ecosystem by name. */
export const ECOSYSTEMS: readonly Ecosystem[] = [npm];

export interface DepsOptions {
  /** Trusted roots for attestations; default the shipped public Sigstore root. */
  trust?: readonly TrustMaterial[];
  /** The `dependencies` policy section (parsed). */
  policy?: DepsPolicy;
  /** Require a verified registry signature on every package (as the policy's requireSignatures). */
  requireSignatures?: boolean;
  /** The identity lock; default `vouch-deps.lock.json` beside the lockfile, when it exists. `false`: none. */
  depsLock?: string | false;
  /** On-disk cache of immutable registry data; default `$VOUCH_HOME/cache/deps`; `false`: none. */
  cacheDir?: string | false;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  /** The time policy ages and exception expiries are judged at (default now). */
  now?: Date;
  onProgress?: (p: { done: number; total: number }) => void;
}

/** The trusted root shipped with vouch (public Sigstore, as npm uses). */
export function publicGoodTrust(): TrustMaterial[] {
  return [loadTrustedRoot(readFileSync(assetPath('public-good.trusted_root.json'), 'utf8'))];
}

/** Find the lockfile of a project folder (the first of each ecosystem's names that exists). */
export function findLockfile(dir: string): string {
  for (const eco of ECOSYSTEMS) {
    for (const name of eco.lockfiles) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  throw new VouchError('FILE_NOT_FOUND', `no lockfile in ${dir} (package-lock.json, pnpm-lock.yaml, yarn.lock)`);
}

function ecosystemOf(lockfilePath: string): Ecosystem {
  const name = basename(lockfilePath);
  const eco = ECOSYSTEMS.find((e) => e.lockfiles.includes(name));
  if (!eco)
    throw new VouchError(
      'USAGE',
      `${name}: not a lockfile vouch reads (${ECOSYSTEMS.map((e) => e.lockfiles.join(', ')).join('; ')})`,
    );
  return eco;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return join(vouchHome(env), 'cache', 'deps');
}

interface Examined {
  pkg: LockedPackage;
  exam?: Examination;
  /** A registry failure (service category) that kept the package from being examined. */
  failure?: VouchError;
}

/** Examine every locked package; a service failure is kept per package, anything else aborts. */
async function examineAll(lockfile: Lockfile, eco: Ecosystem, options: DepsOptions, trust: readonly TrustMaterial[]) {
  const env = options.env ?? process.env;
  const cache = options.cacheDir === false ? undefined : (options.cacheDir ?? defaultCacheDir(env));
  const concurrency = options.concurrency ?? 16;
  const session = eco.open({
    projectDir: dirname(resolve(lockfile.path)),
    trust,
    ...(cache !== undefined ? { cacheDir: cache } : {}),
    concurrency,
    env,
  });
  let done = 0;
  const total = lockfile.packages.length;
  const examined = await mapLimit(lockfile.packages, concurrency, async (pkg): Promise<Examined> => {
    try {
      return { pkg, exam: await session.examine(pkg) };
    } catch (e) {
      if (isVouchError(e) && e.category === 'service') return { pkg, failure: e };
      throw e;
    } finally {
      options.onProgress?.({ done: ++done, total });
    }
  });
  return { examined, stats: session.stats() };
}

/** Continuity of one version against the lock entry of its name and against earlier versions. */
function continuity(exam: Examination, entry: DepsLockEntry | undefined): Problem[] {
  const e = exam.evidence;
  const id = `${e.name}@${e.version}`;
  const out: Problem[] = [];
  const has = (code: Problem['code']) => out.some((p) => p.code === code);
  const problem = (code: Problem['code'], message: string) => {
    if (!has(code)) out.push({ code, package: id, message });
  };
  const provenanceTier = trustRank('provenance');
  // Provenance the registry could not serve (a mirror) is unknown, not absent; unchecked signatures likewise.
  const unknown = e.provenance === 'unavailable';
  const effective = (level: number) =>
    e.signatures === 'unchecked' && level <= trustRank('registry-signed') ? trustRank('registry-signed') : level;

  if (entry) {
    if (entry.identity && e.provenance === 'verified' && e.identity) {
      const changed = identityChanges(entry.identity, e.identity);
      if (changed.length > 0) {
        problem(
          'PROVENANCE_IDENTITY_CHANGED',
          `built by ${describeIdentity(lockedIdentity(e.identity))} (lock: ${describeIdentity(entry.identity)}; ${changed.join(', ')} changed)`,
        );
      }
    }
    if (trustRank(entry.level) >= provenanceTier && e.provenance !== 'verified') {
      problem(
        'PROVENANCE_MISSING',
        `the lock records provenance from ${describeIdentity(entry.identity)}; ${e.version} ${unknown ? 'has none the registry serves' : e.provenance === 'invalid' ? 'has none that verifies' : 'has none'}`,
      );
    } else if (!unknown && effective(trustRank(e.level)) < trustRank(entry.level)) {
      problem('TRUST_DOWNGRADE', `${e.level}, the lock records ${entry.level} (${entry.version})`);
    }
  }
  const h = exam.history;
  if (!unknown && h.lastProvenance?.identity && e.provenance === 'verified' && e.identity) {
    const changed = identityChanges(lockedIdentity(h.lastProvenance.identity), e.identity);
    if (changed.length > 0) {
      problem(
        'PROVENANCE_IDENTITY_CHANGED',
        `built by ${describeIdentity(lockedIdentity(e.identity))}; ${h.lastProvenance.version} was built by ${describeIdentity(lockedIdentity(h.lastProvenance.identity))}`,
      );
    }
  }
  if (!unknown && h.strongest) {
    if (trustRank(h.strongest.level) >= provenanceTier && e.provenance === 'none') {
      const from = h.lastProvenance?.identity
        ? ` from ${describeIdentity(lockedIdentity(h.lastProvenance.identity))}`
        : '';
      problem(
        'PROVENANCE_MISSING',
        `${h.lastProvenance?.version ?? h.strongest.version} had provenance${from}; ${e.version} has none`,
      );
    } else if (
      !has('PROVENANCE_MISSING') &&
      e.provenance !== 'invalid' &&
      effective(trustRank(e.level)) < trustRank(h.strongest.level) &&
      !(e.signatures === 'missing' && trustRank(h.strongest.level) <= trustRank('registry-signed'))
    ) {
      problem('TRUST_DOWNGRADE', `${e.level}; ${h.strongest.version} was ${h.strongest.level}`);
    }
  }
  return out;
}

function exitStatusOf(problems: Problem[]): number {
  const live = problems.filter((p) => !p.excepted);
  if (live.some((p) => ERROR_CODES[p.code][0] === 'verification')) return EXIT.verification;
  if (live.some((p) => ERROR_CODES[p.code][0] === 'service')) return EXIT.service;
  return live.length > 0 ? EXIT.verification : EXIT.ok;
}

interface Run {
  lockfile: Lockfile;
  examined: Examined[];
  stats: { requests: number; cacheHits: number };
}

async function run(lockfilePath: string, options: DepsOptions): Promise<Run> {
  const eco = ecosystemOf(lockfilePath);
  const lockfile = await eco.readLockfile(lockfilePath);
  const trust = options.trust ?? publicGoodTrust();
  const { examined, stats } = await examineAll(lockfile, eco, options, trust);
  return { lockfile, examined, stats };
}

function depsLockPath(lockfilePath: string, option: string | false | undefined): string | undefined {
  if (option === false) return undefined;
  return option ?? join(dirname(resolve(lockfilePath)), DEPS_LOCK_NAME);
}

function buildReport(r: Run, lock: DepsLock | undefined, options: DepsOptions): DepsReport {
  const now = options.now ?? new Date();
  const policy: DepsPolicy = { ...(options.policy ?? {}) };
  if (options.requireSignatures) policy.requireSignatures = true;
  const problems: Problem[] = [];
  const packages: PackageEvidence[] = [];
  for (const x of r.examined) {
    if (x.failure) {
      problems.push({ code: x.failure.code, package: `${x.pkg.name}@${x.pkg.version}`, message: x.failure.message });
      continue;
    }
    const exam = x.exam!;
    packages.push(exam.evidence);
    problems.push(...exam.problems);
    problems.push(...continuity(exam, lock?.packages[exam.evidence.name]));
    problems.push(...evaluatePolicy(exam.evidence, policy, now));
  }
  const expired = applyExceptions(problems, policy, now);
  const count = (f: (e: PackageEvidence) => boolean) => packages.filter(f).length;
  const exitStatus = exitStatusOf(problems);
  return {
    ok: exitStatus === EXIT.ok,
    exitStatus,
    lockfile: { path: r.lockfile.path, format: r.lockfile.format },
    summary: {
      packages: r.examined.length,
      integrityOk: count((e) => e.integrity === 'ok'),
      registrySigned: count((e) => e.signatures === 'verified'),
      signaturesUnchecked: count((e) => e.signatures === 'unchecked'),
      withProvenance: count((e) => e.provenance === 'verified'),
      fromOwnRepository: count((e) => e.provenance === 'verified' && e.ownRepository === true),
      provenanceUnavailable: count((e) => e.provenance === 'unavailable'),
      installedChecked: count((e) => e.installed !== 'absent'),
      skipped: r.lockfile.skipped.length,
    },
    problems,
    packages,
    skipped: r.lockfile.skipped,
    expiredExceptions: expired.map((x) => ({ package: x.package, expires: x.expires })),
    requests: r.stats.requests,
    cacheHits: r.stats.cacheHits,
  };
}

/**
 * Verify every dependency a lockfile locks (package-lock.json v2/v3, pnpm-lock.yaml v9, yarn.lock v1). Resolves to
 * the report whatever the verdict (`ok`, `exitStatus`, `problems`); rejects only when the lockfile, lock or
 * options are unusable.
 */
export async function verifyDependencies(lockfilePath: string, options: DepsOptions = {}): Promise<DepsReport> {
  const lockPath = depsLockPath(lockfilePath, options.depsLock);
  const lock = lockPath === undefined ? undefined : await readDepsLock(lockPath);
  const r = await run(lockfilePath, options);
  return buildReport(r, lock, options);
}

export interface LockOptions extends DepsOptions {
  /** Accept the current identity of these package names, replacing what the lock records. */
  update?: string[];
}

export interface LockResult {
  path: string;
  written: boolean;
  /** Names recorded for the first time, replaced by --update, kept, dropped (no longer locked). */
  added: string[];
  updated: string[];
  kept: string[];
  removed: string[];
  /** Names whose current identity differs from the lock (accept with --update NAME). */
  differing: string[];
  report: DepsReport;
}

/** The entry the current evidence makes for a name: its strongest verified version. */
function entryFor(versions: PackageEvidence[]): DepsLockEntry {
  const best = [...versions].sort(
    (a, b) =>
      trustRank(b.level) - trustRank(a.level) || Date.parse(b.publishedAt ?? '0') - Date.parse(a.publishedAt ?? '0'),
  )[0]!;
  const entry: DepsLockEntry = { level: best.level, version: best.version };
  if (best.identity && trustRank(best.level) >= trustRank('provenance')) entry.identity = lockedIdentity(best.identity);
  return entry;
}

/**
 * Write `vouch-deps.lock.json`: new names are recorded, names no longer locked dropped, recorded ones kept as they
 * are unless named in `update`. Nothing is written when a registry could not be reached (an identity that could
 * not be read must not be recorded as "registry-signed only").
 */
export async function lockDependencies(lockfilePath: string, options: LockOptions = {}): Promise<LockResult> {
  const path = depsLockPath(lockfilePath, options.depsLock) ?? join(dirname(resolve(lockfilePath)), DEPS_LOCK_NAME);
  const old = await readDepsLock(path);
  const r = await run(lockfilePath, options);
  const report = buildReport(r, old, options);
  const byName = new Map<string, PackageEvidence[]>();
  for (const e of report.packages) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
  const update = new Set(options.update ?? []);
  for (const name of update) {
    if (!byName.has(name))
      throw new VouchError('USAGE', `--update ${name}: the lockfile locks no package of that name`);
  }
  const result: LockResult = {
    path,
    written: false,
    added: [],
    updated: [],
    kept: [],
    removed: [],
    differing: [],
    report,
  };
  const next: DepsLock = { lockfileVersion: 1, packages: {} };
  for (const [name, versions] of [...byName].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const fresh = entryFor(versions);
    const was = old?.packages[name];
    if (!was) {
      next.packages[name] = fresh;
      result.added.push(name);
    } else if (update.has(name)) {
      next.packages[name] = fresh;
      result.updated.push(name);
    } else {
      next.packages[name] = was;
      result.kept.push(name);
      const differs =
        fresh.level !== was.level ||
        (fresh.identity !== undefined &&
          was.identity !== undefined &&
          identityChanges(was.identity, fresh.identity).length > 0);
      if (differs) result.differing.push(name);
    }
  }
  for (const name of Object.keys(old?.packages ?? {})) if (!byName.has(name)) result.removed.push(name);
  if (report.problems.some((p) => !p.excepted && ERROR_CODES[p.code][0] === 'service')) return result;
  writeDepsLock(path, next);
  result.written = true;
  return result;
}
