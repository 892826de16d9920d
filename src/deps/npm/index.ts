/**
 * The npm ecosystem: lockfiles (./lockfile.ts), the user's registries and credentials (./config.ts), the registry
 * protocol (./registry.ts), registry signatures (./signatures.ts), attestations (./provenance.ts) and tarballs
 * (./tarball.ts), put together as one `Ecosystem` for src/deps/verify.ts.
 *
 * For each locked version: the registry's record of it (from the cache when seen before), the tarball checked
 * against the lockfile's and the registry's integrity (from npm's own cache when it holds it, else downloaded),
 * the installed copies checked against the tarball's files, the registry signatures, the attestations, and what
 * earlier-published versions of the package claimed (for the continuity checks).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readCapped } from '../../core/read.ts';
import { isVouchError, VouchError } from '../../errors.ts';
import { DepsCache } from '../cache.ts';
import type {
  Ecosystem,
  EcosystemOptions,
  EcosystemSession,
  Examination,
  LockedPackage,
  PackageEvidence,
  PackageHistory,
  Problem,
  PublisherIdentity,
  TrustLevel,
} from '../types.ts';
import { trustRank } from '../types.ts';
import { loadNpmConfig, type NpmConfig, registryFor } from './config.ts';
import { isVersion, NPM_LOCKFILES, parseSri, readNpmLockfile, sameIntegrity } from './lockfile.ts';
import { type Attestation, normalizeRepository, parseAttestations, verifyAttestations } from './provenance.ts';
import { RegistryClient } from './registry.ts';
import { checkRegistrySignatures, parseSignatures, type Signature } from './signatures.ts';
import { compareInstalled, MAX_TARBALL_BYTES, type TarballFile, tarballFiles } from './tarball.ts';

/** What the cache keeps of one published version: immutable registry data, nothing verified. */
export interface VersionRecord {
  time?: string;
  integrity?: string;
  shasum?: string;
  tarball?: string;
  signatures?: Signature[];
  hasAttestations: boolean;
  trustedPublisher: boolean;
  repository?: string;
  history: {
    strongest?: { version: string; level: TrustLevel };
    lastProvenance?: { version: string; integrity?: string };
  };
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** What a version claims in the packument (unsigned metadata; pnpm's and npm's trust-policy ranking). */
export function claimedLevel(manifest: Json): TrustLevel {
  const dist = obj(manifest.dist);
  const provenance = obj(obj(dist.attestations).provenance);
  const hasProvenance = Object.keys(provenance).length > 0;
  if (hasProvenance && Object.keys(obj(obj(manifest._npmUser).trustedPublisher)).length > 0) return 'trusted-publisher';
  if (hasProvenance) return 'provenance';
  if (Array.isArray(dist.signatures) && dist.signatures.length > 0) return 'registry-signed';
  return 'none';
}

const prerelease = (v: string) => /^[^+]*-/.test(v);

/** Extract one version's record, and what earlier-published versions (by publish time) claimed. */
export function versionRecord(packument: Json, version: string): VersionRecord | undefined {
  const versions = obj(packument.versions);
  if (!Object.hasOwn(versions, version)) return undefined;
  const m = obj(versions[version]);
  const dist = obj(m.dist);
  const time = obj(packument.time);
  const rec: VersionRecord = {
    hasAttestations: typeof obj(dist.attestations).url === 'string',
    trustedPublisher: Object.keys(obj(obj(m._npmUser).trustedPublisher)).length > 0,
    history: {},
  };
  const published = str(time[version]);
  if (published !== undefined && !Number.isNaN(Date.parse(published))) rec.time = published;
  if (str(dist.integrity)) rec.integrity = str(dist.integrity)!;
  if (str(dist.shasum)) rec.shasum = str(dist.shasum)!;
  if (str(dist.tarball)) rec.tarball = str(dist.tarball)!;
  const sigs = parseSignatures(dist.signatures);
  if (sigs) rec.signatures = sigs;
  const repo = normalizeRepository(m.repository);
  if (repo) rec.repository = repo;
  // Earlier = published before this one; a stable version is compared with stable ones only (pnpm does the
  // same: a prerelease channel may be built elsewhere).
  const at = rec.time ? Date.parse(rec.time) : undefined;
  if (at !== undefined) {
    let best: { version: string; level: TrustLevel; t: number } | undefined;
    let lastProv: { version: string; t: number; integrity?: string } | undefined;
    for (const [v, raw] of Object.entries(versions)) {
      if (v === version || !isVersion(v) || (!prerelease(version) && prerelease(v))) continue;
      const t = Date.parse(str(time[v]) ?? '');
      if (Number.isNaN(t) || t >= at) continue;
      const manifest = obj(raw);
      const level = claimedLevel(manifest);
      if (!best || trustRank(level) > trustRank(best.level) || (level === best.level && t > best.t)) {
        best = { version: v, level, t };
      }
      if (trustRank(level) >= trustRank('provenance') && (!lastProv || t > lastProv.t)) {
        lastProv = { version: v, t };
        const integrity = str(obj(manifest.dist).integrity);
        if (integrity) lastProv.integrity = integrity;
      }
    }
    if (best) rec.history.strongest = { version: best.version, level: best.level };
    if (lastProv) {
      rec.history.lastProvenance = { version: lastProv.version };
      if (lastProv.integrity) rec.history.lastProvenance.integrity = lastProv.integrity;
    }
  }
  return rec;
}

/** npm's `replace-registry-host` default: a lockfile's registry.npmjs.org URL is fetched from the configured registry. */
function tarballUrl(pkg: LockedPackage, rec: VersionRecord, registry: string): string | undefined {
  const url = pkg.resolved ?? rec.tarball;
  if (url === undefined) return undefined;
  for (const publicRegistry of ['https://registry.npmjs.org/', 'https://registry.yarnpkg.com/']) {
    if (url.startsWith(publicRegistry) && registry !== publicRegistry)
      return registry + url.slice(publicRegistry.length);
  }
  return url;
}

class NpmSession implements EcosystemSession {
  readonly #config: NpmConfig;
  readonly #client: RegistryClient;
  readonly #cache: DepsCache;
  readonly #options: EcosystemOptions;
  #installed: Promise<Map<string, string[]>> | undefined;
  readonly #records = new Map<string, Promise<VersionRecord | undefined>>();

