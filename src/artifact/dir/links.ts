/**
 * Where a symlink leads, resolved through the tree's own links. Resolving a target as a string alone is not
 * enough: with `a/b/c/d/up -> ../../../..` (the root, in the tree) the link `passwd -> a/b/c/d/up/../../../..
 * /../etc/passwd` looks in-tree lexically and leaves it on disk, and so does `esc -> s/../outside` beside
 * `s -> .`. So each component is followed as the kernel follows it: a component that is a link in the tree is
 * replaced by its own target, then `..` climbs from where that led. A link that passes through an excluded path
 * is refused too: excluded content is not signed, so `run -> .git/hooks/post-install` would run whatever the
 * verifier finds there. Excluded names and paths are matched as case-insensitive file systems match them.
 */
import { collisionKey } from './paths.ts';

/** The kernel's own limit on links followed in one lookup (Linux MAXSYMLINKS, ELOOP). */
const MAX_HOPS = 40;

export type LinkProblem = 'leaves the directory' | 'leads into an excluded path' | 'loops';

/** The exclusion rules as a link resolution tests them: whether `path` (its last component `name`) is excluded. */
export type ExcludedTest = (path: string, name: string) => boolean;

/** An ExcludedTest for names excluded at any depth and exact paths, matched by collision key. */
export function excludedTest(names: readonly string[], paths: readonly string[]): ExcludedTest {
  const nameKeys = new Set(names.map(collisionKey));
  const pathKeys = new Set(paths.map(collisionKey));
  return (path, name) => nameKeys.has(collisionKey(name)) || (pathKeys.size > 0 && pathKeys.has(collisionKey(path)));
}

/** The tree's symlinks keyed by collision key: on macOS `s/..` follows a link spelled `S`. */
export function linkMap(links: Iterable<{ path: string; target: string }>): Map<string, string> {
  const map = new Map<string, string>();
  for (const l of links) map.set(collisionKey(l.path), l.target);
  return map;
}

/**
 * Why the link at `linkPath` with `target`, followed through `links` (`linkMap`: every symlink in the tree), is not
 * acceptable, or undefined. `allowExternal` accepts a link that leaves the tree (it is recorded, never
 * followed, and what lies outside is not resolved further); it never accepts one into an excluded path.
 */
export function linkProblem(
  links: ReadonlyMap<string, string>,
  linkPath: string,
  target: string,
  excluded: ExcludedTest,
  allowExternal: boolean,
): LinkProblem | undefined {
  const stack = linkPath.split('/');
  stack.pop();
  const hops = { n: 0 };
  const problem = follow(links, stack, target, excluded, hops);
  return problem === 'leaves the directory' && allowExternal ? undefined : problem;
}

function follow(
  links: ReadonlyMap<string, string>,
  stack: string[],
  target: string,
  excluded: ExcludedTest,
  hops: { n: number },
): LinkProblem | undefined {
  if (target.startsWith('/') || target === '') return 'leaves the directory';
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return 'leaves the directory';
      stack.pop();
      continue;
    }
    stack.push(part);
    const path = stack.join('/');
    if (excluded(path, part)) return 'leads into an excluded path';
    const next = links.get(collisionKey(path));
    if (next === undefined) continue;
    if (++hops.n > MAX_HOPS) return 'loops';
    stack.pop();
    const problem = follow(links, stack, next, excluded, hops);
    if (problem) return problem;
  }
  return undefined;
}
