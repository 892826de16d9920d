import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  compareManifest,
  DEFAULT_RULES,
  type DirectoryRules,
  directoryStatement,
  EntryList,
  entryLine,
  type ManifestEntry,
  walkDirectory,
} from '../../src/artifact/dir/index.ts';
import { hashFiles } from '../../src/artifact/dir/pool.ts';
import { FileStatus } from '../../src/artifact/dir/status.ts';
import { entriesOf, linesText, type Node, rejectsWith, testTrees } from './helpers.ts';

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const { tree } = testTrees();

describe('walkDirectory records every entry', () => {
  it('files, executables, symlinks, empty directories; .git excluded; sorted bytewise', async () => {
    const big = Buffer.alloc((1 << 20) * 2 + 17, 7);
    const root = tree({
      'bin/app': { content: '#!/bin/sh\n', mode: 0o755 },
      'lib/a.js': 'a',
      'lib/a-b.js': 'ab',
      'lib/empty.txt': '',
      'lib/exact': Buffer.alloc(1 << 20, 1),
      'big.bin': big,
      'link-to-lib': { link: 'lib/a.js' },
      'empty-dir': { dir: true },
      '.git/HEAD': 'ref: refs/heads/main',
      'only-excluded/.git/x': 'x',
      'é.txt': 'nfc',
    });
    const m = await walkDirectory(root, DEFAULT_RULES);
    const expected: ManifestEntry[] = [
      { path: 'big.bin', kind: 'file', size: big.length, sha256: sha(big), executable: false },
      { path: 'bin/app', kind: 'file', size: 10, sha256: sha('#!/bin/sh\n'), executable: true },
      { path: 'empty-dir', kind: 'dir' },
      { path: 'lib/a-b.js', kind: 'file', size: 2, sha256: sha('ab'), executable: false },
      { path: 'lib/a.js', kind: 'file', size: 1, sha256: sha('a'), executable: false },
      { path: 'lib/empty.txt', kind: 'file', size: 0, sha256: sha(''), executable: false },
      { path: 'lib/exact', kind: 'file', size: 1 << 20, sha256: sha(Buffer.alloc(1 << 20, 1)), executable: false },
      { path: 'link-to-lib', kind: 'symlink', target: 'lib/a.js' },
      { path: 'only-excluded', kind: 'dir' },
      { path: 'é.txt', kind: 'file', size: 3, sha256: sha('nfc'), executable: false },
    ];
    assert.deepEqual(entriesOf(m), expected);
    assert.equal(m.stats.files, 7);
    assert.equal(m.stats.hashed, 7);
  });

  it('lists files in UTF-8 byte order across directories (a-b < a.c < a/x), without a global sort', async () => {
    // '-' and '.' sort below '/', so files beside a directory interleave with its entries; U+E000 sorts below
    // the supplementary planes in UTF-8 but above them in UTF-16.
    const names = [
      'a-b',
      'a.c',
      'a/x',
      'a/y-z',
      'a/y/w',
      'a/y.q',
      'a0',
      'b/\ue000',
      'b/\u{1f600}',
      'b/\u{1f600}/c',
      'ab/c',
    ];
    const spec: Record<string, Node> = {};
    for (const n of names.filter((n) => n !== 'b/\u{1f600}')) spec[n] = n;
    spec['e/empty'] = { dir: true };
    spec['e-'] = 'e-';
    const root = tree(spec);
    const m = await walkDirectory(root, DEFAULT_RULES);
    const paths = (entriesOf(m) as ManifestEntry[]).map((e) => e.path);
    const bytewise = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(paths, bytewise);
    assert.equal(paths.length, names.length + 1);
    assert.ok(paths.includes('e/empty'));
    // The columns give what the same entries as objects give.
    const plain = new EntryList(entriesOf(m) as ManifestEntry[]);
    assert.deepEqual(m.entries.counts(), plain.counts());
    assert.equal(linesText(m.entries), linesText(plain));
  });

  it('hashes thousands of files on several threads with the same result as one thread', async () => {
    const spec: Record<string, Node> = {};
    for (let i = 0; i < 4500; i++) spec[`d${i % 37}/f${i}`] = `content ${i}`;
    const root = tree(spec);
    let calls = 0;
    const two = await walkDirectory(root, DEFAULT_RULES, { concurrency: 3, onProgress: () => calls++ });
    const one = await walkDirectory(root, DEFAULT_RULES, { concurrency: 1 });
    assert.deepEqual(entriesOf(two), entriesOf(one));
    assert.equal(two.entries.length, 4500);
    const e = (entriesOf(two) as ManifestEntry[]).find((x) => x.path === 'd5/f42');
    assert.deepEqual(e, { path: 'd5/f42', kind: 'file', size: 10, sha256: sha('content 42'), executable: false });
    assert.ok(calls > 0);
  });

  it('a refusal found after the hashing threads started fails the walk and leaves no thread behind', async () => {
    // Files are hashed while the listing goes on: 'z/' is listed after thousands of files are already being hashed.
    const spec: Record<string, Node> = { 'z/pipe': { fifo: true } };
    for (let i = 0; i < 5000; i++) spec[`a${i % 13}/f${i}`] = `x${i}`;
    const root = tree(spec);
    await rejectsWith(() => walkDirectory(root, DEFAULT_RULES, { concurrency: 3 }), 'DIRECTORY_UNSUPPORTED');
    // The same tree verifies (nothing refused): the FIFO is recorded, every file hashed.
    const v = await walkDirectory(root, DEFAULT_RULES, { concurrency: 3, mode: 'verify' });
    assert.equal(v.stats.files, 5000);
    assert.deepEqual(v.entries.at(v.entries.length - 1), { path: 'z/pipe', kind: 'other' });
  });
});

