/**
 * Container image references, parsed with the grammar of the distribution project's `reference` package (the one
 * docker, containerd, skopeo and cosign share), so a name means the same registry and repository here as there:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]          (a first component with ".", ":" or equal to "localhost")
 *   path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex
 *
 * Docker Hub names are normalised as docker does: no domain means `docker.io`, a one-component path on docker.io
 * gets `library/`, and `index.docker.io` is the same registry as `docker.io`. A tag is only a way to find a digest:
 * callers resolve it once and use the digest afterwards.
 */
import { VouchError } from '../../errors.ts';

/** A parsed reference. `registry` and `repository` are canonical; `name` is `registry/repository`. */
export interface ImageReference {
  registry: string;
  repository: string;
  name: string;
  tag?: string;
  digest?: string;
}

/** The distribution grammar caps the full name (domain and path) at 255 characters. */
const NAME_MAX = 255;
const DOCKER_HUB = 'docker.io';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** OCI image-spec descriptor digest grammar; registered algorithms are checked further by `parseDigest`. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const DIGEST_HEX = { sha256: 64, sha512: 128 } as const;

/** Validate a digest string: only sha256/sha512 with lowercase hex of the right length (OCI image-spec, digests). */
export function parseDigest(s: string, what = 'digest'): { algorithm: 'sha256' | 'sha512'; hex: string } {
  if (!DIGEST.test(s)) throw new VouchError('TARGET_INVALID', `${what} "${s.slice(0, 80)}" is not a digest`);
  const [algorithm, hex] = s.split(':') as [string, string];
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new VouchError('TARGET_INVALID', `${what} uses unsupported algorithm ${algorithm.slice(0, 20)}`);
  }
  if (hex.length !== DIGEST_HEX[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    throw new VouchError('TARGET_INVALID', `${what} must be ${DIGEST_HEX[algorithm]} lowercase hex digits`);
  }
  return { algorithm, hex };
}

export function parseReference(input: string): ImageReference {
  if (input.length === 0 || input.length > NAME_MAX + 1 + 128 + 1 + 7 + 128) {
    throw new VouchError('TARGET_INVALID', 'image reference is empty or too long');
  }
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    parseDigest(digest, 'image digest');
  }
  let tag: string | undefined;
  // A tag follows the last ":" only when no "/" comes after it; otherwise that ":" is a registry port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new VouchError('TARGET_INVALID', `invalid tag "${tag.slice(0, 140)}"`);
  }
  if (rest.length === 0 || rest.length > NAME_MAX) {
    throw new VouchError('TARGET_INVALID', `image name must be 1..${NAME_MAX} characters`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    if (!DOMAIN.test(first)) throw new VouchError('TARGET_INVALID', `invalid registry "${first.slice(0, 80)}"`);
    const port = /:([0-9]+)$/.exec(first);
    if (port && Number(port[1]) > 65535) throw new VouchError('TARGET_INVALID', 'registry port out of range');
    registry = first === 'index.docker.io' ? DOCKER_HUB : first.toLowerCase();
    parts.shift();
  }
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) {
      throw new VouchError('TARGET_INVALID', `invalid repository component "${p.slice(0, 80)}" (lowercase only)`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  const name = `${registry}/${repository}`;
  if (name.length > NAME_MAX) throw new VouchError('TARGET_INVALID', `image name is longer than ${NAME_MAX}`);
  const ref: ImageReference = { registry, repository, name };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The registry's API host: Docker Hub's API lives on registry-1.docker.io. */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Two repository names are the same when they parse to the same canonical name (docker.io/x == index.docker.io/library/x). */
export function sameRepository(a: string, b: string): boolean {
  try {
    return parseReference(a).name === parseReference(b).name;
  } catch {
    return false;
  }
}

export function formatReference(ref: ImageReference): string {
  return ref.name + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}
