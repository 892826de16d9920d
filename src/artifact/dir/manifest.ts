/**
 * The directory manifest (docs/formats/directory-manifest.md): every entry of a tree (files with size, SHA-256 and
 * executable bit; symlinks with their target; empty directories), one canonical JSON line each, sorted by the
 * UTF-8 bytes of their paths. The signed statement binds it by its SHA-256, as a signed SHA256SUMS binds its list.
 * This module holds the entry types, the exclusion rules, the line an entry is written as, and the comparison of
 * a signed manifest with a fresh walk.
 */
import { VouchError } from '../../errors.ts';
import type { EntryTable } from './entries.ts';
import { comparePaths } from './paths.ts';

/**
 * What is left out of a walk. Names are matched at any depth (`.git` also inside vendored submodules); paths are
 * exact canonical relative paths. A matched directory is skipped whole. No globs: two glob dialects never agree on
 * every corner case, and the verifier must exclude exactly what the signer excluded.
 */
export interface DirectoryRules {
  excludeNames: string[];
  excludePaths: string[];
  /**
   * The signature's own files when they are written inside the tree (the bundle, a detached manifest): excluded
   * like paths, and the only excluded entries a verifier does not report when they are the files it reads.
   */
  signatureFiles: string[];
  /** Sign symlinks whose target leaves the tree (recorded, never followed). Refused by default. */
  allowExternalSymlinks: boolean;
}

export const DEFAULT_RULES: DirectoryRules = Object.freeze({
  excludeNames: ['.git'],
  excludePaths: [],
  signatureFiles: [],
  allowExternalSymlinks: false,
}) as DirectoryRules;

export interface FileEntry {
  path: string;
  kind: 'file';
  size: number;
  /** Lowercase hex SHA-256 of the content. */
  sha256: string;
  /** Owner execute bit (the bit git records). */
  executable: boolean;
  /** Only in walks made for verification: the file carries setuid or setgid, which vouch never signs. */
  setid?: true;
}

export interface SymlinkEntry {
  path: string;
  kind: 'symlink';
  target: string;
}

/** An empty directory (directories with content are implied by their entries). */
export interface DirEntry {
  path: string;
  kind: 'dir';
}

/** Only in walks made for verification: a FIFO, socket, device or unreadable name found where none was signed. */
export interface OtherEntry {
  path: string;
  kind: 'other';
}

export type ManifestEntry = FileEntry | SymlinkEntry | DirEntry | OtherEntry;

export interface ManifestCounts {
  files: number;
  symlinks: number;
  emptyDirectories: number;
  bytes: number;
}

/**
 * The manifest line of an entry: canonical JSON (RFC 8785 as `JSON.stringify` escapes strings: members sorted by
 * name, no whitespace) and a newline. Only files, symlinks and empty directories have one.
 */
export function entryLine(e: ManifestEntry): string {
  switch (e.kind) {
    case 'file':
      return `{"executable":${e.executable},"kind":"file","path":${JSON.stringify(e.path)},"sha256":"${e.sha256}","size":${e.size}}\n`;
    case 'symlink':
      return `{"kind":"symlink","path":${JSON.stringify(e.path)},"target":${JSON.stringify(e.target)}}\n`;
    case 'dir':
      return `{"kind":"dir","path":${JSON.stringify(e.path)}}\n`;
    case 'other':
      throw new VouchError('DIRECTORY_UNSUPPORTED', `${JSON.stringify(e.path)} is not a file, symlink or directory`);
  }
}

/** One way the tree on disk differs from the signed manifest. */
export type Difference =
  | { type: 'modified'; path: string; expected: string; actual: string }
  | { type: 'added'; path: string; kind: ManifestEntry['kind'] }
  | { type: 'missing'; path: string; kind: ManifestEntry['kind'] }
  | { type: 'kind-changed'; path: string; expected: ManifestEntry['kind']; actual: ManifestEntry['kind'] }
  | { type: 'mode-changed'; path: string; expected: string; actual: string }
  /** Content the signed rules leave out (reported always; a difference only when the verifier asks for that). */
  | { type: 'excluded'; path: string };

function modeOf(e: FileEntry): string {
  return (e.executable ? 'executable' : 'not executable') + (e.setid ? ', setuid/setgid' : '');
}

function describe(e: ManifestEntry): string {
  switch (e.kind) {
    case 'file':
      return e.size < 0 ? `sha256:${e.sha256}` : `sha256:${e.sha256} (${e.size} bytes)`;
    case 'symlink':
      return `-> ${e.target}`;
    default:
      return e.kind;
  }
}

/**
 * Differences between the signed entries and a fresh walk, in path order. Both lists must be sorted by
 * `comparePaths`.
 */
