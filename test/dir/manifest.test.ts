import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  compareManifest,
  DEFAULT_RULES,
  EntryList,
  entryLine,
  type ManifestEntry,
  parseDirectoryStatement,
  parseLine,
  verifyDirectoryStatement,
} from '../../src/artifact/dir/index.ts';
import { compareComponentwise, comparePaths, pathProblem } from '../../src/artifact/dir/paths.ts';
import { canonicalJson } from '../../src/core/json.ts';
import { fileLine, linesText, rejectsWith, statementOver, testTrees } from './helpers.ts';

const { tree } = testTrees();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (path: string, content = path, executable = false): ManifestEntry => ({
  path,
  kind: 'file',
  size: Buffer.byteLength(content),
  sha256: sha(content),
  executable,
});

describe('paths', () => {
  it('sort bytewise on UTF-8, not on UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 9F 98 80), though its UTF-16 unit is larger.
    const list = ['\u{1F600}', '\uff5e', 'a/b', 'a-b', 'a', 'B', '\u00e9'];
    const sorted = [...list].sort(comparePaths);
    const bytewise = [...list].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(sorted, bytewise);
    assert.deepEqual(sorted, ['B', 'a', 'a-b', 'a/b', '\u00e9', '\uff5e', '\u{1F600}']);
    // model-signing sorts by component: a/b before a-b.
    assert.deepEqual(['a-b/c', 'a/b'].sort(compareComponentwise), ['a/b', 'a-b/c']);
  });

  it('canonical path rules', () => {
    assert.equal(pathProblem('a/b.txt'), undefined);
    assert.equal(pathProblem('\u00e9/\u{1F600}'), undefined);
    for (const p of ['', '/a', 'a/', 'a//b', './a', 'a/./b', 'a/../b', '..', 'a\\b', 'a\0b', 'a\tb', 'a\u0085b']) {
      assert.ok(pathProblem(p), JSON.stringify(p));
    }
    assert.ok(pathProblem('cafe\u0301'));
    assert.ok(pathProblem('a\ud800b'));
    assert.ok(pathProblem('x'.repeat(4097)));
    assert.ok(pathProblem(Array(257).fill('d').join('/')));
  });
});

