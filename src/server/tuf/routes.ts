/**
 * The TUF repository over HTTP, in the layout TUF clients fetch with consistent snapshots: metadata at the mirror
 * URL's root (`N.root.json` until a 404 ends the root chain, `timestamp.json`, `N.snapshot.json`,
 * `N.targets.json`) and target files under `targets/` prefixed with their SHA-256 (sigstore-js sets the targets
 * URL to `MIRROR/targets`). Each request first re-signs whatever is due, so a server that slept past a refresh
 * never serves expired metadata.
 */
import type { Route, RouteResponse } from '../routes.ts';
import type { TufRepository } from './repository.ts';
import { METADATA_NAME, TARGET_NAME } from './store.ts';

const NOT_FOUND: RouteResponse = { status: 404, body: { code: 404, message: 'not found' } };

export function tufRoutes(repo: TufRepository): Route[] {
  const serve = (name: string): RouteResponse => {
    repo.refreshIfDue();
    const bytes = repo.file(name);
    if (bytes === undefined) return NOT_FOUND;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // Only timestamp.json changes under one name; every other file is immutable once published.
    headers['cache-control'] = name === 'timestamp.json' ? 'no-cache' : 'public, max-age=300';
    return { status: 200, headers, body: bytes };
  };
  return [
    {
      method: 'GET',
      pattern: '/:file',
      handler: (_req, { file }) => (METADATA_NAME.test(file!) ? serve(file!) : NOT_FOUND),
    },
    {
      method: 'GET',
      pattern: '/targets/:file',
      handler: (_req, { file }) => (TARGET_NAME.test(`targets/${file}`) ? serve(`targets/${file}`) : NOT_FOUND),
    },
  ];
}