export function compareManifest(signed: readonly ManifestEntry[], actual: EntryTable): Difference[] {
  const c = new ManifestComparer(actual);
  for (const e of signed) c.push(e);
  return c.finish();
}

/**
 * The comparison with the signed entries arriving one at a time, in manifest order (a million-entry manifest
 * streamed from its file, never held whole); the walk is at hand. A signed empty directory that now has content is
 * reported through its new entries only, and a directory emptied of its signed files through the missing files
 * only, so each change appears once. A walked file that matches is never built as an object.
 */
export class ManifestComparer {
  readonly #actual: EntryTable;
  #j = 0;
  readonly #out: Difference[] = [];
  #actualDirs: Set<string> | undefined;
  /**
   * Empty directories on disk that no signed entry matched: added, unless a signed entry lies beneath one (it was
   * signed with content, now gone: the missing files say so). Signed entries beneath `d/` follow `d` in byte
   * order, after at most some `d-x`, `d.x`, so each is decided once the signed order passes that place.
   */
  #pendingDirs: string[] = [];
  #last: string | undefined;

  constructor(actual: EntryTable) {
    this.#actual = actual;
  }

  push(s: ManifestEntry): void {
    if (this.#last !== undefined && comparePaths(this.#last, s.path) >= 0) {
      throw new VouchError('INTERNAL', 'signed entries compared out of order');
    }
    this.#last = s.path;
    const actual = this.#actual;
    const n = actual.length;
    if (s.kind === 'file' && this.#j < n && actual.sameFile(this.#j, s)) {
      if (this.#pendingDirs.length > 0) this.#decidePending(s.path);
      this.#j++;
      return;
    }
    let c = this.#j < n ? comparePaths(s.path, actual.pathAt(this.#j)) : -1;
    while (c > 0) {
      this.#added(actual.at(this.#j));
      this.#j++;
      c = this.#j < n ? comparePaths(s.path, actual.pathAt(this.#j)) : -1;
    }
    if (this.#pendingDirs.length > 0) this.#decidePending(s.path);
    if (c < 0) {
      if (s.kind === 'dir') {
        this.#actualDirs ??= impliedDirectories(actual);
        if (this.#actualDirs.has(s.path)) return;
      }
      this.#out.push({ type: 'missing', path: s.path, kind: s.kind });
      return;
    }
    const a = actual.at(this.#j++);
    if (s.kind !== a.kind) {
      this.#out.push({ type: 'kind-changed', path: s.path, expected: s.kind, actual: a.kind });
    } else if (s.kind === 'file' && a.kind === 'file') {
      // A size of -1 is not recorded (model-signing): the digest alone decides.
      if (s.sha256 !== a.sha256 || (s.size >= 0 && s.size !== a.size)) {
        this.#out.push({ type: 'modified', path: s.path, expected: describe(s), actual: describe(a) });
      } else if (s.executable !== a.executable || (a.setid ?? false) !== (s.setid ?? false)) {
        this.#out.push({ type: 'mode-changed', path: s.path, expected: modeOf(s), actual: modeOf(a) });
      }
    } else if (s.kind === 'symlink' && a.kind === 'symlink' && s.target !== a.target) {
      this.#out.push({ type: 'modified', path: s.path, expected: describe(s), actual: describe(a) });
    }
  }

  #added(a: ManifestEntry): void {
    if (a.kind === 'dir') this.#pendingDirs.push(a.path);
    else this.#out.push({ type: 'added', path: a.path, kind: a.kind });
  }

  #decidePending(signedPath: string): void {
    this.#pendingDirs = this.#pendingDirs.filter((d) => {
      if (signedPath.startsWith(d) && signedPath.charCodeAt(d.length) <= 0x2f) {
        // beneath d (implied: not added), or still before the place where d's subtree would be
        return signedPath.charCodeAt(d.length) !== 0x2f;
      }
      this.#out.push({ type: 'added', path: d, kind: 'dir' });
      return false;
    });
  }

  /** The differences, in path order. */
  finish(): Difference[] {
    const actual = this.#actual;
    for (; this.#j < actual.length; this.#j++) this.#added(actual.at(this.#j));
    for (const d of this.#pendingDirs) this.#out.push({ type: 'added', path: d, kind: 'dir' });
    this.#pendingDirs = [];
    return this.#out.sort((x, y) => comparePaths(x.path, y.path));
  }
}

/** Every directory implied by the entries (all proper prefixes of their paths). */
function impliedDirectories(entries: EntryTable): Set<string> {
  const dirs = new Set<string>();
  for (let k = 0; k < entries.length; k++) {
    const path = entries.pathAt(k);
    let i = path.lastIndexOf('/');
    while (i > 0) {
      const d = path.slice(0, i);
      if (dirs.has(d)) break;
      dirs.add(d);
      i = d.lastIndexOf('/');
    }
  }
  return dirs;
}
