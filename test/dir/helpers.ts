/** Tree builders and error assertions shared by the directory tests. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
