/**
 * What the user asked to sign or verify, as a tagged union. A bare path is classified by what is on disk; a scheme
 * prefix says it explicitly. New kinds are added here and every `switch (target.kind)` then fails to compile until
 * it handles them.
 */
import { lstatSync } from 'node:fs';
import { VouchError } from '../errors.ts';

export type Target =
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  | { kind: 'digest'; algorithm: 'sha256' | 'sha384' | 'sha512'; value: Buffer }
  | { kind: 'dir'; path: string }
  | { kind: 'oci'; reference: string }
  | { kind: 'oci-layout'; path: string }
  | { kind: 'oci-archive'; path: string }
  | { kind: 'docker-archive'; path: string };

export type TargetKind = Target['kind'];

const DIGEST = /^(sha256|sha384|sha512):([0-9a-f]+)$/;
const DIGEST_LEN = { sha256: 64, sha384: 96, sha512: 128 } as const;
const SCHEME = /^([a-z][a-z0-9-]*):(.*)$/s;

/** Parse a target string. Does not touch the disk except to classify a bare path. */
export function parseTarget(input: string): Target {
  if (input === '') throw new VouchError('TARGET_INVALID', 'empty target');
  if (input === '-') return { kind: 'stdin' };
  const digest = DIGEST.exec(input);
  if (digest) {
    const algorithm = digest[1] as keyof typeof DIGEST_LEN;
    if (digest[2]!.length !== DIGEST_LEN[algorithm]) {
      throw new VouchError('TARGET_INVALID', `${algorithm} digest must have ${DIGEST_LEN[algorithm]} hex digits`);
    }
    return { kind: 'digest', algorithm, value: Buffer.from(digest[2]!, 'hex') };
  }
  const m = SCHEME.exec(input);
  // A one-letter "scheme" is a Windows drive (C:\...), and a path may legitimately contain a colon later on.
  if (m && m[1]!.length > 1 && !input.startsWith('./')) {
    const [, scheme, rest] = m as unknown as [string, string, string];
    if (rest === '') throw new VouchError('TARGET_INVALID', `${scheme}: needs a value`);
    switch (scheme) {
      case 'file':
        return { kind: 'file', path: rest };
      case 'dir':
        return { kind: 'dir', path: rest };
      case 'oci':
        return { kind: 'oci', reference: rest };
      case 'oci-layout':
        return { kind: 'oci-layout', path: rest };
      case 'oci-archive':
        return { kind: 'oci-archive', path: rest };
      case 'docker-archive':
        return { kind: 'docker-archive', path: rest };
      default:
        if (!existsAsPath(input)) {
          throw new VouchError('TARGET_UNSUPPORTED', `unknown target scheme "${scheme}:"`);
        }
    }
  }
  return classifyPath(input);
}

function existsAsPath(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** A bare path: a directory is a `dir` target, anything else a `file` (whose absence is reported when read). */
function classifyPath(path: string): Target {
  try {
    const st = lstatSync(path);
    if (st.isDirectory()) return { kind: 'dir', path };
  } catch {
    // Missing or unreadable: treated as a file so the reader reports FILE_NOT_FOUND / FILE_UNREADABLE.
  }
  return { kind: 'file', path };
}

export function describeTarget(t: Target): string {
  switch (t.kind) {
    case 'file':
    case 'dir':
    case 'oci-layout':
    case 'oci-archive':
    case 'docker-archive':
      return `${t.kind}:${t.path}`;
    case 'stdin':
      return 'stdin';
    case 'digest':
      return `${t.algorithm}:${t.value.toString('hex')}`;
    case 'oci':
      return `oci:${t.reference}`;
  }
}
