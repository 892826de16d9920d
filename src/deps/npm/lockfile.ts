/**
 * Lockfile readers for the npm ecosystem: package-lock.json v2/v3 (npm 7+), pnpm-lock.yaml v9 and yarn.lock v1.
 * Each reduces its format to the same list of `LockedPackage` (name, version, SRI integrity, tarball URL, install
 * paths) plus the entries that do not come from a registry (git, folders, workspaces, remote tarballs), which are
 * listed as skipped, never silently dropped.
 *
 * Lockfiles are hostile input (a pull request can carry one): size and count caps, names and versions checked
 * against npm's rules, duplicate keys refused (two parsers of one file must not see two different dependency
 * sets), one integrity per name@version. yarn v1 is read by yarn's own parser (@yarnpkg/lockfile), so vouch sees
 * the entries yarn installs; its merge-conflict recovery is refused rather than guessed.
 */
import { basename } from 'node:path';
import { parse as parseYarnLockfile } from '@yarnpkg/lockfile';
import { parseDocument, visit } from 'yaml';
import { asObject, parseStrictJson } from '../../core/json.ts';
import { readCapped } from '../../core/read.ts';
import { VouchError } from '../../errors.ts';
import type { LockedPackage, Lockfile, SkippedPackage } from '../types.ts';

/** Largest lockfile read (the lockfile of a 10,000-package monorepo is ~15 MiB). */
export const MAX_LOCKFILE_BYTES = 64 << 20;
/** Most entries one lockfile may hold. */
export const MAX_LOCKED_ENTRIES = 200_000;

function bad(path: string, msg: string): never {
  throw new VouchError('LOCKFILE_INVALID', `${basename(path)}: ${msg}`);
}

/** A short, printable rendering of hostile text for messages. */
function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

// npm's package name rules (validate-npm-package-name): at most 214 characters, URL-safe, lower case for new
// packages (old ones may have capitals), a scope `@scope/` allowed; no leading dot or underscore.
const NAME_PART = /^[a-zA-Z0-9][a-zA-Z0-9._~-]*$/;
export function isPackageName(name: string): boolean {
  if (name.length === 0 || name.length > 214) return false;
  if (name.startsWith('@')) {
    const slash = name.indexOf('/');
    if (slash < 2 || slash !== name.lastIndexOf('/')) return false;
    return NAME_PART.test(name.slice(1, slash)) && NAME_PART.test(name.slice(slash + 1));
  }
  return NAME_PART.test(name);
}

// Semantic Versioning 2.0.0 §2, §9, §10 (what the registry accepts as a version), length-capped.
const SEMVER =
  /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
export function isVersion(v: string): boolean {
  return v.length <= 256 && SEMVER.test(v);
}

const SRI_ALGORITHMS = new Set(['sha512', 'sha384', 'sha256', 'sha1']);

/**
 * A Subresource Integrity string (W3C SRI §3.5): space-separated `alg-base64` tokens; the strongest sha512 one is
 * what npm signs and compares. Returns the tokens by algorithm, or undefined when malformed.
 */
export function parseSri(sri: string): Map<string, Buffer> | undefined {
  if (sri.length > 4096) return undefined;
  const out = new Map<string, Buffer>();
  for (const token of sri.trim().split(/\s+/)) {
    const m = /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/]+={0,2})(\?[\x21-\x7e]*)?$/.exec(token);
    if (!m || !SRI_ALGORITHMS.has(m[1]!)) return undefined;
    const bytes = Buffer.from(m[2]!, 'base64');
    if (bytes.toString('base64') !== m[2]) return undefined;
    const prev = out.get(m[1]!);
    if (prev && !prev.equals(bytes)) return undefined;
    out.set(m[1]!, bytes);
  }
  return out.size === 0 ? undefined : out;
}

/** The tarball URL path a registry serves `name@version` under: `/<name>/-/<unscoped>-<version>.tgz`. */
function isRegistryTarball(url: string, name: string, version: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return false;
  const unscoped = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  const path = decodeURIComponent(u.pathname);
  return path.endsWith(`/${name}/-/${unscoped}-${version}.tgz`);
}

/** Gathers entries by name@version, refusing contradictory copies. */
class Collector {
  readonly byKey = new Map<string, LockedPackage>();
  readonly skipped: SkippedPackage[] = [];
  readonly path: string;
  #count = 0;
  constructor(path: string) {
    this.path = path;
  }