  constructor(options: EcosystemOptions) {
    this.#options = options;
    this.#config = loadNpmConfig(options.projectDir, options.env);
    this.#client = new RegistryClient(this.#config, options.concurrency ?? 16);
    this.#cache = new DepsCache(options.cacheDir === undefined ? undefined : join(options.cacheDir, 'npm'));
  }

  stats() {
    return { requests: this.#client.requests, cacheHits: this.#cache.hits };
  }

  /** One version's record: from the cache, else from the packument (fetched once for all its versions). */
  #record(registry: string, name: string, version: string): Promise<VersionRecord | undefined> {
    const key = `${registry} ${name}@${version}`;
    let p = this.#records.get(key);
    if (!p) {
      p = (async () => {
        const cached = await this.#cache.get<VersionRecord>('versions', key);
        if (cached) return cached;
        const packument = await this.#client.packument(registry, name);
        if (!packument) return undefined;
        const rec = versionRecord(packument, version);
        if (rec) this.#cache.put('versions', key, rec);
        return rec;
      })();
      this.#records.set(key, p);
    }
    return p;
  }

  async #attestations(registry: string, name: string, version: string): Promise<Attestation[] | undefined> {
    const key = `${registry} ${name}@${version}`;
    let text = await this.#cache.get<string>('attestations', key);
    if (text === undefined) {
      text = await this.#client.attestations(registry, name, version);
      if (text === undefined) return undefined;
      parseAttestations(text); // only well-formed documents are kept
      this.#cache.put('attestations', key, text);
    }
    return parseAttestations(text);
  }