describe('walkDirectory refuses what it will not sign', () => {
  const rows: [string, Record<string, Node>, Partial<DirectoryRules>?][] = [
    ['symlink to an absolute path', { 'a/link': { link: '/etc/passwd' } }],
    ['symlink climbing out', { 'a/link': { link: '../../outside' } }],
    ['symlink to the parent directory', { link: { link: '..' } }],
    ['FIFO', { 'a/pipe': { fifo: true } }],
    ['README and readme', { README: 'x', readme: 'y' }],
    ['NFC and NFD spellings', { 'caf\u00e9': 'x', 'cafe\u0301': 'y' }],
    ['NFD name alone', { 'cafe\u0301': 'y' }],
    ['setuid file', { 'bin/su': { content: 'x', mode: 0o4755 } }],
    ['setgid file', { 'bin/sg': { content: 'x', mode: 0o2755 } }],
    ['control character in a name', { 'a\u001b[31m': 'x' }],
    ['newline in a name', { 'a\nb': 'x' }],
    ['backslash in a name', { 'a\\b': 'x' }],
  ];
  for (const [name, spec, rules] of rows) {
    it(name, async () => {
      const root = tree(spec);
      await rejectsWith(() => walkDirectory(root, { ...DEFAULT_RULES, ...rules }), 'DIRECTORY_UNSUPPORTED');
    });
  }

  it('a socket', async () => {
    const root = tree({ 'x.txt': 'x' });
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve));
    try {
      await rejectsWith(() => walkDirectory(root, DEFAULT_RULES), 'DIRECTORY_UNSUPPORTED');
    } finally {
      server.close();
    }
  });

  it('a character device', async (t) => {
    const root = tree({});
    try {
      const { execFileSync } = await import('node:child_process');
      execFileSync('mknod', [join(root, 'null'), 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      t.skip('mknod needs root');
      return;
    }
    await rejectsWith(() => walkDirectory(root, DEFAULT_RULES), 'DIRECTORY_UNSUPPORTED');
  });

  it('names and symlink targets that are not UTF-8', async () => {
    const root = tree({});
    symlinkSync(Buffer.from([0x61, 0xff]), join(root, 'link'));
    await rejectsWith(() => walkDirectory(root, DEFAULT_RULES), 'DIRECTORY_UNSUPPORTED');
    const root2 = tree({});
    writeFileSync(Buffer.from(`${root2}/b\xff`, 'latin1'), 'x');
    await rejectsWith(() => walkDirectory(root2, DEFAULT_RULES), 'DIRECTORY_UNSUPPORTED');
    const m = await walkDirectory(root2, DEFAULT_RULES, { mode: 'verify' });
    assert.deepEqual(entriesOf(m), [{ path: 'b\ufffd', kind: 'other' }]);
  });

  it('an external symlink is recorded, never followed, when the rules allow it', async () => {
    const root = tree({ 'a/link': { link: '/etc/passwd' } });
    const m = await walkDirectory(root, { ...DEFAULT_RULES, allowExternalSymlinks: true });
    assert.deepEqual(entriesOf(m), [{ path: 'a/link', kind: 'symlink', target: '/etc/passwd' }]);
  });

  it('limits: entries, depth, path length', async () => {
    const root = tree({ 'a/b/c/d': 'x', 'e/f': 'y' });
    await rejectsWith(() => walkDirectory(root, DEFAULT_RULES, { limits: { maxEntries: 4 } }), 'DIRECTORY_UNSUPPORTED');
    await rejectsWith(() => walkDirectory(root, DEFAULT_RULES, { limits: { maxDepth: 3 } }), 'DIRECTORY_UNSUPPORTED');
    await rejectsWith(
      () => walkDirectory(root, DEFAULT_RULES, { limits: { maxPathBytes: 6 } }),
      'DIRECTORY_UNSUPPORTED',
    );
    await rejectsWith(
      () => walkDirectory(root, DEFAULT_RULES, { mode: 'verify', limits: { maxEntries: 4 } }),
      'DIRECTORY_MISMATCH',
    );
    const ok = await walkDirectory(root, DEFAULT_RULES, { limits: { maxEntries: 7, maxDepth: 4, maxPathBytes: 7 } });
    assert.equal(ok.entries.length, 2);
  });

  it('rules the verifier would reject are refused when signing', async () => {
    const root = tree({ a: 'a' });
    await rejectsWith(() => walkDirectory(root, { ...DEFAULT_RULES, excludePaths: ['./a'] }), 'USAGE');
    await rejectsWith(() => walkDirectory(root, { ...DEFAULT_RULES, excludeNames: ['a/b'] }), 'USAGE');
    const { statement } = await directoryStatement(tree({ a: 'a', b: 'b' }), {
      rules: { excludePaths: ['a', 'a'], excludeNames: ['.git', '.git'] },
    });
    assert.deepEqual(statement.predicate.rules, {
      excludeNames: ['.git'],
      excludePaths: ['a'],
      signatureFiles: [],
      allowExternalSymlinks: false,
    });
  });

  it('a path that is not a directory', async () => {
    const root = tree({ f: 'x' });
    await rejectsWith(() => walkDirectory(join(root, 'f'), DEFAULT_RULES), 'TARGET_INVALID');
    await rejectsWith(() => walkDirectory(join(root, 'nope'), DEFAULT_RULES), 'FILE_NOT_FOUND');
  });
});

