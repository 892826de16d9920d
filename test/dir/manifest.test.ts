import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  buildStatement,
  compareManifest,
  DEFAULT_RULES,
  type ManifestEntry,
  manifestDigest,
  parseDirectoryStatement,
} from '../../src/artifact/dir/index.ts';
import { canonicalEntry, entryJson } from '../../src/artifact/dir/manifest.ts';
import { compareComponentwise, comparePaths, pathProblem, symlinkEscapes } from '../../src/artifact/dir/paths.ts';
import { canonicalJson } from '../../src/core/json.ts';
import { rejectsWith } from './helpers.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (path: string, content = path, executable = false): ManifestEntry => ({
  path,
  kind: 'file',
  size: Buffer.byteLength(content),
  sha256: sha(content),
  executable,
});

/** A statement whose subject digest matches its (possibly hostile) entries, as a malicious signer would make. */
function statementOf(entries: unknown[], rules: unknown = DEFAULT_RULES, extra: Record<string, unknown> = {}) {
  const h = createHash('sha256').update(`[${entries.map(canonicalJson).join(',')}]`);
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'release', digest: { sha256: h.digest('hex') } }],
    predicateType: 'https://vouch.dev/directory/v1',
    predicate: { hashAlgorithm: 'sha256', rules, entries, ...extra },
  };
}

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

  it('symlinks that leave the tree', () => {
    const rows: [string, string, boolean][] = [
      ['a/l', 'b', false],
      ['a/l', '../b', false],
      ['a/l', '../../b', true],
      ['l', '..', true],
      ['l', '.', false],
      ['a/b/l', '../../x/../y', false],
      ['a/l', '/etc/passwd', true],
      ['a/l', '', true],
    ];
    for (const [link, target, escapes] of rows)
      assert.equal(symlinkEscapes(link, target), escapes, `${link} -> ${target}`);
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

describe('the canonical manifest', () => {
  it('digest is SHA-256 of canonical JSON of the sorted entries', () => {
    const entries = [
      file('a'),
      { path: 'b', kind: 'symlink', target: 'a' } as ManifestEntry,
      { path: 'c', kind: 'dir' } as ManifestEntry,
    ];
    const text =
      `[{"executable":false,"kind":"file","path":"a","sha256":"${sha('a')}","size":1},` +
      '{"kind":"symlink","path":"b","target":"a"},{"kind":"dir","path":"c"}]';
    assert.equal(manifestDigest(entries).toString('hex'), sha(text));
    const st = buildStatement({ hashAlgorithm: 'sha256', rules: DEFAULT_RULES, entries }, 'rel', 'vouch');
    assert.equal(st.subject[0]!.digest.sha256, sha(text));
    const parsed = parseDirectoryStatement(JSON.parse(JSON.stringify(st)));
    assert.deepEqual(parsed.entries, entries);
    assert.deepEqual(parsed.rules, DEFAULT_RULES);
  });

  it('the written-out entry serializer is exactly canonical JSON', () => {
    const names = ['a', 'caf\u00e9', '\u{1F600}/x', 'quote"back\\slash', '\u2028sep', 'dir/sub dir/f.txt'];
    for (const path of names) {
      for (const e of [
        file(path, path, true),
        { ...(file(path) as object), size: 2 ** 40 } as ManifestEntry,
        { path, kind: 'symlink', target: `../${path}\u00e9"` } as ManifestEntry,
        { path, kind: 'dir' } as ManifestEntry,
      ]) {
        assert.equal(canonicalEntry(e), canonicalJson(entryJson(e)));
        // The checked form (hex digest, safe-integer size: what parseEntry guarantees) writes the same bytes.
        assert.equal(canonicalEntry(e, true), canonicalJson(entryJson(e)));
      }
    }
  });
});

describe('hostile manifests are MANIFEST_INVALID', () => {
  const f = (path: string) => ({ path, kind: 'file', size: 1, sha256: sha('x'), executable: false });
  const rows: [string, unknown][] = [
    ['../ escape', statementOf([f('../etc/passwd')])],
    ['absolute path', statementOf([f('/etc/passwd')])],
    ['a/./b', statementOf([f('a/./b')])],
    ['a/../b', statementOf([f('a/../b')])],
    ['empty component', statementOf([f('a//b')])],
    ['trailing slash', statementOf([f('a/')])],
    ['backslash', statementOf([f('a\\b')])],
    ['NUL', statementOf([f('a\u0000b')])],
    ['escape sequence', statementOf([f('a\u001b[2Jb')])],
    ['NFD spelling', statementOf([f('cafe\u0301')])],
    ['duplicate entries', statementOf([f('a'), f('a')])],
    ['non-canonical order', statementOf([f('b'), f('a')])],
    ['UTF-16 order instead of UTF-8', statementOf([f('\u{1F600}'), f('\uff5e')])],
    ['README and readme', statementOf([f('README'), f('readme')])],
    ['directories A and a', statementOf([f('A/x'), f('a/y')])],
    ['directory and file differing by case', statementOf([f('Lib'), f('lib/x')])],
    ['directories É and é (non-ASCII case)', statementOf([f('\u00c9/x'), f('\u00e9/y')])],
    // U+00FF ÿ sorts before its capital U+0178 Ÿ: the lower-case spelling comes first.
    ['ÿ and Ÿ (lower case first)', statementOf([f('\u00ff'), f('\u0178')])],
    ['directory ÿ and file Ÿ (lower case first)', statementOf([f('\u00ff/a'), f('\u0178')])],
    // Georgian: Mtavruli capitals (U+1C90..) sort after their Mkhedruli lower case (U+10D0..).
    [
      'ა and Ა, far apart (lower case first)',
      statementOf([f('a'), f('\u10d0/a'), f('\u10d0/b'), f('\u10d1'), f('\u1c90')]),
    ],
    ['entry under a file, not adjacent', statementOf([f('a'), f('a-b'), f('a/b')])],
    ['entry under a file', statementOf([f('a'), f('a/b')])],
    ['entry under an empty dir', statementOf([{ path: 'a', kind: 'dir' }, f('a/b')])],
    ['unknown member', statementOf([{ ...f('a'), mode: 4095 }])],
    ['missing member', statementOf([{ path: 'a', kind: 'file', size: 1, sha256: sha('x') }])],
    ['uppercase digest', statementOf([{ ...f('a'), sha256: sha('x').toUpperCase() }])],
    ['negative size', statementOf([{ ...f('a'), size: -1 }])],
    ['size as a string', statementOf([{ ...f('a'), size: '1' }])],
    ['fractional size', statementOf([{ ...f('a'), size: 1.5 }])],
    ['kind other', statementOf([{ path: 'a', kind: 'other' }])],
    ['symlink leaving the tree', statementOf([{ path: 'l', kind: 'symlink', target: '../../x' }])],
    ['symlink with NUL', statementOf([{ path: 'l', kind: 'symlink', target: 'a\0b' }])],
    ['excluded .git listed', statementOf([f('.git/config')])],
    ['excluded path listed', statementOf([f('sig.json')], { ...DEFAULT_RULES, excludePaths: ['sig.json'] })],
    ['unknown rule', statementOf([f('a')], { ...DEFAULT_RULES, followSymlinks: true })],
    ['rule path ../', statementOf([f('a')], { ...DEFAULT_RULES, excludePaths: ['../x'] })],
    ['unknown predicate member', statementOf([f('a')], DEFAULT_RULES, { note: 'x' })],
    ['subject digest mismatch', { ...statementOf([f('a')]), subject: [{ name: 'r', digest: { sha256: sha('') } }] }],
    [
      'two subjects',
      { ...statementOf([f('a')]), subject: [...statementOf([f('a')]).subject, ...statementOf([f('a')]).subject] },
    ],
    ['not an in-toto v1 statement', { ...statementOf([f('a')]), _type: 'https://in-toto.io/Statement/v0.1' }],
    [
      'entries not an array',
      { ...statementOf([]), predicate: { hashAlgorithm: 'sha256', rules: DEFAULT_RULES, entries: {} } },
    ],
    ['not an object', 'hello'],
  ];
  for (const [name, statement] of rows) {
    it(name, async () => {
      await rejectsWith(() => parseDirectoryStatement(statement), 'MANIFEST_INVALID');
    });
  }

  it('more than 2,000,000 entries is refused before any entry is read', async () => {
    const one = f('a');
    const huge = new Array(2_000_001).fill(one);
    const st = { ...statementOf([one]), predicate: { hashAlgorithm: 'sha256', rules: DEFAULT_RULES, entries: huge } };
    const t0 = performance.now();
    await rejectsWith(() => parseDirectoryStatement(st), 'MANIFEST_INVALID');
    assert.ok(performance.now() - t0 < 500);
  });

  it('caps apply to lowered limits too (a 1001-entry manifest against 1000)', async () => {
    const entries = Array.from({ length: 1001 }, (_, i) => f(`f${String(i).padStart(4, '0')}`));
    const st = statementOf(entries);
    assert.equal(parseDirectoryStatement(st).entries.length, 1001);
    await rejectsWith(() => parseDirectoryStatement(st, { limits: { maxEntries: 1000 } }), 'MANIFEST_INVALID');
  });

  it('an unknown hash algorithm or predicate is unsupported, not invalid', async () => {
    const st = statementOf([f('a')]);
    await rejectsWith(
      () => parseDirectoryStatement({ ...st, predicate: { ...st.predicate, hashAlgorithm: 'md5' } }),
      'BUNDLE_UNSUPPORTED',
    );
    await rejectsWith(
      () => parseDirectoryStatement({ ...st, predicateType: 'https://slsa.dev/provenance/v1' }),
      'BUNDLE_UNSUPPORTED',
    );
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
      compareManifest(signed, actual).map((d) => `${d.type} ${d.path}`),
      ['modified b', 'added c/new', 'mode-changed d', 'modified e', 'kind-changed f', 'missing gone/x', 'added z'],
    );
    assert.deepEqual(compareManifest(signed, signed), []);
  });

  it('an empty directory on disk is added unless a signed entry lies beneath it, wherever that entry comes', () => {
    const paths = (signed: ManifestEntry[], actual: ManifestEntry[]) =>
      compareManifest(signed, actual).map((d) => `${d.type} ${d.path}`);
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
      compareManifest([a], [{ ...(a as object), setid: true } as ManifestEntry]).map((d) => d.type),
      ['mode-changed'],
    );
  });
});
