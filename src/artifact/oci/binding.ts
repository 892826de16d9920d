/**
 * What a signature binds an image to, both ways: the statement signed for an image (cosign v3 shape: an in-toto
 * Statement v1, one subject = the manifest digest, predicate type `https://sigstore.dev/cosign/sign/v1`, an empty
 * predicate; vouch also names the canonical repository as the subject's `name`, which cosign ignores), and the checks
 * that a verified statement, or a legacy simple-signing payload, covers this image and repository. These functions
 * check bindings only; the signature itself is verified before (src/workflow/verify-image.ts).
 */
import { IN_TOTO_STATEMENT_V1, type InTotoStatement, isInTotoStatementType } from '../../core/intoto.ts';
import { asArray, asObject, asString, parseStrictJson } from '../../core/json.ts';
import { VouchError } from '../../errors.ts';
import { parseReference, sameRepository } from './reference.ts';
import type { ResolvedImage } from './resolve.ts';

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
/** `critical.type` of a cosign simple-signing payload (the legacy `.sig` signatures). */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** The in-toto statement signed for an image (cosign v3 shape, plus the repository as the subject's name). */
export function buildImageStatement(image: Pick<ResolvedImage, 'repository' | 'digest'>): InTotoStatement {
  const [algorithm, hex] = image.digest.split(':') as [string, string];
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: image.repository, digest: { [algorithm]: hex } }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  };
}

export interface ImageCheckOptions {
  /**
   * Repositories besides the image's own whose signatures are accepted for the same digest (canonical names), or
   * 'any'. Default: only the image's repository. A signature whose statement names no repository (cosign's own
   * bundles) binds only the digest, and is accepted only with 'any'.
   */
  allowRepositories?: string[] | 'any';
  /** The predicate type required (default cosign's image-signature type). */
  predicateType?: string;
  /**
   * Verify a platform manifest through a signed index: the statement may name the index digest when this
   * (already resolved) index lists the image's digest.
   */
  viaIndex?: ResolvedImage;
}

export interface ImageCheckResult {
  repository: string | null;
  digest: string;
  /** Set when the signature covered the index that lists this image. */
  viaIndex?: string;
}

function checkRepository(named: string | null, image: ResolvedImage, options: ImageCheckOptions): void {
  const allow = options.allowRepositories;
  if (allow === 'any') return;
  if (named === null) {
    throw new VouchError('REPOSITORY_MISMATCH', 'the signature names no repository; it binds only the digest', {
      hint: 'Digest-only signatures (cosign) are accepted only with allowRepositories: "any" (CLI: --unsafe-allow-any-repository).',
    });
  }
  if (sameRepository(named, image.repository)) return;
  if (allow?.some((r) => sameRepository(r, named))) return;
  throw new VouchError('REPOSITORY_MISMATCH', `signed for ${named}, not ${image.repository}`);
}

/** The digest the signature must cover: the image's, or the listing index's with `viaIndex`. */
function expectedDigests(image: ResolvedImage, options: ImageCheckOptions): { digest: string; via?: string } {
  const via = options.viaIndex;
  if (!via) return { digest: image.digest };
  if (via.manifest.kind !== 'index') throw new VouchError('IMAGE_INVALID', 'viaIndex is not an index');
  if (!via.manifest.manifests.some((d) => d.digest === image.digest)) {
    throw new VouchError('IMAGE_MISMATCH', `index ${via.digest} does not list ${image.digest}`);
  }
  if (!sameRepository(via.repository, image.repository)) {
    throw new VouchError('REPOSITORY_MISMATCH', 'the index and the image are in different repositories');
  }
  return { digest: via.digest, via: via.digest };
}

/**
 * Check a verified in-toto statement against the image: type, predicate type, exactly one subject, its digest equal
 * to the image's (or the listing index's), and the repository binding. The statement must come from
 * `verify(...).statement.payload`; this function does not check signatures.
 */
export function checkImageStatement(
  statement: unknown,
  image: ResolvedImage,
  options: ImageCheckOptions = {},
): ImageCheckResult {
  const s = asObject(statement, 'statement', 'DSSE_INVALID');
  const type = asString(s._type, 'statement._type', 'DSSE_INVALID');
  if (!isInTotoStatementType(type)) {
    throw new VouchError('DSSE_INVALID', `statement type ${type.slice(0, 80)} is not in-toto`);
  }
  const predicateType = asString(s.predicateType, 'statement.predicateType', 'DSSE_INVALID');
  if (predicateType !== (options.predicateType ?? COSIGN_SIGN_PREDICATE)) {
    throw new VouchError('IMAGE_MISMATCH', `predicate type ${predicateType.slice(0, 80)} is not an image signature`);
  }
  const subjects = asArray(s.subject, 'statement.subject', 'DSSE_INVALID');
  // One subject: a statement listing several images would let a signature for one vouch for another.
  if (subjects.length !== 1)
    throw new VouchError('IMAGE_MISMATCH', `statement has ${subjects.length} subjects, expected 1`);
  const subject = asObject(subjects[0], 'statement.subject[0]', 'DSSE_INVALID');
  const digests = asObject(subject.digest, 'subject.digest', 'DSSE_INVALID');
  const { digest, via } = expectedDigests(image, options);
  const [algorithm, hex] = digest.split(':') as [string, string];
  if (digests[algorithm] !== hex) {
    throw new VouchError('IMAGE_MISMATCH', `the signature covers another image, not ${digest}`);
  }
  const name = subject.name === undefined ? null : asString(subject.name, 'subject.name', 'DSSE_INVALID');
  checkRepository(name, image, options);
  const result: ImageCheckResult = { repository: name, digest: image.digest };
  if (via) result.viaIndex = via;
  return result;
}

/**
 * Check a verified legacy simple-signing payload against the image (cosign's "critical" section): type, the
 * manifest digest and the docker-reference repository.
 */
export function checkSimpleSigning(
  payload: Buffer,
  image: ResolvedImage,
  options: ImageCheckOptions = {},
): ImageCheckResult {
  const p = asObject(
    parseStrictJson(payload.toString('utf8'), { maxBytes: 64 << 10, what: 'simple-signing payload' }),
    'payload',
  );
  const critical = asObject(p.critical, 'critical');
  if (critical.type !== SIMPLE_SIGNING_TYPE)
    throw new VouchError('IMAGE_MISMATCH', 'payload is not a cosign image signature');
  const signed = asString(
    asObject(critical.image, 'critical.image')['docker-manifest-digest'],
    'docker-manifest-digest',
  );
  const { digest, via } = expectedDigests(image, options);
  if (signed !== digest)
    throw new VouchError('IMAGE_MISMATCH', `the signature covers ${signed.slice(0, 80)}, not ${digest}`);
  const ref = asString(asObject(critical.identity, 'critical.identity')['docker-reference'], 'docker-reference');
  checkRepository(stripTagDigest(ref), image, options);
  const result: ImageCheckResult = { repository: ref, digest: image.digest };
  if (via) result.viaIndex = via;
  return result;
}

/** The repository of a docker-reference (cosign may write a tag or digest after it); unparsable stays as is. */
function stripTagDigest(ref: string): string {
  try {
    return parseReference(ref).name;
  } catch {
    return ref;
  }
}