describe('hashFiles opens without following or blocking', () => {
  it('a FIFO or symlink swapped in after the listing is reported, and the walk does not hang', async () => {
    const root = tree({ ok: 'fine', pipe: { fifo: true }, link: { link: 'ok' } });
    // As if readdir had said all three were regular files.
    const r = await hashFiles(root, ['ok', 'pipe', 'link']);
    assert.deepEqual([...r.status], [FileStatus.Hashed, FileStatus.NotFile, FileStatus.Symlink]);
    assert.equal(Buffer.from(r.digests.buffer, 0, 32).toString('hex'), sha('fine'));
  });

  it('large files are hashed with overlapped reads, to the same digest', async () => {
    const big = Buffer.alloc((4 << 20) * 2 + 5, 3);
    const root = tree({ big: big, small: 'small', 'big-link': { link: 'big' } });
    const r = await hashFiles(root, ['big', 'small', 'big-link'], { largeFile: 1 << 20 });
    assert.deepEqual([...r.status], [FileStatus.Hashed, FileStatus.Hashed, FileStatus.Symlink]);
    assert.equal(Buffer.from(r.digests.buffer, 0, 32).toString('hex'), sha(big));
    assert.equal(r.meta[1], big.length);
    assert.equal(Buffer.from(r.digests.buffer, 32, 32).toString('hex'), sha('small'));
  });

  it('in verify mode, special files and setid bits are recorded for the comparison', async () => {
    const root = tree({ pipe: { fifo: true }, su: { content: 'x', mode: 0o4755 }, 'bad\nname': 'x' });
    const m = await walkDirectory(root, DEFAULT_RULES, { mode: 'verify' });
    assert.deepEqual(entriesOf(m), [
      { path: 'bad\nname', kind: 'other' },
      { path: 'pipe', kind: 'other' },
      { path: 'su', kind: 'file', size: 1, sha256: sha('x'), executable: true, setid: true },
    ]);
  });
});

describe('manifest lines written from the walk', () => {
  it('equal entryLine of every entry, at any chunk size', async () => {
    const spec: Record<string, Node> = {
      'bin/app': { content: 'MZ', mode: 0o755 },
      'q"uote/x': 'q',
      'é/ü.txt': 'u',
      '\u{1F600}': '',
      'big-size': Buffer.alloc(123457, 1),
      empty: { dir: true },
      link: { link: 'bin/app' },
    };
    for (let i = 0; i < 5000; i++) spec[`many/f${i}`] = `${i}`;
    const m = await walkDirectory(tree(spec), DEFAULT_RULES);
    const expected = (entriesOf(m) as ManifestEntry[]).map(entryLine).join('');
    for (const size of [1, 100, 4096, 1 << 18]) {
      // Each chunk is valid until the next is requested: copied as it comes.
      assert.ok(linesText(m.entries, size) === expected, `${size}`);
    }
  });
});

