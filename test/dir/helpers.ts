/** Tree builders and error assertions shared by the directory tests. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { VouchError } from '../../src/errors.ts';

/** One node of a test tree: file content, `{link}`, `{dir: true}` (empty), `{fifo: true}`, `{mode}` for files. */
export type Node =
  | string
  | Buffer
  | { link: string }
  | { dir: true }
  | { fifo: true }
  | { content: string; mode: number };

export function makeTree(spec: Record<string, Node>, root = mkdtempSync(join(tmpdir(), 'vouch-dir-'))): string {
  for (const [rel, node] of Object.entries(spec)) writeNode(root, rel, node);
  return root;
}

export function writeNode(root: string, rel: string, node: Node): void {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  if (typeof node === 'string' || Buffer.isBuffer(node)) writeFileSync(abs, node);
  else if ('link' in node) symlinkSync(node.link, abs);
  else if ('dir' in node) mkdirSync(abs, { recursive: true });
  else if ('fifo' in node) execFileSync('mkfifo', [abs]);
  else {
    writeFileSync(abs, node.content);
    chmodSync(abs, node.mode);
  }
}

export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

export async function rejectsWith(fn: () => Promise<unknown> | unknown, code: string): Promise<VouchError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof VouchError, `expected VouchError ${code}, got ${e}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/**
 * Trees for one test file, removed once its tests are done: `tree(spec)` builds one, `keep(root)` adopts one made
 * another way. Call it at the top level of the file.
 */
export function testTrees(): { tree: (spec: Record<string, Node>) => string; keep: (root: string) => string } {
  const roots: string[] = [];
  after(() => roots.forEach(removeTree));
  const keep = (root: string) => {
    roots.push(root);
    return root;
  };
  return { tree: (spec) => keep(makeTree(spec)), keep };
}

/** A walk's entries as plain objects (for deepEqual). */
export function entriesOf(w: { entries: { length: number; at(i: number): unknown } }): unknown[] {
  return Array.from({ length: w.entries.length }, (_, i) => w.entries.at(i));
}

/**
 * A vouch v2 statement over exactly these manifest bytes, its subject digest and counts made to match them, as a
 * malicious (or other) signer would make it: the manifest embedded, or left for the caller to write as a file.
 */
export function statementOver(
  manifest: string | Buffer,
  options: { rules?: Record<string, unknown>; embed?: boolean; counts?: Record<string, number>; name?: string } = {},
): Record<string, unknown> & { predicate: Record<string, unknown> } {
  const bytes = Buffer.from(manifest);
  const counts = { files: 0, symlinks: 0, emptyDirectories: 0, bytes: 0 };
  for (const line of bytes.toString().split('\n')) {
    try {
      const e = JSON.parse(line) as { kind?: string; size?: number };
      if (e.kind === 'file') {
        counts.files++;
        counts.bytes += typeof e.size === 'number' ? e.size : 0;
      } else if (e.kind === 'symlink') counts.symlinks++;
      else if (e.kind === 'dir') counts.emptyDirectories++;
    } catch {}
  }
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [
      { name: options.name ?? 'release', digest: { sha256: createHash('sha256').update(bytes).digest('hex') } },
    ],
    predicateType: 'https://vouch.dev/directory/v2',
    predicate: {
      hashAlgorithm: 'sha256',
      rules: options.rules ?? {
        excludeNames: ['.git'],
        excludePaths: [],
        signatureFiles: [],
        allowExternalSymlinks: false,
      },
      counts: options.counts ?? counts,
      manifest: {
        mediaType: 'application/vnd.vouch.directory-manifest.v2+jsonl',
        size: bytes.length,
        ...(options.embed !== false && { content: bytes.toString('base64') }),
      },
    },
  };
}

/** A file's manifest line. */
export function fileLine(path: string, content = path, executable = false): string {
  const sha = createHash('sha256').update(content).digest('hex');
  return `{"executable":${executable},"kind":"file","path":${JSON.stringify(path)},"sha256":"${sha}","size":${Buffer.byteLength(content)}}\n`;
}

/** A table's manifest lines as one string, each chunk copied as it comes (a chunk is valid until the next). */
export function linesText(table: { lines(chunkBytes?: number): Iterable<Uint8Array> }, chunkBytes?: number): string {
  const copies: Buffer[] = [];
  for (const b of table.lines(chunkBytes)) copies.push(Buffer.from(b));
  return Buffer.concat(copies).toString();
}
