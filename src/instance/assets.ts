/**
 * Locating files shipped in the package's `assets/` folder, both from the sources (src/instance/) and from the
 * bundled build (dist/...): walk up from this module to the first folder that has `assets/<name>` next to a
 * package.json, so a change of build layout cannot silently make vouch run without its shipped trust root.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VouchError } from '../errors.ts';

export function assetPath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'assets', name);
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new VouchError('INTERNAL', `the shipped asset ${name} is missing from the installation`);
}
