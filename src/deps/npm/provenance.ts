/**
 * npm attestations: what `GET <registry>/-/npm/v1/attestations/<name>@<version>` serves, verified with vouch's own
 * verifier (src/verify) and bound to the package. Two kinds exist (npm/cli libnpmpublish; npm docs "Generating
 * provenance statements"):
 *
 * - SLSA provenance (`https://slsa.dev/provenance/v1`, GitLab's `v0.2`), signed keyless by the build's CI identity:
 *   the Fulcio certificate names the source repository (URI and numeric ids), the workflow, ref and trigger;
 * - the npm publish attestation (`https://github.com/npm/attestation/tree/main/specs/publish/v0.1`), signed by the
 *   registry's own key (the DSSE keyid and the bundle's key hint name it).
 *
 * Both are DSSE in-toto statements whose subject is `pkg:npm/<name>@<version>` with the tarball's sha512. npm checks
 * that much and that the bundle is valid Sigstore material; it does not check *who* built the package. Here the
 * identity is read from the verified certificate, and the provenance must name the package's declared repository.
 */
import { asArray, asObject, canonicalJson, parseStrictJson } from '../../core/json.ts';
import { isVouchError, VouchError } from '../../errors.ts';
import { bundleFromJson } from '../../verify/bundle.ts';
import { buildPolicy } from '../../verify/policy.ts';
import type { TrustMaterial } from '../../verify/trust.ts';
import type { Policy, VerificationResult } from '../../verify/types.ts';
import { verify } from '../../verify/verifier.ts';
import type { Problem, PublisherIdentity } from '../types.ts';
import { keyValidAt, type RegistryKey } from './signatures.ts';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
export const NPM_PUBLISH_V01 = 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1';
/** A real attestations document is ~10 KiB; a package has two. */
export const MAX_ATTESTATIONS_BYTES = 8 << 20;
const MAX_ATTESTATIONS = 8;

export interface Attestation {
  predicateType: string;
  bundle: Record<string, unknown>;
}

/** Parse an attestations answer (strict JSON: duplicate keys would let npm and vouch read different bundles). */
export function parseAttestations(text: string): Attestation[] {
  const doc = asObject(
    parseStrictJson(text, { code: 'ATTESTATION_INVALID', what: 'attestations', maxBytes: MAX_ATTESTATIONS_BYTES }),
    'attestations',
    'ATTESTATION_INVALID',
  );
  const list = asArray(doc.attestations, 'attestations', 'ATTESTATION_INVALID');
  if (list.length > MAX_ATTESTATIONS) throw new VouchError('ATTESTATION_INVALID', 'too many attestations');
  return list.map((raw) => {
    const a = asObject(raw, 'attestation', 'ATTESTATION_INVALID');
    if (typeof a.predicateType !== 'string') throw new VouchError('ATTESTATION_INVALID', 'no predicateType');
    return { predicateType: a.predicateType, bundle: asObject(a.bundle, 'bundle', 'ATTESTATION_INVALID') };
  });
}

/** The purl npm puts in the subject: `pkg:npm/%40scope/name@1.0.0` (purl spec: the scope's `@` percent-encoded). */
export function npmPurl(name: string, version: string): string {
  const n = name.startsWith('@') ? `%40${name.slice(1)}` : name;
  return `pkg:npm/${n}@${version}`;
}

/**
 * A repository as package.json may write it (`github:o/r`, `o/r`, `git+https://github.com/o/r.git`,
 * `git@github.com:o/r.git`, `{ "url": ... }`) as `https://host/path`, lower-cased host, no `.git`; undefined when
 * it names no web repository. GitHub paths are owner/repo; other hosts keep their whole path (GitLab subgroups).
 */
export function normalizeRepository(repo: unknown): string | undefined {
  const given = typeof repo === 'string' ? repo : (repo as { url?: unknown } | null)?.url;
  if (typeof given !== 'string' || given.length === 0 || given.length > 2048) return undefined;
  let url = given.trim();
  const shorthand = /^(github|gitlab|bitbucket):([^/\s]+\/[^\s]+)$/.exec(url);
  if (shorthand) url = `https://${shorthand[1]}.${shorthand[1] === 'bitbucket' ? 'org' : 'com'}/${shorthand[2]}`;
  else if (/^[\w.-]+\/[\w.-]+$/.test(url)) url = `https://github.com/${url}`;
  const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)([^\s]+)$/.exec(url);
  if (scp && !/^[a-z+]+$/.test(scp[1]!)) url = `https://${scp[1]}/${scp[2]}`;
  url = url.replace(/^git\+/, '');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!['https:', 'http:', 'git:', 'ssh:'].includes(u.protocol) || u.hostname === '') return undefined;
  let path = u.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
  const host = u.hostname.toLowerCase();
  if (host === 'github.com') path = path.split('/').slice(0, 3).join('/');
  else path = path.split('/-/')[0]!;
  if (path.split('/').filter(Boolean).length < 2) return undefined;
  return `https://${host}${path}`;
}