  /** Installed copies by name@version, found by walking node_modules (pnpm's `.pnpm` store included). */
  #installedCopies(): Promise<Map<string, string[]>> {
    this.#installed ??= (async () => {
      const found = new Map<string, string[]>();
      const root = this.#options.projectDir;
      const visit = async (nm: string, depth: number): Promise<void> => {
        if (depth > 32) return;
        const entries = await readdir(join(root, nm), { withFileTypes: true }).catch(() => []);
        for (const e of entries) {
          if (e.name === '.bin') continue;
          if (e.name === '.pnpm' && depth === 0) {
            for (const store of await readdir(join(root, nm, '.pnpm'), { withFileTypes: true }).catch(() => [])) {
              if (store.isDirectory()) await visit(`${nm}/.pnpm/${store.name}/node_modules`, depth + 1);
            }
            continue;
          }
          if (e.name.startsWith('@') && e.isDirectory()) {
            for (const s of await readdir(join(root, nm, e.name), { withFileTypes: true }).catch(() => [])) {
              if (s.isDirectory()) await this.#noteCopy(found, `${nm}/${e.name}/${s.name}`, visit, depth);
            }
          } else if (e.isDirectory()) await this.#noteCopy(found, `${nm}/${e.name}`, visit, depth);
        }
      };
      await visit('node_modules', 0);
      return found;
    })();
    return this.#installed;
  }

  async #noteCopy(
    found: Map<string, string[]>,
    dir: string,
    visit: (nm: string, depth: number) => Promise<void>,
    depth: number,
  ): Promise<void> {
    try {
      const m = JSON.parse(await readFile(join(this.#options.projectDir, dir, 'package.json'), 'utf8')) as Json;
      if (typeof m.name === 'string' && typeof m.version === 'string') {
        const key = `${m.name}@${m.version}`;
        found.set(key, [...(found.get(key) ?? []), dir]);
      }
    } catch {}
    await visit(`${dir}/node_modules`, depth + 1);
  }

  /**
   * The tarball's files by sha512, after checking the bytes against every integrity given. Bytes come from npm's
   * content-addressed cache when it has them, else from the registry. `needFiles` false: only the check.
   */
  async #tarball(
    pkg: LockedPackage,
    rec: VersionRecord,
    registry: string,
    needFiles: boolean,
    problem: (code: Problem['code'], message: string) => void,
  ): Promise<{ ok: boolean; files?: Map<string, TarballFile> }> {
    const integrities = [pkg.integrity, rec.integrity ?? (rec.shasum ? `sha1-${hexToB64(rec.shasum)}` : undefined)]
      .filter((s): s is string => s !== undefined)
      .map((s) => parseSri(s))
      .filter((s): s is Map<string, Buffer> => s !== undefined);
    const sha512 = integrities.map((s) => s.get('sha512')).find((d) => d !== undefined);
    if (integrities.length === 0) return { ok: false };
    const key = sha512?.toString('hex');
    if (key !== undefined) {
      const cached = await this.#cache.get<{ files?: Record<string, TarballFile> }>('tarballs', key);
      if (
        cached &&
        (cached.files || !needFiles) &&
        integrities.every((s) => !s.has('sha512') || s.get('sha512')!.equals(sha512!))
      ) {
        return { ok: true, ...(cached.files ? { files: new Map(Object.entries(cached.files)) } : {}) };
      }
    }
    let bytes = key === undefined ? undefined : await this.#fromNpmCache(key);
    if (!bytes) {
      const url = tarballUrl(pkg, rec, registry);
      if (url === undefined) return { ok: false };
      bytes = await this.#client.tarball(url, pkg.name);
    }
    for (const sri of integrities) {
      for (const [alg, want] of sri) {
        if (!createHash(alg).update(bytes).digest().equals(want)) {
          problem(
            'PACKAGE_INTEGRITY_MISMATCH',
            `the tarball's ${alg} is not the one locked (${alg}-${want.toString('base64').slice(0, 16)}...)`,
          );
          return { ok: false };
        }
      }
    }
    let files: Map<string, TarballFile> | undefined;
    if (needFiles) {
      try {
        files = await tarballFiles(bytes);
      } catch (e) {
        if (!isVouchError(e)) throw e;
        problem(e.code, e.message);
        return { ok: false };
      }
    }
    if (key !== undefined) this.#cache.put('tarballs', key, files ? { files: Object.fromEntries(files) } : {});
    return { ok: true, ...(files ? { files } : {}) };
  }

  /** npm's cacache keeps tarballs under content-v2/sha512/ab/cd/<rest of the hex digest>. */
  async #fromNpmCache(hex: string): Promise<Buffer | undefined> {
    const path = join(
      this.#config.cache,
      '_cacache',
      'content-v2',
      'sha512',
      hex.slice(0, 2),
      hex.slice(2, 4),
      hex.slice(4),
    );
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    try {
      const bytes = await readCapped(path, { maxBytes: MAX_TARBALL_BYTES, code: 'FILE_UNREADABLE' });
      return createHash('sha512').update(bytes).digest('hex') === hex ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  async examine(pkg: LockedPackage): Promise<Examination> {
    const id = `${pkg.name}@${pkg.version}`;
    const registry = registryFor(this.#config, pkg.name);
    const problems: Problem[] = [];
    const problem = (code: Problem['code'], message: string, file?: string) =>
      problems.push({ code, package: id, message, ...(file !== undefined ? { file } : {}) });
    const rec = await this.#record(registry, pkg.name, pkg.version);
    if (!rec) throw new VouchError('SERVICE_ERROR', `registry ${registry} does not have ${id}`);
    const evidence: PackageEvidence = {
      name: pkg.name,
      version: pkg.version,
      registry,
      integrity: 'unchecked',
      installed: 'absent',
      signatures: 'unchecked',
      provenance: 'none',
      level: 'none',
    };
    if (rec.time) evidence.publishedAt = rec.time;
    if (rec.repository) evidence.declaredRepository = rec.repository;

    // Integrity: the registry's record and the tarball itself against the lockfile.
    if (pkg.integrity !== undefined && rec.integrity !== undefined && !sameIntegrity(pkg.integrity, rec.integrity)) {
      problem(
        'PACKAGE_INTEGRITY_MISMATCH',
        `the registry records ${rec.integrity.slice(0, 24)}..., the lockfile ${pkg.integrity.slice(0, 24)}...`,
      );
      evidence.integrity = 'mismatch';
    }
    const copies = pkg.paths.length > 0 ? pkg.paths : ((await this.#installedCopies()).get(id) ?? []);
    const present: string[] = [];
    for (const c of copies) {
      if ((await stat(join(this.#options.projectDir, c)).catch(() => undefined))?.isDirectory()) present.push(c);
    }
    if (evidence.integrity !== 'mismatch') {
      const t = await this.#tarball(pkg, rec, registry, present.length > 0, problem);
      evidence.integrity = t.ok ? 'ok' : problems.length > 0 ? 'mismatch' : 'unchecked';
      if (t.files) {
        evidence.installed = 'ok';
        for (const copy of present) {
          const diff = await compareInstalled(join(this.#options.projectDir, copy), t.files);
          const added = pkg.hasInstallScript ? [] : diff.added;
          for (const f of diff.modified) problem('INSTALLED_FILE_MISMATCH', 'modified after install', `${copy}/${f}`);
          for (const f of diff.missing)
            problem('INSTALLED_FILE_MISMATCH', 'missing from the installed copy', `${copy}/${f}`);
          for (const f of added) problem('INSTALLED_FILE_MISMATCH', 'not in the tarball', `${copy}/${f}`);
          if (diff.modified.length + diff.missing.length + added.length > 0) evidence.installed = 'modified';
        }
      }
    }

    // Registry signatures over name@version:integrity.
    const keys = await this.#client.keys(registry);
    const verdict = checkRegistrySignatures({
      name: pkg.name,
      version: pkg.version,
      integrity: rec.integrity ?? '',
      signatures: rec.signatures,
      publishedAt: rec.time,
      keys,
    });
    evidence.signatures = verdict.status;
    if (verdict.status === 'invalid') problem(verdict.code, verdict.message);

    // Attestations, bound to the tarball digest the registry signs (dist.integrity).
    const sha512 = parseSri(rec.integrity ?? '')?.get('sha512');
    if (rec.hasAttestations && sha512) {
      const attestations = await this.#attestations(registry, pkg.name, pkg.version);
      if (attestations === undefined) evidence.provenance = 'unavailable';
      else {
        const outcome = verifyAttestations({
          name: pkg.name,
          version: pkg.version,
          sha512,
          attestations,
          keys,
          trust: this.#options.trust,
          ...(rec.repository ? { declaredRepository: rec.repository } : {}),
        });
        for (const p of outcome.problems) problem(p.code, p.message);
        const broken = outcome.problems.some((p) => p.code !== 'PROVENANCE_REPOSITORY_MISMATCH');
        if (outcome.provenance && !broken) {
          evidence.provenance = 'verified';
          evidence.identity = outcome.provenance;
          evidence.ownRepository = outcome.ownRepository === true;
        } else if (broken) evidence.provenance = 'invalid';
      }
    }
    evidence.level =
      evidence.provenance === 'verified'
        ? rec.trustedPublisher
          ? 'trusted-publisher'
          : 'provenance'
        : evidence.signatures === 'verified'
          ? 'registry-signed'
          : 'none';

    const history: PackageHistory = {};
    if (rec.history.strongest) history.strongest = rec.history.strongest;
    const last = rec.history.lastProvenance;
    if (last) {
      history.lastProvenance = { version: last.version };
      const identity = await this.#identityOf(registry, pkg.name, last.version, last.integrity, keys);
      if (identity) history.lastProvenance.identity = identity;
    }
    return { evidence, history, problems };
  }

  /** The verified provenance identity of an earlier version, when its attestations verify. */
  async #identityOf(
    registry: string,
    name: string,
    version: string,
    integrity: string | undefined,
    keys: Awaited<ReturnType<RegistryClient['keys']>>,
  ): Promise<PublisherIdentity | undefined> {
    const sha512 = parseSri(integrity ?? '')?.get('sha512');
    if (!sha512) return undefined;
    let attestations: Attestation[] | undefined;
    try {
      attestations = await this.#attestations(registry, name, version);
    } catch (e) {
      if (isVouchError(e) && e.category !== 'service') return undefined;
      throw e;
    }
    if (!attestations) return undefined;
    const outcome = verifyAttestations({ name, version, sha512, attestations, keys, trust: this.#options.trust });
    // Which repository the earlier version declared does not matter here: only who built it.
    const broken = outcome.problems.some((p) => p.code !== 'PROVENANCE_REPOSITORY_MISMATCH');
    return broken ? undefined : outcome.provenance;
  }
}

function hexToB64(hex: string): string {
  return /^[0-9a-f]{40}$/.test(hex) ? Buffer.from(hex, 'hex').toString('base64') : '';
}

export const npm: Ecosystem = {
  name: 'npm',
  lockfiles: NPM_LOCKFILES,
  readLockfile: readNpmLockfile,
  open: (options) => new NpmSession(options),
};
