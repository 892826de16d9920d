/**
 * Attacks on verification by the signed payload digest (`signedPayloadMatches`): every statement here is signed
 * byte for byte as given (its payload digest is handed to the verifier, as pass 1 leaves it), by a signer who is
 * not `vouch sign` or who signs what a verify walk records. Each case is run by the fast path and by the strict
 * path alone, and must end the same way, never "Verified OK" for a tree that was not signed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_RULES,
  type DirectoryLimits,
  type ManifestEntry,
  manifestDigest,
  type PayloadDigest,
  parseDirectoryHeader,
  signedPayloadMatches,
  verifyDirectoryStatement,
  walkDirectory,
} from '../../src/artifact/dir/index.ts';
import { CompactEntries } from '../../src/artifact/dir/manifest.ts';
import { vouchStatement } from '../../src/artifact/dir/statement.ts';
import { rejectsWith, testTrees } from './helpers.ts';

const { tree, keep } = testTrees();

const PAE = 'DSSEv1 28 application/vnd.in-toto+json 1234 ';
function payload(statement: unknown, prefix = PAE): PayloadDigest {
  const p = Buffer.from(prefix);
  return { prefix: p, sha256: createHash('sha256').update(p).update(JSON.stringify(statement)).digest() };
}

/** The statement `vouch sign` would write for `entries`, with `digest` as its subject (default: the honest one). */
function statementOf(entries: ManifestEntry[], digest?: Buffer): unknown {
  const m = { hashAlgorithm: 'sha256' as const, rules: { ...DEFAULT_RULES }, entries };
  return JSON.parse(JSON.stringify(vouchStatement(m, 'evil', digest ?? manifestDigest(entries))));
}

async function walked(root: string) {
  return (await walkDirectory(root, DEFAULT_RULES, { mode: 'verify' })).entries.map((e) => ({ ...e }));
}

interface Attack {
  name: string;
  /** The tree on disk at verification. */
  root: () => string;
  /** The signed statement (from a walk of the tree, or of another one). */
  statement: (root: string) => Promise<unknown>;
  /** The code both paths must end with. */
  code: string;
  limits?: Partial<DirectoryLimits>;
}

function linkTree(target: Buffer): string {
  const r = keep(mkdtempSync(join(tmpdir(), 'vouch-fp-')));
  writeFileSync(join(r, 'ok'), 'x');
  symlinkSync(target, join(r, 'l'));
  return r;
}

const attacks: Attack[] = [
  {
    // The guard: the manifest digest of the walk must be the subject digest, not merely the payload's bytes.
    name: 'a subject digest that is not the manifest digest of the signed entries',
    root: () => tree({ a: 'a', 'd/b': 'b', 'e/f': { dir: true }, l: { link: 'a' } }),
    statement: async (root) => statementOf(await walked(root), createHash('sha256').update('other').digest()),
    code: 'MANIFEST_INVALID',
  },
  {
    // The guard: nothing `unsignable` in the walk (collisions are seen per directory by the walk, per path by the
    // checker: `A/x` and `a/y` name one directory twice).
    name: 'directories colliding by case, each with other content',
    root: () => tree({ 'A/x': 'x', 'a/y': 'y' }),
    statement: async (root) => statementOf(await walked(root)),
    code: 'MANIFEST_INVALID',
  },
  {
    name: 'NFC and NFD spellings of one directory name',
    root: () => tree({ 'caf\u00e9/x': 'x', 'cafe\u0301x': 'y', 'CAF\u00c9/y': 'z' }),
    statement: async (root) => statementOf((await walked(root)).filter((e) => e.kind !== 'other')),
    code: 'MANIFEST_INVALID',
  },
  {
    // readlink decodes invalid UTF-8 as U+FFFD: a signed "a\ufffd" target must not match a link to bytes 61 fe,
    // nor to 61 ff (the verify walk records such a link as `other`).
    name: 'a symlink target that is not UTF-8, signed as its U+FFFD decoding',
    root: () => linkTree(Buffer.from([0x61, 0xfe])),
    statement: async (root) =>
      statementOf(
        (await walked(root)).map((e) => (e.path === 'l' ? { path: 'l', kind: 'symlink', target: 'a\ufffd' } : e)),
      ),
    code: 'DIRECTORY_MISMATCH',
  },
  {
    name: 'another tree whose link holds other invalid bytes',
    root: () => linkTree(Buffer.from([0x61, 0xff])),
    statement: async () => {
      const other = linkTree(Buffer.from([0x61, 0xfe]));
      return statementOf(
        (await walked(other)).map((e) => (e.path === 'l' ? { path: 'l', kind: 'symlink', target: 'a\ufffd' } : e)),
      );
    },
    code: 'DIRECTORY_MISMATCH',
  },
  {
    name: 'a library caller lowering maxEntries below the signed tree',
    root: () => tree({ a: '1', b: '2', c: '3' }),
    statement: async (root) => statementOf(await walked(root)),
    code: 'MANIFEST_INVALID',
    limits: { maxEntries: 2 },
  },
  {
    name: 'a library caller lowering maxDepth below the signed tree',
    root: () => tree({ 'a/b/c': '1' }),
    statement: async (root) => statementOf(await walked(root)),
    code: 'DIRECTORY_MISMATCH',
    limits: { maxDepth: 2 },
  },
  {
    name: 'a library caller lowering maxPathBytes below a signed symlink target',
    root: () => tree({ a: '1', l: { link: 'a'.repeat(40) } }),
    statement: async (root) => statementOf(await walked(root)),
    code: 'MANIFEST_INVALID',
    limits: { maxPathBytes: 32 },
  },
];