describe('the canonical manifest lines', () => {
  it('one canonical JSON object and a newline per entry', () => {
    const entries = [
      file('a'),
      { path: 'b', kind: 'symlink', target: 'a' } as ManifestEntry,
      { path: 'c', kind: 'dir' } as ManifestEntry,
    ];
    const text =
      `{"executable":false,"kind":"file","path":"a","sha256":"${sha('a')}","size":1}\n` +
      '{"kind":"symlink","path":"b","target":"a"}\n{"kind":"dir","path":"c"}\n';
    assert.equal(entries.map(entryLine).join(''), text);
    assert.equal(linesText(new EntryList(entries), 7), text);
  });

  it('the line writer is exactly canonical JSON, and the line parser reads back only that spelling', () => {
    const names = ['a', 'caf\u00e9', '\u{1F600}/x', 'quote"s', '\u2028sep', 'dir/sub dir/f.txt', 'del\u007f'];
    for (const path of names) {
      for (const e of [
        file(path, path, true),
        { ...(file(path) as object), size: 2 ** 40 } as ManifestEntry,
        { path, kind: 'symlink', target: `../${path}\u00e9"\u0001\\` } as ManifestEntry,
        { path, kind: 'dir' } as ManifestEntry,
      ]) {
        const line = entryLine(e);
        const { path: _p, kind: _k, ...rest } = e as unknown as Record<string, unknown>;
        assert.equal(line, `${canonicalJson({ path: e.path, kind: e.kind, ...rest })}\n`);
        const b = Buffer.from(line);
        assert.deepEqual(parseLine(b, 0, b.length - 1), e);
      }
    }
  });

  // Each the same entry in another spelling JSON allows, or a broken one: refused.
  const ok = `{"executable":false,"kind":"file","path":"a","sha256":"${sha('a')}","size":1}`;
  const lines: [string, string][] = [
    ['whitespace', ok.replace(',"kind"', ', "kind"')],
    ['members in another order', `{"kind":"file","executable":false,"path":"a","sha256":"${sha('a')}","size":1}`],
    ['an unknown member', ok.replace('}', ',"mode":420}')],
    ['a missing member', ok.replace(',"size":1', '')],
    ['an escaped letter', ok.replace('"path":"a"', '"path":"\\u0061"')],
    ['an escaped slash', '{"kind":"dir","path":"a\\/b"}'],
    ['a raw control character', '{"kind":"symlink","path":"l","target":"a\u0001"}'],
    ['a control character escaped in upper case', '{"kind":"symlink","path":"l","target":"a\\u001B"}'],
    ['an upper-case digest', ok.replace(sha('a'), sha('a').toUpperCase())],
    ['a short digest', ok.replace(sha('a'), sha('a').slice(2))],
    ['a size with a leading zero', ok.replace('"size":1', '"size":01')],
    ['a size in exponent form', ok.replace('"size":1', '"size":1e0')],
    ['a negative size', ok.replace('"size":1', '"size":-1')],
    ['a fractional size', ok.replace('"size":1', '"size":1.0')],
    ['a size past 2^53', ok.replace('"size":1', '"size":9007199254740993')],
    ['executable as a string', ok.replace('false', '"false"')],
    ['kind other', '{"kind":"other","path":"a"}'],
    ['trailing text', `${ok}x`],
    ['an unterminated string', '{"kind":"dir","path":"a}'],
    ['not UTF-8', '{"kind":"dir","path":"a\udcff"}'],
    ['a JSON array', `[${ok}]`],
    ['an empty line', ''],
  ];
  for (const [name, line] of lines) {
    it(`line refused: ${name}`, async () => {
      const b =
        name === 'not UTF-8'
          ? Buffer.from([...Buffer.from('{"kind":"dir","path":"a'), 0xff, ...Buffer.from('"}')])
          : Buffer.from(line);
      await rejectsWith(() => parseLine(b, 0, b.length), 'MANIFEST_INVALID');
    });
  }
});