export function sameRepository(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** The SLSA predicate's source repository and builder id (v1: GitHub Actions; v0.2: GitLab as npm writes it). */
function slsaSource(statement: Record<string, unknown>): { repository?: string; builder?: string } {
  const p = (statement.predicate ?? {}) as Record<string, unknown>;
  const get = (o: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
  const out: { repository?: string; builder?: string } = {};
  if (statement.predicateType === SLSA_PROVENANCE_V1) {
    const repo = normalizeRepository(get(p, 'buildDefinition', 'externalParameters', 'workflow', 'repository'));
    if (repo) out.repository = repo;
    const builder = get(p, 'runDetails', 'builder', 'id');
    if (typeof builder === 'string') out.builder = builder;
  } else {
    const uri = get(p, 'invocation', 'configSource', 'uri');
    const repo = typeof uri === 'string' ? normalizeRepository(uri.replace(/@[^@/]*$/, '')) : undefined;
    if (repo) out.repository = repo;
    const builder = get(p, 'builder', 'id');
    if (typeof builder === 'string') out.builder = builder;
  }
  return out;
}

/** The publisher identity a verified keyless result names (Fulcio extensions; the pre-2023 .1.2-.1.6 as fallback). */
export function identityOf(result: VerificationResult, builder?: string): PublisherIdentity {
  if (result.signer.type !== 'certificate') throw new VouchError('INTERNAL', 'identityOf: not a certificate signer');
  const x = result.signer.extensions;
  const repository = normalizeRepository(
    x.sourceRepositoryURI ?? (x.githubWorkflowRepository ? `https://github.com/${x.githubWorkflowRepository}` : ''),
  );
  const id: PublisherIdentity = { issuer: result.signer.issuer };
  if (repository) id.repository = repository;
  if (x.sourceRepositoryIdentifier) id.repositoryId = x.sourceRepositoryIdentifier;
  if (x.sourceRepositoryOwnerIdentifier) id.ownerId = x.sourceRepositoryOwnerIdentifier;
  const config = x.buildConfigURI ?? x.buildSignerURI;
  if (config && x.sourceRepositoryURI && config.startsWith(`${x.sourceRepositoryURI}/`)) {
    id.workflow = config
      .slice(x.sourceRepositoryURI.length + 1)
      .replace(/@[^@]*$/, '')
      .replace(/^\/+/, '');
  }
  const ref = x.sourceRepositoryRef ?? x.githubWorkflowRef;
  if (ref) id.ref = ref;
  const trigger = x.buildTrigger ?? x.githubWorkflowTrigger;
  if (trigger) id.trigger = trigger;
  if (builder) id.builder = builder;
  if (x.runnerEnvironment) id.runnerEnvironment = x.runnerEnvironment;
  return id;
}

/** Any keyless identity: the point here is to *read* who signed, then compare it with the lock and history. */
const ANY_IDENTITY: Policy = buildPolicy({ identities: [{ identityRegexp: '.+', issuerRegexp: '.+' }] });

export interface AttestationInput {
  name: string;
  version: string;
  /** The tarball's sha512 (verified against the lockfile and the registry's integrity). */
  sha512: Buffer;
  attestations: Attestation[];
  /** Registry keys; undefined when the registry publishes none. */
  keys: RegistryKey[] | undefined;
  trust: readonly TrustMaterial[];
  /** The package's declared repository, normalized. */
  declaredRepository?: string;
}

export interface AttestationOutcome {
  /** Verified SLSA provenance: who built it. */
  provenance?: PublisherIdentity;
  /** The provenance was built from the declared repository. */
  ownRepository?: boolean;
  publishAttestation?: 'verified' | 'unchecked';
  problems: Omit<Problem, 'package'>[];
}

/** Verify every attestation of a version; any failing one is a problem, never skipped because another passed. */
export function verifyAttestations(input: AttestationInput): AttestationOutcome {
  const out: AttestationOutcome = { problems: [] };
  const purl = npmPurl(input.name, input.version);
  const hex = input.sha512.toString('hex');
  // npm publishes one provenance and one publish attestation per version. A second one is refused rather than
  // chosen from: a registry could otherwise add a valid bundle from any repository for the same tarball (anyone
  // can sign any digest with their own CI identity) and let it stand beside, or replace, the real one.
  const seen = new Set<string>();
  for (const att of input.attestations) {
    const label = att.predicateType === NPM_PUBLISH_V01 ? 'publish attestation' : 'provenance';
    const kind =
      att.predicateType === NPM_PUBLISH_V01
        ? 'publish'
        : att.predicateType.startsWith('https://slsa.dev/provenance/')
          ? 'provenance'
          : att.predicateType;
    if (seen.has(kind)) {
      out.problems.push({
        code: 'ATTESTATION_INVALID',
        message: `the registry lists more than one ${label} attestation`,
      });
      delete out.provenance;
      delete out.ownRepository;
      break;
    }
    seen.add(kind);
    let result: VerificationResult;
    let keyed: RegistryKey | undefined;
    try {
      const bundle = bundleFromJson(att.bundle);
      let policy = ANY_IDENTITY;
      if (bundle.material.kind === 'publicKey') {
        const hint = bundle.material.hint;
        if (input.keys === undefined) {
          out.publishAttestation ??= 'unchecked';
          continue;
        }
        keyed = input.keys.find((k) => k.keyid === hint);
        if (!keyed) {
          out.problems.push({
            code: 'REGISTRY_KEY_UNKNOWN',
            message: `${label} signed with key ${JSON.stringify(String(hint).slice(0, 80))}, which the registry does not publish`,
          });
          continue;
        }
        policy = buildPolicy({ keys: [{ spki: keyed.spki }] });
      }
      result = verify(bundle, { kind: 'statement' }, policy, input.trust);
    } catch (e) {
      if (!isVouchError(e)) throw e;
      out.problems.push({ code: 'ATTESTATION_INVALID', message: `${label} does not verify: ${e.code}: ${e.message}` });
      continue;
    }
    const statement = (result.statement?.payload ?? {}) as Record<string, unknown>;
    if (statement.predicateType !== att.predicateType) {
      out.problems.push({
        code: 'ATTESTATION_INVALID',
        message: `the registry lists a ${att.predicateType.slice(0, 80)} attestation whose statement is ${String(statement.predicateType).slice(0, 80)}`,
      });
      continue;
    }
    const subjects = Array.isArray(statement.subject) ? (statement.subject as Record<string, unknown>[]) : [];
    const bound = subjects.some(
      (s) => s?.name === purl && (s.digest as Record<string, unknown> | undefined)?.sha512 === hex,
    );
    if (!bound) {
      const first = subjects[0];
      const named = typeof first?.name === 'string' ? first.name.slice(0, 120) : '?';
      out.problems.push({
        code: 'ATTESTATION_SUBJECT_MISMATCH',
        message: `${label} is for ${named}${named === purl ? ' with another tarball digest' : ''}, not ${purl} with this tarball`,
      });
      continue;
    }
    if (keyed) {
      // The publish attestation: the registry's key must have been valid when the log saw it (pacote does the same).
      const logged = result.tlogEntries.map((t) => Date.parse(t.integratedTime ?? '')).find((t) => !Number.isNaN(t));
      if (logged !== undefined && !keyValidAt(keyed, logged)) {
        out.problems.push({
          code: 'REGISTRY_KEY_EXPIRED',
          message: `publish attestation signed with key ${keyed.keyid}, which had expired (${keyed.expiresText}) when it was logged`,
        });
        continue;
      }
      const pred = (statement.predicate ?? {}) as Record<string, unknown>;
      if (pred.name !== input.name || pred.version !== input.version) {
        out.problems.push({
          code: 'ATTESTATION_SUBJECT_MISMATCH',
          message: `publish attestation names ${canonicalJson([pred.name, pred.version]).slice(0, 120)}`,
        });
        continue;
      }
      out.publishAttestation = 'verified';
      continue;
    }
    if (att.predicateType !== SLSA_PROVENANCE_V1 && att.predicateType !== SLSA_PROVENANCE_V02) continue;
    const source = slsaSource(statement);
    const identity = identityOf(result, source.builder);
    if (source.repository && identity.repository && !sameRepository(source.repository, identity.repository)) {
      out.problems.push({
        code: 'PROVENANCE_REPOSITORY_MISMATCH',
        message: `the provenance predicate names ${source.repository}, its certificate ${identity.repository}`,
      });
      continue;
    }
    out.provenance = identity;
    const built = identity.repository ?? source.repository;
    out.ownRepository = sameRepository(built, input.declaredRepository);
    if (!out.ownRepository) {
      out.problems.push({
        code: 'PROVENANCE_REPOSITORY_MISMATCH',
        message: `built from ${built ?? 'an unnamed repository'}, but the package declares ${input.declaredRepository ?? 'no repository'}`,
      });
    }
  }
  return out;
}
