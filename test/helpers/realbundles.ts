/**
 * Loads the real Sigstore test vectors of /work/shared/realbundles (laid beside the repository as ../shared in CI)
 * into ready-to-verify inputs. Fails loudly when the directory is missing: silently skipping would let the most
 * independent tests we have disappear.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HashAlgorithm } from '../../src/core/digest.ts';
import type { ArtifactInput } from '../../src/verify/types.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function realbundlesDir(): string {
  // CI lays shared/ beside the clone; a worktree (/work/wt/<name>) has it two levels up, a mutation-testing
  // sandbox (.stryker-tmp/sandbox-x inside a worktree) four: the nearest one above the repository is used.
  for (let dir = dirname(REPO); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared/realbundles');
    if (existsSync(join(candidate, 'cases'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`realbundles not found beside the repository (${join(REPO, '../shared/realbundles')})`);
}

export interface RealCase {
  name: string;
  dir: string;
  expect: 'valid' | 'invalid' | 'client-dependent';
  bundleText: string;
  trustedRootPath: string;
  trustedRootText: string;
  artifact: ArtifactInput & { kind: 'digest' };
  artifactBytes?: Buffer;
  identity?: string;
  issuer?: string;
  keyPem?: string;
  json: Record<string, unknown>;
}

export function loadCase(name: string): RealCase {
  const dir = join(realbundlesDir(), 'cases', name);
  const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
  const trustedRootPath = resolve(dir, json.trusted_root as string);
  const input = json.input as string;
  let artifact: RealCase['artifact'];
  let artifactBytes: Buffer | undefined;
  if (input === 'artifact') {
    artifactBytes = readFileSync(join(dir, 'artifact'));
    artifact = {
      kind: 'digest',
      algorithm: 'sha256',
      digest: createHash('sha256').update(artifactBytes).digest(),
      bytes: artifactBytes,
    };
  } else {
    const [alg, hex] = input.split(':') as [HashAlgorithm, string];
    artifact = { kind: 'digest', algorithm: alg, digest: Buffer.from(hex, 'hex') };
  }
  const c: RealCase = {
    name,
    dir,
    expect: json.expect as RealCase['expect'],
    bundleText: readFileSync(join(dir, 'bundle.sigstore.json'), 'utf8'),
    trustedRootPath,
    trustedRootText: readFileSync(trustedRootPath, 'utf8'),
    artifact,
    json,
  };
  if (artifactBytes) c.artifactBytes = artifactBytes;
  if (typeof json.identity === 'string') c.identity = json.identity;
  if (typeof json.issuer === 'string') c.issuer = json.issuer;
  if (typeof json.key === 'string') c.keyPem = readFileSync(join(dir, json.key), 'utf8');
  return c;
}

export function caseNames(): string[] {
  return readdirSync(join(realbundlesDir(), 'cases')).sort();
}
