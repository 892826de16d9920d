/**
 * Dependency verification, ecosystem-neutral: what a lockfile locks, what a registry proves about each locked
 * package, and the report. One ecosystem module (src/deps/npm/) implements `Ecosystem`; the rest of src/deps/
 * (continuity lock, policy, report) works on these types only, so PyPI (PEP 740), Maven (`.sigstore.json`) or
 * RubyGems attestations can follow as modules of their own.
 */
import type { ErrorCode } from '../errors.ts';
import type { TrustMaterial } from '../verify/trust.ts';

/**
 * How strongly a version's publisher is evidenced, weakest first. `provenance`: a verified Sigstore attestation
 * names the build (repository, workflow). `trusted-publisher`: that, and the registry says the version was
 * published by OIDC trusted publishing rather than a token (an unsigned registry claim, npm `_npmUser`).
 * `registry-signed`: only the registry's signature over the tarball digest.
 */
export const TRUST_LEVELS = ['none', 'registry-signed', 'provenance', 'trusted-publisher'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

export function trustRank(level: TrustLevel): number {
  return TRUST_LEVELS.indexOf(level);
}

/** One package as a lockfile locks it. */
export interface LockedPackage {
  name: string;
  version: string;
  /** Subresource Integrity string from the lockfile (`sha512-...`), when it records one. */
  integrity?: string;
  /** The tarball URL the lockfile records. */
  resolved?: string;
  /** Where the package is installed, relative to the project (npm lockfiles name them; others are found). */
  paths: string[];
  /** The package runs install scripts (files it adds to its own folder are then expected). */
  hasInstallScript?: boolean;
}

/** A lockfile entry vouch does not verify against a registry (git, local folders, workspaces, remote tarballs). */
export interface SkippedPackage {
  name: string;
  reason: string;
}

export interface Lockfile {
  /** Which format: `package-lock` (v2/v3), `pnpm-lock` (v9), `yarn-lock` (v1). */
  format: string;
  path: string;
  packages: LockedPackage[];
  skipped: SkippedPackage[];
}

/**
 * Who built a version, as its verified provenance certificate says (Fulcio extensions). The numeric ids catch a
 * repository deleted and re-created under the same name, which the URI alone cannot.
 */
export interface PublisherIdentity {
  issuer: string;
  repository?: string;
  repositoryId?: string;
  ownerId?: string;
  /** The workflow file that built it, relative to the repository (`.github/workflows/release.yml`). */
  workflow?: string;
  /** Not part of the identity, reported and used by policy: the ref built, the trigger, the builder. */
  ref?: string;
  trigger?: string;
  builder?: string;
  runnerEnvironment?: string;
}

/** One problem found, with a stable code of ERROR_CODES. */
export interface Problem {
  code: ErrorCode;
  /** `name@version` */
  package: string;
  message: string;
  /** For INSTALLED_FILE_MISMATCH: the file, relative to the project. */
  file?: string;
  /** Set when a policy exception accepts the problem (it then no longer fails the run). */
  excepted?: { reason: string; expires: string };
}

/** What the registry proved about one locked version. */
export interface PackageEvidence {
  name: string;
  version: string;
  registry: string;
  /** ISO time the registry says the version was published (unsigned registry metadata). */
  publishedAt?: string;
  /** The tarball matched the lockfile (`ok`), did not (`mismatch`), or was not checked (no integrity to check). */
  integrity: 'ok' | 'mismatch' | 'unchecked';
  /** The installed copies matched the tarball; `absent` when nothing is installed. */
  installed: 'ok' | 'modified' | 'absent';
  /** `unchecked`: the registry publishes no keys (a mirror or proxy), so nothing could be verified. */
  signatures: 'verified' | 'invalid' | 'missing' | 'unchecked';
  /** `unavailable`: the registry claims provenance but serves no attestation (a mirror). */
  provenance: 'verified' | 'none' | 'invalid' | 'unavailable';
  level: TrustLevel;
  identity?: PublisherIdentity;
  /** The declared source repository (npm `repository`), normalized to an https URL. */
  declaredRepository?: string;
  /** The provenance was built from the declared repository. */
  ownRepository?: boolean;
}

/** Earlier-published versions of the same package, as far as they bear on this one. */
export interface PackageHistory {
  /** The strongest level an earlier version claims, and which version (registry metadata, unsigned). */
  strongest?: { version: string; level: TrustLevel };
  /** The latest earlier version with provenance, and its verified identity when its attestation verifies. */
  lastProvenance?: { version: string; identity?: PublisherIdentity };
}

export interface Examination {
  evidence: PackageEvidence;
  history: PackageHistory;
  problems: Problem[];
}

export interface EcosystemOptions {
  /** The project folder: its configuration (`.npmrc`) and `node_modules`. */
  projectDir: string;
  trust: readonly TrustMaterial[];
  cacheDir?: string;
  /** Largest number of packages examined at once. */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

/** A running verification against one ecosystem's registries. */
export interface EcosystemSession {
  examine(pkg: LockedPackage): Promise<Examination>;
  /** Requests made so far, and answers served from the cache. */
  stats(): { requests: number; cacheHits: number };
}

/** One ecosystem: its lockfiles and how it examines a locked package. */
export interface Ecosystem {
  readonly name: string;
  /** Lockfile names, in the order they are looked for in a project folder. */
  readonly lockfiles: readonly string[];
  readLockfile(path: string): Promise<Lockfile>;
  open(options: EcosystemOptions): EcosystemSession;
}

export interface DepsSummary {
  packages: number;
  integrityOk: number;
  registrySigned: number;
  /** Packages from registries that publish no signing keys. */
  signaturesUnchecked: number;
  withProvenance: number;
  fromOwnRepository: number;
  provenanceUnavailable: number;
  /** node_modules copies compared with their tarballs. */
  installedChecked: number;
  skipped: number;
}

/** The value `verifyDependencies` returns and `vouch deps verify --json` prints. */
export interface DepsReport {
  ok: boolean;
  /** What the CLI exits with: 0, 1 (a problem), 3 (a registry could not be reached or answered badly). */
  exitStatus: number;
  lockfile: { path: string; format: string };
  summary: DepsSummary;
  problems: Problem[];
  packages: PackageEvidence[];
  skipped: SkippedPackage[];
  /** Policy exceptions past their expiry date (they no longer apply). */
  expiredExceptions: { package: string; expires: string }[];
  requests: number;
  cacheHits: number;
}