describe("compareManifest over a walk's columns", () => {
  it('reports the same differences as over plain entries', async () => {
    const spec: Record<string, Node> = { 'a/x': 'x', 'a/y': { content: 'y', mode: 0o755 }, b: 'b', l: { link: 'b' } };
    for (let i = 0; i < 50; i++) spec[`many/f${i}`] = `${i}`;
    const root = tree(spec);
    const m = await walkDirectory(root, DEFAULT_RULES, { mode: 'verify' });
    const plain = entriesOf(m) as ManifestEntry[];
    const signedVariants: ManifestEntry[][] = [
      plain,
      plain.map((e) => (e.path === 'a/x' && e.kind === 'file' ? { ...e, sha256: sha('other') } : e)),
      plain.map((e) => (e.path === 'a/x' && e.kind === 'file' ? { ...e, size: 2 } : e)),
      plain.map((e) => (e.path === 'a/y' && e.kind === 'file' ? { ...e, executable: false } : e)),
      plain.map((e) => (e.path === 'a/y' && e.kind === 'file' ? { ...e, setid: true as const } : e)),
      plain.map((e) => (e.path === 'b' ? { path: 'b', kind: 'symlink' as const, target: 'x' } : e)),
      plain.map((e) => (e.path === 'l' ? { path: 'l', kind: 'symlink' as const, target: 'a' } : e)),
      plain.filter((e) => e.path !== 'many/f7'),
      [...plain.slice(0, 2), { path: 'a/z', kind: 'dir' as const }, ...plain.slice(2)],
      [],
    ];
    for (const signed of signedVariants) {
      assert.deepEqual(compareManifest(signed, m.entries), compareManifest(signed, new EntryList(plain)));
    }
    assert.equal(compareManifest(plain, m.entries).length, 0);
    assert.equal(compareManifest(signedVariants[1]!, m.entries)[0]!.type, 'modified');
  });
});

describe('incremental signing', () => {
  it('reuses digests of unchanged files, re-hashes changed ones, keeps the cache outside the tree', async () => {
    const spec: Record<string, Node> = {};
    for (let i = 0; i < 20; i++) spec[`f${i}`] = `v1 ${i}`;
    const root = tree(spec);
    const home = tree({});
    // Old timestamps, so the entries are not "racily clean" against the cache write time.
    const old = new Date(Date.now() - 3600_000);
    for (let i = 0; i < 20; i++) utimesSync(join(root, `f${i}`), old, old);
    const first = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home, racyWindowMs: 0 } });
    assert.equal(first.stats.hashed, 20);
    assert.ok(first.stats.cachePath?.startsWith(join(home, 'cache', 'dir')));
    assert.ok(existsSync(first.stats.cachePath!));
    assert.ok(!first.stats.cachePath!.startsWith(root));
    assert.equal(Object.keys(JSON.parse(readFileSync(first.stats.cachePath!, 'utf8')).files).length, 20);

    const second = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home, racyWindowMs: 0 } });
    assert.equal(second.stats.cached, 20);
    assert.equal(second.stats.hashed, 0);
    assert.deepEqual(entriesOf(second), entriesOf(first));

    // Same size, same mtime restored: the ctime still moves, so the change is caught.
    writeFileSync(join(root, 'f3'), 'v2 3');
    utimesSync(join(root, 'f3'), old, old);
    chmodSync(join(root, 'f4'), 0o755);
    const third = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home, racyWindowMs: 0 } });
    assert.equal(third.stats.hashed, 2);
    assert.equal(third.stats.cached, 18);
    const f3 = (entriesOf(third) as ManifestEntry[]).find((e) => e.path === 'f3');
    assert.deepEqual(f3, { path: 'f3', kind: 'file', size: 4, sha256: sha('v2 3'), executable: false });
    const f4 = (entriesOf(third) as ManifestEntry[]).find((e) => e.path === 'f4');
    assert.ok(f4?.kind === 'file' && f4.executable);
  });

  it('files changed just before the cache was written are re-hashed (racily clean)', async () => {
    const root = tree({ a: 'a', b: 'b' });
    const home = tree({});
    await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home } });
    const again = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home } });
    assert.equal(again.stats.hashed, 2);
    assert.equal(again.stats.cached, 0);
  });

  it('a cache inside the tree is refused', async () => {
    const root = tree({ a: 'a' });
    await rejectsWith(
      () => walkDirectory(root, DEFAULT_RULES, { incremental: { path: join(root, 'c.json') } }),
      'USAGE',
    );
  });

  it('a corrupt cache is ignored, not trusted', async () => {
    const root = tree({ a: 'a' });
    const home = tree({});
    const first = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home, racyWindowMs: 0 } });
    writeFileSync(first.stats.cachePath!, '{"version":1,"writtenAtMs":1e20,"files":{"a":[1,0,0,0,"zz"]}}');
    mkdirSync(join(home, 'unused'), { recursive: true });
    const second = await walkDirectory(root, DEFAULT_RULES, { incremental: { vouchHome: home, racyWindowMs: 0 } });
    assert.equal(second.stats.hashed, 1);
    assert.deepEqual(entriesOf(second), entriesOf(first));
  });
});