describe('hostile manifests are MANIFEST_INVALID', () => {
  const f = (path: string) => fileLine(path, 'x');
  const rules = (r: Record<string, unknown>) => ({ rules: { ...DEFAULT_RULES, ...r } });
  const rows: [string, string, Parameters<typeof statementOver>[1]?][] = [
    ['../ escape', f('../etc/passwd')],
    ['absolute path', f('/etc/passwd')],
    ['a/./b', f('a/./b')],
    ['a/../b', f('a/../b')],
    ['empty component', f('a//b')],
    ['trailing slash', f('a/')],
    ['backslash', f('a\\b')],
    ['NUL', f('a\u0000b')],
    ['escape sequence', f('a\u001b[2Jb')],
    ['NFD spelling', f('cafe\u0301')],
    ['duplicate entries', f('a') + f('a')],
    ['non-canonical order', f('b') + f('a')],
    ['UTF-16 order instead of UTF-8', f('\u{1F600}') + f('\uff5e')],
    ['README and readme', f('README') + f('readme')],
    ['directories A and a', f('A/x') + f('a/y')],
    ['directories d/A and d/a, apart in a subdirectory', f('d/A/x') + f('d/B') + f('d/a/y')],
    ['file d/README and directory d/readme, apart', f('d/README') + f('d/b') + f('d/readme/x')],
    ['directory and file differing by case', f('Lib') + f('lib/x')],
    ['directories \u00c9 and \u00e9 (non-ASCII case)', f('\u00c9/x') + f('\u00e9/y')],
    // U+00FF sorts before its capital U+0178: the lower-case spelling comes first.
    ['\u00ff and \u0178 (lower case first)', f('\u00ff') + f('\u0178')],
    ['directory \u00ff and file \u0178 (lower case first)', f('\u00ff/a') + f('\u0178')],
    // Georgian: Mtavruli capitals (U+1C90..) sort after their Mkhedruli lower case (U+10D0..).
    [
      'Georgian capital and small letter, far apart',
      f('a') + f('\u10d0/a') + f('\u10d0/b') + f('\u10d1') + f('\u1c90'),
    ],
    ['entry under a file, not adjacent', f('a') + f('a-b') + f('a/b')],
    ['entry under a file', f('a') + f('a/b')],
    ['entry under an empty dir', '{"kind":"dir","path":"a"}\n' + f('a/b')],
    ['symlink leaving the tree', '{"kind":"symlink","path":"l","target":"../../x"}\n'],
    ['symlink with NUL', '{"kind":"symlink","path":"l","target":"a\\u0000b"}\n'],
    ['symlink with a lone surrogate', '{"kind":"symlink","path":"l","target":"a\\ud800"}\n'],
    ['symlink into .git', '{"kind":"symlink","path":"run","target":".git/hooks/post-install"}\n'],
    ['symlink into .GIT (case-insensitive file systems)', '{"kind":"symlink","path":"run","target":".GIT/hooks/x"}\n'],
    [
      'symlink out through another in-tree symlink (issue 10, 1)',
      f('a/b/c/d/x') +
        '{"kind":"symlink","path":"a/b/c/d/up","target":"../../../.."}\n' +
        '{"kind":"symlink","path":"passwd","target":"a/b/c/d/up/../../../../../etc/passwd"}\n',
    ],
    [
      'symlink out through a link to . (issue 10, 1)',
      '{"kind":"symlink","path":"esc","target":"s/../outside.txt"}\n{"kind":"symlink","path":"s","target":"."}\n',
    ],
    ['symlink loop', '{"kind":"symlink","path":"a","target":"b/x"}\n{"kind":"symlink","path":"b","target":"a/y"}\n'],
    ['excluded .git listed', f('.git/config')],
    ['excluded .GIT listed', f('.GIT/config')],
    ['excluded path listed', f('sig.json'), rules({ excludePaths: ['sig.json'] })],
    ['signature file listed', f('sig.json'), rules({ signatureFiles: ['sig.json'] })],
    ['a name excluded by a rule that also has signed entries', f('bin/x'), rules({ excludeNames: ['.git', 'bin'] })],
    ['unknown rule', f('a'), rules({ followSymlinks: true })],
    ['rule path ../', f('a'), rules({ excludePaths: ['../x'] })],
    ['rules not sorted', f('a'), rules({ excludeNames: ['b', 'a'] })],
    ['counts that do not match', f('a'), { counts: { files: 2, symlinks: 0, emptyDirectories: 0, bytes: 2 } }],
    ['bytes that do not match', f('a'), { counts: { files: 1, symlinks: 0, emptyDirectories: 0, bytes: 7 } }],
    ['no final newline', f('a').trimEnd()],
  ];
  for (const [name, manifest, options] of rows) {
    it(name, async () => {
      await rejectsWith(() => verifyDirectoryStatement(statementOver(manifest, options), tree({})), 'MANIFEST_INVALID');
    });
  }

  const statementRows: [string, (s: ReturnType<typeof statementOver>) => void, string][] = [
    ['unknown predicate member', (s) => Object.assign(s.predicate, { note: 'x' }), 'MANIFEST_INVALID'],
    ['unknown statement member', (s) => Object.assign(s, { extra: 1 }), 'MANIFEST_INVALID'],
    ['unknown subject member', (s) => Object.assign((s.subject as object[])[0]!, { uri: 'x' }), 'MANIFEST_INVALID'],
    ['unknown manifest member', (s) => Object.assign(s.predicate.manifest as object, { url: 'x' }), 'MANIFEST_INVALID'],
    [
      'subject digest mismatch',
      (s) => Object.assign((s.subject as { digest: object }[])[0]!.digest, { sha256: sha('') }),
      'MANIFEST_INVALID',
    ],
    ['two subjects', (s) => (s.subject as object[]).push((s.subject as object[])[0]!), 'MANIFEST_INVALID'],
    [
      'not an in-toto v1 statement',
      (s) => Object.assign(s, { _type: 'https://in-toto.io/Statement/v0.1' }),
      'MANIFEST_INVALID',
    ],
    [
      'embedded content not canonical base64',
      (s) =>
        Object.assign(s.predicate.manifest as object, {
          content: `${(s.predicate.manifest as { content: string }).content}\n`,
        }),
      'MANIFEST_INVALID',
    ],
    [
      'embedded content of another size',
      (s) => Object.assign(s.predicate.manifest as object, { size: 1 }),
      'MANIFEST_INVALID',
    ],
    [
      'another manifest media type',
      (s) => Object.assign(s.predicate.manifest as object, { mediaType: 'text/plain' }),
      'BUNDLE_UNSUPPORTED',
    ],
    ['an unknown hash algorithm', (s) => Object.assign(s.predicate, { hashAlgorithm: 'md5' }), 'BUNDLE_UNSUPPORTED'],
    [
      'another predicate',
      (s) => Object.assign(s, { predicateType: 'https://slsa.dev/provenance/v1' }),
      'BUNDLE_UNSUPPORTED',
    ],
    [
      'more than 2,000,000 entries counted',
      (s) => Object.assign(s.predicate.counts as object, { files: 2_000_001 }),
      'MANIFEST_INVALID',
    ],
  ];
  for (const [name, mutate, code] of statementRows) {
    it(`statement: ${name}`, async () => {
      const s = statementOver(f('a'));
      mutate(s);
      await rejectsWith(() => verifyDirectoryStatement(s, tree({ a: 'x' })), code);
    });
  }

  it('caps apply to lowered limits too (a 1001-entry manifest against 1000)', async () => {
    const manifest = Array.from({ length: 1001 }, (_, i) => f(`f${String(i).padStart(4, '0')}`)).join('');
    const st = statementOver(manifest);
    assert.equal(parseDirectoryStatement(st).counts.files, 1001);
    await rejectsWith(() => parseDirectoryStatement(st, { limits: { maxEntries: 1000 } }), 'MANIFEST_INVALID');
  });
});