describe('the payload-digest fast path never accepts what the strict path refuses', () => {
  for (const a of attacks) {
    it(a.name, async () => {
      const root = a.root();
      const statement = await a.statement(root);
      const opts = a.limits ? { limits: a.limits } : {};
      await rejectsWith(() => verifyDirectoryStatement(statement, root, opts), a.code);
      for (const prefix of ['', PAE]) {
        await rejectsWith(
          () => verifyDirectoryStatement(statement, root, { ...opts, payloadDigest: payload(statement, prefix) }),
          a.code,
        );
      }
      // The header as pass 1 parses it (default limits), then the walk with the caller's: never a match.
      const header = parseDirectoryHeader(statement);
      const w = await walkDirectory(root, header.rules, { mode: 'verify', ...opts }).catch(() => undefined);
      if (w) assert.equal(signedPayloadMatches(w, header, payload(statement)), false);
    });
  }

  it('the honest statement of each shape does take the fast path (the cases above are not vacuous)', async () => {
    const root = tree({ a: 'a', 'd/b': 'b', 'e/f': { dir: true }, l: { link: 'a' }, 'caf\u00e9/x': 'x' });
    const statement = statementOf(await walked(root));
    const header = parseDirectoryHeader(statement);
    const w = await walkDirectory(root, header.rules, { mode: 'verify' });
    assert.equal(signedPayloadMatches(w, header, payload(statement)), true);
    assert.equal((await verifyDirectoryStatement(statement, root, { payloadDigest: payload(statement) })).files, 3);
  });
});

/** A CompactEntries of files only, from paths as raw UTF-8 bytes and sizes. */
function table(files: { name: Buffer; size: number; flags?: number }[], others: ManifestEntry[] = []) {
  const offsets = new Uint32Array(files.length + 1);
  for (let k = 0; k < files.length; k++) offsets[k + 1] = offsets[k]! + files[k]!.name.length;
  const digests = new Uint8Array(32 * files.length).map((_, i) => (i * 37) & 0xff);
  const order = Int32Array.from([...files.map((_, k) => k), ...others.map((_, j) => ~j)]);
  const columns = {
    names: new Uint8Array(Buffer.concat(files.map((f) => f.name))),
    offsets,
    digests,
    sizes: Float64Array.from(files.map((f) => f.size)),
    flags: Uint8Array.from(files.map((f) => f.flags ?? 0)),
    order,
  };
  return { compact: new CompactEntries({ ...columns, others }), columns };
}

const utf8 = (s: string) => Buffer.from(s);
const writerCases: [string, { name: Buffer; size: number }, boolean][] = [
  // [case, file, whether JSON.stringify of the decoded entry is what must be written]
  ['size -0', { name: utf8('a'), size: -0 }, true],
  ['size 1.5', { name: utf8('a'), size: 1.5 }, true],
  ['size -1', { name: utf8('a'), size: -1 }, true],
  ['size NaN', { name: utf8('a'), size: Number.NaN }, true],
  ['size 1e21', { name: utf8('a'), size: 1e21 }, true],
  ['size 2^53', { name: utf8('a'), size: 2 ** 53 }, true],
  ['size 2^53 - 1', { name: utf8('a'), size: 2 ** 53 - 1 }, true],
  ['a quote', { name: utf8('say "hi"'), size: 1 }, true],
  ['DEL and U+2028', { name: utf8('a\u007f\u2028b'), size: 1 }, true],
  ['a supplementary character', { name: utf8('\u{1f600}'), size: 1 }, true],
  ['a long path with a control byte at its end', { name: utf8(`${'x'.repeat(5000)}\u0001`), size: 3 }, true],
  // Not UTF-8 (never in a walk's blob, which is written from strings): written without failing.
  ['an encoded lone surrogate (CESU-8)', { name: Buffer.from([0x61, 0xed, 0xa0, 0x80]), size: 1 }, false],
  ['a byte that is not UTF-8', { name: Buffer.from([0x61, 0xff]), size: 1 }, false],
];

describe('the entry writer writes what JSON.stringify writes', () => {
  for (const [name, file, exact] of writerCases) {
    it(name, () => {
      const others: ManifestEntry[] = [{ path: 'zz', kind: 'symlink', target: '\u0001\ud800' }];
      const { compact } = table([file, { name: utf8('b'), size: 12 }], others);
      for (const style of ['canonical', 'plain'] as const) {
        const js = Buffer.concat([...compact.jsonChunks(style)].map((b) => Buffer.from(b)));
        if (exact && style === 'plain') assert.equal(js.toString(), JSON.stringify(compact.entries()));
        if (exact && style === 'canonical') {
          const canonical = `[${Array.from({ length: compact.length }, (_, i) => compact.canonical(i)).join(',')}]`;
          assert.equal(js.toString(), canonical);
        }
        const want = createHash('sha256').update('P').update(js).update('S').digest();
        const jobs = [{ style, prefix: utf8('P'), suffix: utf8('S') }];
        assert.deepEqual(compact.jsonDigests(jobs), [want]);
      }
    });
  }
});
