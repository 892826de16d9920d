/**
 * Pin on first use: the strictest policy that known-good signatures meet. For a CI identity, the certificate names
 * the workflow *and the ref it ran for* (`.../release.yml@refs/tags/v1.4.2`): pinning that exactly would refuse
 * the next release, so the ref becomes a pattern (`refs/tags/v*` for a tag, the branch itself for a branch) while
 * everything that says *which* repository and workflow stays exact: issuer, source repository URI and its numeric
 * id, owner id (a repository deleted and recreated under the same name gets a new id), the workflow path, the
 * trigger and the runner. Anything else is exact as signed. Pure: the caller verified the signatures.
 */
import { VouchError } from '../errors.ts';
import type { VerificationResult } from '../verify/types.ts';
import { escapePattern, globSource, isLiteralGlob } from './match.ts';

type Signer = VerificationResult['signer'];

/** The document `vouch policy init` writes (before YAML), in the shape of docs/schemas/policy.schema.json. */
export interface PolicyDocument {
  apiVersion: 'vouch.dev/policy/v1';
  description?: string;
  signers: Record<string, Record<string, unknown>>;
  require: unknown;
  conditions?: Record<string, unknown>;
}

/** The extensions pinned exactly when present: they name the repository, owner, workflow, trigger and runner. */
const PINNED = [
  'sourceRepositoryURI',
  'sourceRepositoryIdentifier',
  'sourceRepositoryOwnerURI',
  'sourceRepositoryOwnerIdentifier',
  'buildTrigger',
  'runnerEnvironment',
] as const;

/** A ref as a pattern for the next releases: a tag `v1.4.2` as `refs/tags/v*`, any other tag as `refs/tags/*`. */
export function refPattern(ref: string): string {
  const tag = /^refs\/tags\/(.+)$/.exec(ref);
  if (!tag) return ref;
  return /^v\d/.test(tag[1]!) ? 'refs/tags/v*' : 'refs/tags/*';
}

/** `value` with its trailing `@ref` made a pattern: a glob when the rest has no wildcard character, else undefined. */
function withRefPattern(value: string, ref: string): unknown {
  if (!value.endsWith(`@${ref}`)) return value;
  const head = value.slice(0, -ref.length - 1);
  const pattern = refPattern(ref);
  if (pattern === ref) return value;
  return isLiteralGlob(head)
    ? { glob: `${head}@${pattern}` }
    : { regexp: `${escapePattern(head)}@${globSource(pattern)}` };
}

function signerEntry(s: Signer, keyPem: string | undefined): Record<string, unknown> {
  if (s.type === 'key') return keyPem ? { key: keyPem } : { fingerprint: `sha256:${s.fingerprint}` };
  const ext = s.extensions;
  const ref = ext.sourceRepositoryRef ?? ext.githubWorkflowRef;
  const out: Record<string, unknown> = {
    identity: ref ? withRefPattern(s.identity, ref) : s.identity,
    issuer: s.issuer,
  };
  const extensions: Record<string, unknown> = {};
  for (const name of PINNED) if (ext[name] !== undefined) extensions[name] = ext[name];
  if (ext.buildConfigURI !== undefined) {
    // The workflow file that defined the build: its path exact, its ref a pattern (as the identity's).
    extensions.buildConfigURI = ref ? withRefPattern(ext.buildConfigURI, ref) : ext.buildConfigURI;
  }
  if (ref !== undefined && ext.sourceRepositoryRef !== undefined) {
    const p = refPattern(ref);
    extensions.sourceRepositoryRef = p === ref ? ref : { glob: p };
  }
  if (Object.keys(extensions).length > 0) out.extensions = extensions;
  return out;
}

/** A readable signer name: the repository and workflow file, the e-mail's local part, or the key's fingerprint. */
function nameFor(s: Signer): string {
  let base: string;
  if (s.type === 'key') base = `key-${s.fingerprint.slice(0, 12)}`;
  else {
    const wf = /^https:\/\/[^/]+\/([^/]+)\/([^/]+)\/\.github\/workflows\/([^@]+?)(?:\.ya?ml)?@/.exec(s.identity);
    base = wf ? `${wf[2]}-${wf[3]}` : s.identity.replace(/^[a-z]+:\/\//, '').split(/[@/]/)[0]!;
  }
  const clean = base
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 48);
  return clean === '' ? 'signer' : clean;
}

function distinctKey(s: Signer): string {
  return s.type === 'key' ? `key:${s.fingerprint}` : `id:${s.issuer}\n${s.identity}`;
}

/**
 * The policy for the signers of `signatures` (one per distinct signer: a second signature of the same identity adds
 * nothing): one signer is required alone; several all together, or `threshold` of them.
 */
export function policyFromSignatures(
  signatures: { signer: Signer; keyPem?: string; source: string }[],
  options: { threshold?: number } = {},
): PolicyDocument {
  if (signatures.length === 0)
    throw new VouchError('USAGE', 'policy init needs at least one signature (--from BUNDLE)');
  const signers: PolicyDocument['signers'] = {};
  const seen = new Set<string>();
  const names: string[] = [];
  for (const s of signatures) {
    const key = distinctKey(s.signer);
    if (seen.has(key)) continue;
    seen.add(key);
    let name = nameFor(s.signer);
    for (let i = 2; name in signers; i++) name = `${nameFor(s.signer)}-${i}`;
    signers[name] = signerEntry(s.signer, s.keyPem);
    names.push(name);
  }
  const k = options.threshold;
  if (k !== undefined && (!Number.isSafeInteger(k) || k < 1 || k > names.length)) {
    throw new VouchError(
      'POLICY_INVALID',
      `--threshold ${k}: the signatures given come from ${names.length} distinct signer${names.length === 1 ? '' : 's'}`,
    );
  }
  const require =
    names.length === 1
      ? names[0]
      : k === undefined || k === names.length
        ? { allOf: names }
        : { threshold: k, of: names };
  return {
    apiVersion: 'vouch.dev/policy/v1',
    description: `Pinned by vouch policy init from ${signatures.map((s) => s.source).join(', ')}`,
    signers,
    require,
  };
}