describe('compareManifest', () => {
  const dir = (path: string): ManifestEntry => ({ path, kind: 'dir' });
  const link = (path: string, target: string): ManifestEntry => ({ path, kind: 'symlink', target });
  it('lists every difference once, by path', () => {
    const signed = [file('a'), file('b'), dir('c'), file('d', 'd', true), link('e', 'a'), file('f'), file('gone/x')];
    const actual = [
      file('a'),
      file('b', 'B'),
      file('c/new'),
      file('d', 'd', false),
      link('e', 'b'),
      link('f', 'a'),
      dir('gone'),
      file('z'),
    ];
    assert.deepEqual(
      compareManifest(signed, new EntryList(actual)).map((d) => `${d.type} ${d.path}`),
      ['modified b', 'added c/new', 'mode-changed d', 'modified e', 'kind-changed f', 'missing gone/x', 'added z'],
    );
    assert.deepEqual(compareManifest(signed, new EntryList(signed)), []);
  });

  it('an empty directory on disk is added unless a signed entry lies beneath it, wherever that entry comes', () => {
    const paths = (signed: ManifestEntry[], actual: ManifestEntry[]) =>
      compareManifest(signed, new EntryList(actual)).map((d) => `${d.type} ${d.path}`);
    // 'd-x' and 'd.y' sort between 'd' and 'd/f' (bytes below '/'): the decision waits for them to pass.
    assert.deepEqual(paths([file('d-x'), file('d.y'), file('d/f')], [dir('d'), file('d-x'), file('d.y')]), [
      'missing d/f',
    ]);
    assert.deepEqual(paths([file('d-x'), file('e')], [dir('d'), file('d-x'), file('e')]), ['added d']);
    assert.deepEqual(paths([file('d-x')], [dir('d'), file('d-x')]), ['added d']);
    assert.deepEqual(paths([file('a'), file('c')], [file('a'), dir('b'), dir('b0'), file('c')]), [
      'added b',
      'added b0',
    ]);
  });

  it('a setuid bit that appeared is a mode change', () => {
    const a = file('a');
    assert.deepEqual(
      compareManifest([a], new EntryList([{ ...(a as object), setid: true } as ManifestEntry])).map((d) => d.type),
      ['mode-changed'],
    );
  });
});