  count(): void {
    if (++this.#count > MAX_LOCKED_ENTRIES) bad(this.path, `more than ${MAX_LOCKED_ENTRIES} entries`);
  }

  add(p: { name: string; version: string; integrity?: string; resolved?: string; path?: string; script?: boolean }) {
    if (!isPackageName(p.name)) bad(this.path, `invalid package name ${show(p.name)}`);
    if (!isVersion(p.version)) bad(this.path, `${p.name}: invalid version ${show(p.version)}`);
    if (p.integrity !== undefined && !parseSri(p.integrity)) {
      bad(this.path, `${p.name}@${p.version}: malformed integrity ${show(p.integrity)}`);
    }
    if (p.resolved !== undefined && p.resolved.length > 4096) bad(this.path, `${p.name}: resolved URL too long`);
    const key = `${p.name}@${p.version}`;
    const seen = this.byKey.get(key);
    if (seen) {
      if (p.integrity !== undefined && seen.integrity !== undefined && !sameIntegrity(seen.integrity, p.integrity)) {
        bad(this.path, `${key} is locked with two different integrities`);
      }
      seen.integrity ??= p.integrity;
      seen.resolved ??= p.resolved;
      if (p.path !== undefined) seen.paths.push(p.path);
      if (p.script) seen.hasInstallScript = true;
      return;
    }
    const entry: LockedPackage = { name: p.name, version: p.version, paths: p.path === undefined ? [] : [p.path] };
    if (p.integrity !== undefined) entry.integrity = p.integrity;
    if (p.resolved !== undefined) entry.resolved = p.resolved;
    if (p.script) entry.hasInstallScript = true;
    this.byKey.set(key, entry);
  }

  skip(name: string, reason: string): void {
    this.skipped.push({ name: name.slice(0, 214), reason });
  }

  result(format: string): Lockfile {
    return { format, path: this.path, packages: [...this.byKey.values()], skipped: this.skipped };
  }
}

/** Two SRI strings agree when every algorithm they share has the same digest, and they share one. */
export function sameIntegrity(a: string, b: string): boolean {
  const x = parseSri(a);
  const y = parseSri(b);
  if (!x || !y) return false;
  let shared = 0;
  for (const [alg, d] of x) {
    const e = y.get(alg);
    if (e === undefined) continue;
    if (!e.equals(d)) return false;
    shared++;
  }
  return shared > 0;
}

function optionalString(v: unknown, path: string, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') bad(path, `${what} must be a string`);
  return v;
}

/** `node_modules/a/node_modules/@s/b` -> `@s/b`; undefined when the key is not an install location. */
function nameFromInstallPath(key: string): string | undefined {
  const i = key.lastIndexOf('node_modules/');
  if (i < 0) return undefined;
  return key.slice(i + 'node_modules/'.length);
}

function checkRelativePath(path: string, key: string): void {
  if (
    key.length > 4096 ||
    key.startsWith('/') ||
    /^[a-zA-Z]:/.test(key) ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    bad(path, `install path ${show(key)} is not a plain relative path`);
  }
}

/** package-lock.json / npm-shrinkwrap.json, lockfileVersion 2 or 3 (the `packages` section; npm 7 and later). */
export function parsePackageLock(text: string, path: string): Lockfile {
  const doc = asObject(
    parseStrictJson(text, { code: 'LOCKFILE_INVALID', what: basename(path), maxBytes: MAX_LOCKFILE_BYTES }),
    basename(path),
    'LOCKFILE_INVALID',
  );
  const version = doc.lockfileVersion;
  if (version !== 2 && version !== 3) {
    bad(path, `lockfileVersion ${show(String(version))} is not supported (2 or 3: npm 7 and later)`);
  }
  const packages = asObject(doc.packages, 'packages', 'LOCKFILE_INVALID');
  const c = new Collector(path);
  for (const [key, raw] of Object.entries(packages)) {
    c.count();
    if (key === '') continue; // the project itself
    checkRelativePath(path, key);
    const e = asObject(raw, `packages[${show(key)}]`, 'LOCKFILE_INVALID');
    const installName = nameFromInstallPath(key);
    if (installName === undefined) {
      c.skip(key, 'workspace folder');
      continue;
    }
    // An alias (`"node_modules/alias": {"name": "real"}`) installs `real` under another folder name.
    const name = optionalString(e.name, path, `${key}: name`) ?? installName;
    if (e.link === true) {
      c.skip(name, 'link to a local folder');
      continue;
    }
    if (e.inBundle === true) {
      // Bundled dependencies come inside their parent's tarball, which is checked.
      continue;
    }
    const v = optionalString(e.version, path, `${key}: version`);
    const resolved = optionalString(e.resolved, path, `${key}: resolved`);
    const integrity = optionalString(e.integrity, path, `${key}: integrity`);
    if (v === undefined) bad(path, `${key} has no version`);
    if (!isVersion(v) && resolved !== undefined && /^https?:/.test(resolved))
      bad(path, `${key}: invalid version ${show(v)}`);
    if (!isVersion(v) || (resolved !== undefined && !isRegistryTarball(resolved, name, v))) {
      c.skip(name, resolved !== undefined ? `not from a registry (${resolved.slice(0, 100)})` : `version ${v}`);
      continue;
    }
    c.add({
      name,
      version: v,
      ...(integrity !== undefined ? { integrity } : {}),
      ...(resolved !== undefined ? { resolved } : {}),
      path: key,
      script: e.hasInstallScript === true,
    });
  }
  return c.result('package-lock');
}

/** `name@version` keys of pnpm v9 (`@scope/name@1.0.0`); the version part may carry no peer suffix there. */
function splitSpec(spec: string): [string, string] | undefined {
  const at = spec.indexOf('@', 1);
  if (at < 0) return undefined;
  return [spec.slice(0, at), spec.slice(at + 1)];
}

/** pnpm-lock.yaml, lockfileVersion '9.0' (pnpm 9 and 10). */
export function parsePnpmLock(text: string, path: string): Lockfile {
  if (text.length > MAX_LOCKFILE_BYTES) bad(path, `larger than ${MAX_LOCKFILE_BYTES} bytes`);
  // pnpm never writes anchors, aliases, tags or merge keys: refusing them keeps a YAML trick from hiding an entry.
  const doc = parseDocument(text, { uniqueKeys: true, merge: false, schema: 'core' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) bad(path, `not valid YAML: ${problem.message.split('\n')[0]}`);
  let hostile = false;
  visit(doc, {
    Alias: () => {
      hostile = true;
      return visit.BREAK;
    },
    Pair: (_key, pair) => {
      // `<<` is a merge key in YAML 1.1 readers and a plain key in others: a differential, refused.
      if ((pair.key as { value?: unknown } | null)?.value === '<<') {
        hostile = true;
        return visit.BREAK;
      }
      return undefined;
    },
    Node: (_key, node) => {
      const tag = (node as { tag?: string }).tag;
      if (
        (node as { anchor?: string }).anchor !== undefined ||
        (tag !== undefined && !tag.startsWith('tag:yaml.org,2002:'))
      ) {
        hostile = true;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (hostile) bad(path, 'YAML anchors, aliases, tags and merge keys are not used by pnpm and are refused');
  const root = asObject(doc.toJS({ maxAliasCount: 0 }), basename(path), 'LOCKFILE_INVALID');
  if (root.lockfileVersion !== '9.0') {
    bad(path, `lockfileVersion ${show(String(root.lockfileVersion))} is not supported ('9.0': pnpm 9 and later)`);
  }
  const c = new Collector(path);
  const packages = root.packages === undefined ? {} : asObject(root.packages, 'packages', 'LOCKFILE_INVALID');
  const snapshots = root.snapshots === undefined ? {} : asObject(root.snapshots, 'snapshots', 'LOCKFILE_INVALID');
  const scripts = new Set<string>();
  for (const [key, raw] of Object.entries(snapshots)) {
    c.count();
    const s = raw === null ? {} : asObject(raw, `snapshots[${show(key)}]`, 'LOCKFILE_INVALID');
    // A snapshot key is the package key plus its peers: `a@1.0.0(b@2.0.0)`.
    if (s.requiresBuild === true) scripts.add(key.replace(/\(.*$/, ''));
  }
  for (const [key, raw] of Object.entries(packages)) {
    c.count();
    const e = asObject(raw, `packages[${show(key)}]`, 'LOCKFILE_INVALID');
    const parts = splitSpec(key);
    if (!parts) bad(path, `package key ${show(key)} is not name@version`);
    const [name] = parts;
    const version = optionalString(e.version, path, `${key}: version`) ?? parts[1];
    const resolution =
      e.resolution === undefined ? {} : asObject(e.resolution, `${key}: resolution`, 'LOCKFILE_INVALID');
    const integrity = optionalString(resolution.integrity, path, `${key}: resolution.integrity`);
    const tarball = optionalString(resolution.tarball, path, `${key}: resolution.tarball`);
    if (resolution.type !== undefined || !isVersion(version) || integrity === undefined) {
      c.skip(name, `not from a registry (${String(resolution.type ?? tarball ?? version).slice(0, 100)})`);
      continue;
    }
    if (tarball !== undefined && !isRegistryTarball(tarball, name, version)) {
      c.skip(name, `not from a registry (${tarball.slice(0, 100)})`);
      continue;
    }
    c.add({
      name,
      version,
      integrity,
      ...(tarball !== undefined ? { resolved: tarball } : {}),
      script: e.requiresBuild === true || scripts.has(key),
    });
  }
  return c.result('pnpm-lock');
}

/** yarn.lock of yarn 1 (`# yarn lockfile v1`). Yarn 2+ (berry) lockfiles hash yarn's own zip, not npm's tarball. */
export function parseYarnLock(text: string, path: string): Lockfile {
  if (text.length > MAX_LOCKFILE_BYTES) bad(path, `larger than ${MAX_LOCKFILE_BYTES} bytes`);
  if (/^__metadata:/m.test(text)) bad(path, 'a yarn 2+ (berry) lockfile: not supported yet');
  if (!/^# yarn lockfile v1\r?$/m.test(text.slice(0, 1024))) bad(path, 'no "# yarn lockfile v1" header');
  // Yarn merges both sides of a merge conflict on its own; a verifier must not guess which side is installed.
  if (/^(<{7}|={7}|>{7})/m.test(text)) bad(path, 'has unresolved merge-conflict markers');
  // yarn's tokenizer reads a string until a closing quote and never stops at the end of the input: one unclosed
  // quote makes it run for minutes and exhaust memory. Every line must close its strings (yarn writes one per line),
  // with the tokenizer's own rule for an escaped quote.
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    let quotes = 0;
    for (let i = line.indexOf('"'); i >= 0; i = line.indexOf('"', i + 1)) {
      if (!(line[i - 1] === '\\' && line[i - 2] !== '\\')) quotes++;
    }
    if (quotes % 2 === 1) bad(path, `line ${n + 1}: unterminated string`);
  }
  let parsed: { type: string; object: unknown };
  try {
    parsed = parseYarnLockfile(text) as { type: string; object: unknown };
  } catch (e) {
    bad(path, `not a valid yarn lockfile: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
  }
  if (parsed.type !== 'success') bad(path, `not a clean yarn lockfile (${parsed.type})`);
  const entries = asObject(parsed.object, 'yarn.lock', 'LOCKFILE_INVALID');
  const c = new Collector(path);
  for (const [spec, raw] of Object.entries(entries)) {
    c.count();
    const e = asObject(raw, `${show(spec)}`, 'LOCKFILE_INVALID');
    const parts = splitSpec(spec);
    if (!parts) bad(path, `entry ${show(spec)} is not name@range`);
    let [name, range] = parts;
    // An alias `alias@npm:real@^1.0.0` installs `real`.
    if (range.startsWith('npm:')) {
      const real = splitSpec(range.slice(4));
      if (!real) bad(path, `alias ${show(spec)} names no package`);
      [name, range] = real;
    }
    const version = optionalString(e.version, path, `${spec}: version`);
    const resolved = optionalString(e.resolved, path, `${spec}: resolved`);
    const integrityField = optionalString(e.integrity, path, `${spec}: integrity`);
    if (version === undefined) bad(path, `${spec} has no version`);
    const url = resolved?.replace(/#[0-9a-f]{40}$/, '');
    if (!isVersion(version) || url === undefined || !isRegistryTarball(url, name, version)) {
      c.skip(name, `not from a registry (${String(resolved ?? range).slice(0, 100)})`);
      continue;
    }
    // Older yarn 1 records only the sha1 in the URL fragment.
    const sha1 = /#([0-9a-f]{40})$/.exec(resolved ?? '')?.[1];
    const integrity = integrityField ?? (sha1 ? `sha1-${Buffer.from(sha1, 'hex').toString('base64')}` : undefined);
    c.add({ name, version, ...(integrity !== undefined ? { integrity } : {}), resolved: url });
  }
  return c.result('yarn-lock');
}

/** The lockfile names of the npm ecosystem, in the order a project folder is searched. */
export const NPM_LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock'] as const;

/** Read and parse a lockfile; its format is decided by its file name. */
export async function readNpmLockfile(path: string): Promise<Lockfile> {
  const text = (
    await readCapped(path, { maxBytes: MAX_LOCKFILE_BYTES, code: 'LOCKFILE_INVALID', what: basename(path) })
  ).toString('utf8');
  const name = basename(path);
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return parsePnpmLock(text, path);
  if (name === 'yarn.lock') return parseYarnLock(text, path);
  if (name.endsWith('.json')) return parsePackageLock(text, path);
  return bad(path, 'unknown lockfile name (package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock)');
}
