/**
 * The directory path rules (src/artifact/dir/paths.ts) through their exported functions only: which names and
 * paths are canonical, the order entries are sorted in, which names collide, which symlinks leave the tree. The
 * plain-ASCII fast paths must give the verdict the general rules give, at every edge of their character classes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linkProblem } from '../src/artifact/dir/links.ts';
import {
  assertCanonicalPath,
  collisionKey,
  compareComponentwise,
  comparePaths,
  componentProblem,
  DEFAULT_LIMITS,
  type DirectoryLimits,
  LONE_SURROGATE,
  pathProblem,
  sortByPath,
  sortPaths,
} from '../src/artifact/dir/paths.ts';
import { VouchError } from '../src/errors.ts';

/** Every name here is refused as a component, and as a path, at the start, the middle and the end. */
const BAD_INSIDE = ['\\', '\u0000', '\u0009', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '\ud800', '\udc00'];
const GOOD_CHARS = [' ', '!', '-', '.', '0', '9', ':', '@', 'A', 'Z', '[', ']', '^', '_', '`', 'z', '{', '~'];

describe('canonical path components', () => {
  it('plain names and the dot names', () => {
    for (const c of GOOD_CHARS) {
      assert.equal(componentProblem(`a${c}b`), undefined, JSON.stringify(c));
      assert.equal(componentProblem(`${c}a`), undefined, JSON.stringify(c));
      assert.equal(componentProblem(`a${c}`), undefined, JSON.stringify(c));
    }
    for (const n of ['...', '.a', 'a.', '..a', 'a..', ' ', '~']) assert.equal(componentProblem(n), undefined, n);
    for (const n of ['.', '..', '']) assert.ok(componentProblem(n), JSON.stringify(n));
  });
  it('non-ASCII names in NFC are canonical', () => {
    for (const n of ['\u00e9', 'caf\u00e9', '\u{1F600}', '\uff5e', '\u00a0', 'a\u00a0', '\u00a0a', '\u4e2d\u6587']) {
      assert.equal(componentProblem(n), undefined, JSON.stringify(n));
    }
  });
  it('refused characters anywhere in a name', () => {
    for (const c of [...BAD_INSIDE, '/', '\ufffd']) {
      for (const n of [c, `a${c}`, `${c}a`, `a${c}b`, `\u00e9${c}`, `${c}\u00e9`]) {
        assert.ok(componentProblem(n), JSON.stringify(n));
      }
    }
  });
  it('names not in NFC, with unpaired surrogates or invalid UTF-8 are refused', () => {
    for (const n of ['cafe\u0301', 'e\u0301x', '\u212b', 'a\ud800', '\udc00a', '\ud800\ud800\udc00', 'x\ufffd']) {
      assert.ok(componentProblem(n), JSON.stringify(n));
    }
    assert.equal(componentProblem('\ud83d\ude00'), undefined);
  });
  it('LONE_SURROGATE finds exactly the unpaired halves', () => {
    const rows: [string, boolean][] = [
      ['\ud800', true],
      ['\udc00', true],
      ['a\ud800', true],
      ['\ud800a', true],
      ['\udc00a', true],
      ['a\udc00', true],
      ['\ud800\udc00', false],
      ['a\ud83d\ude00b', false],
      ['\ud800\ud800\udc00', true],
      ['\ud800\udc00\udc00', true],
      ['\udbff\udfff', false],
      ['\ud7ff\ue000', false],
      ['plain', false],
    ];
    for (const [s, lone] of rows) assert.equal(LONE_SURROGATE.test(s), lone, JSON.stringify(s));
  });
});

describe('canonical paths', () => {
  it('plain, nested and non-ASCII paths are canonical', () => {
    for (const p of ['a', 'a/b', 'a/b/c.txt', '.a/..b/...', 'A Z/[x]/~', '\u00e9/\u{1F600}', 'a/\u00e9', '\u00e9/a']) {
      assert.equal(pathProblem(p), undefined, JSON.stringify(p));
    }
  });
  it('empty, absolute, trailing-slash and doubled-slash paths are refused', () => {
    for (const p of ['', '/', '/a', 'a/', 'a//b', '//a', '/\u00e9', '\u00e9/', '\u00e9//a']) {
      assert.ok(pathProblem(p), JSON.stringify(p));
    }
  });
  it('dot components anywhere are refused, dot names are not', () => {
    for (const p of ['.', '..', './a', '../a', 'a/.', 'a/..', 'a/./b', 'a/../b', 'a/./\u00e9', '\u00e9/../a']) {
      assert.ok(pathProblem(p), JSON.stringify(p));
    }
    for (const p of ['.a', 'a/.b', 'a/..b', 'a/b.', 'a/b..', '.../a', 'a/...']) {
      assert.equal(pathProblem(p), undefined, JSON.stringify(p));
    }
  });
  it('refused characters in any component', () => {
    for (const c of [...BAD_INSIDE, '\ufffd']) {
      for (const p of [c, `${c}/a`, `a/${c}`, `a/${c}/b`, `a${c}/b`, `a/b${c}`]) {
        assert.ok(pathProblem(p), JSON.stringify(p));
      }
    }
    assert.ok(pathProblem('a/cafe\u0301'));
    assert.ok(pathProblem('cafe\u0301/a'));
  });
  it('length limit in UTF-8 bytes, at the boundary', () => {
    const limits: DirectoryLimits = { maxEntries: 10, maxPathBytes: 12, maxDepth: 100 };
    assert.equal(pathProblem('a'.repeat(12), limits), undefined);
    assert.ok(pathProblem('a'.repeat(13), limits));
    assert.equal(pathProblem('a/'.repeat(5) + 'ab', limits), undefined);
    assert.ok(pathProblem('a/'.repeat(6) + 'a', limits));
    // Six characters, twelve bytes; seven characters, fourteen bytes.
    assert.equal(pathProblem('\u00e9'.repeat(6), limits), undefined);
    assert.ok(pathProblem('\u00e9'.repeat(7), limits));
    assert.ok(pathProblem(`${'a'.repeat(11)}\u00e9`, limits));
    assert.equal(pathProblem('x'.repeat(DEFAULT_LIMITS.maxPathBytes)), undefined);
    assert.ok(pathProblem('x'.repeat(DEFAULT_LIMITS.maxPathBytes + 1)));
  });
  it('depth limit in components, at the boundary, plain and not', () => {
    const limits: DirectoryLimits = { maxEntries: 10, maxPathBytes: 4096, maxDepth: 4 };
    assert.equal(pathProblem('a/b/c/d', limits), undefined);
    assert.ok(pathProblem('a/b/c/d/e', limits));
    assert.equal(pathProblem('aaaa/b/c/d', limits), undefined);
    assert.ok(pathProblem('aaaa/b/c/d/e', limits));
    assert.equal(pathProblem('\u00e9/b/c/d', limits), undefined);
    assert.ok(pathProblem('\u00e9/b/c/d/e', limits));
    assert.equal(pathProblem(Array(256).fill('d').join('/')), undefined);
    assert.ok(pathProblem(Array(257).fill('d').join('/')));
  });
  it('assertCanonicalPath returns the path or raises the given code', () => {
    assert.equal(assertCanonicalPath('a/b', 'entry'), 'a/b');
    for (const p of [42, null, undefined, ['a'], '../a', '']) {
      assert.throws(
        () => assertCanonicalPath(p, 'entry'),
        (e: unknown) => e instanceof VouchError && e.code === 'MANIFEST_INVALID',
      );
    }
    assert.throws(
      () => assertCanonicalPath('a/../b', 'entry', 'BUNDLE_MALFORMED'),
      (e: unknown) => e instanceof VouchError && e.code === 'BUNDLE_MALFORMED',
    );
    const tight: DirectoryLimits = { maxEntries: 1, maxPathBytes: 3, maxDepth: 8 };
    assert.throws(
      () => assertCanonicalPath('abcd', 'entry', 'MANIFEST_INVALID', tight),
      (e: unknown) => e instanceof VouchError && e.code === 'MANIFEST_INVALID',
    );
    assert.equal(assertCanonicalPath('abc', 'entry', 'MANIFEST_INVALID', tight), 'abc');
  });
});

/** Strings at every edge where UTF-16 and code point order differ. */
const ORDER_SAMPLES = [
  '',
  'a',
  'a/b',
  'a-b',
  'a/b/c',
  'ab',
  'B',
  '\u007f',
  '\u0080',
  '\u00e9',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\uff5e',
  '\uffff',
  '\u{10000}',
  '\u{1F600}',
  '\u{10FFFF}',
  'a\ue000',
  'a\u{10000}',
  'a\ud7ff',
  '\ue000a',
  '\u{10000}a',
];
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

describe('path order', () => {
  it('comparePaths is UTF-8 byte order on every pair', () => {
    for (const a of ORDER_SAMPLES) {
      for (const b of ORDER_SAMPLES) {
        assert.equal(sign(comparePaths(a, b)), sign(utf8Order(a, b)), `${JSON.stringify(a)} ${JSON.stringify(b)}`);
      }
    }
  });
  it('sortByPath and sortPaths sort in UTF-8 byte order, with and without high characters', () => {
    const low = ORDER_SAMPLES.filter((s) => !/[\ud800-\uffff]/.test(s));
    for (const list of [ORDER_SAMPLES, low, ['b', 'a', 'B', 'a/b', 'a-b', 'a', ''], ['\uffff', '\u{10000}']]) {
      const want = [...list].sort(utf8Order);
      for (const order of [list, [...list].reverse()]) {
        assert.deepEqual(sortPaths([...order]), want);
        assert.deepEqual(
          sortByPath(order.map((path) => ({ path }))).map((e) => e.path),
          want,
        );
      }
    }
  });
  it('compareComponentwise orders by component (PurePosixPath), then by depth', () => {
    const rows: [string, string, number][] = [
      ['a/b', 'a-b/c', -1],
      ['a-b/c', 'a/b', 1],
      ['a', 'a/b', -1],
      ['a/b', 'a', 1],
      ['a/b', 'a/b', 0],
      ['a/c', 'a/b', 1],
      ['a/\ue000', 'a/\u{10000}', -1],
      ['b', 'a/z', 1],
    ];
    for (const [a, b, want] of rows) assert.equal(sign(compareComponentwise(a, b)), want, `${a} ${b}`);
  });
});

describe('case and normalisation collisions', () => {
  it('names that one file system would store as one file share a key', () => {
    const groups = [
      ['README', 'readme', 'ReadMe'],
      ['\u00c9t\u00e9', '\u00e9t\u00e9', 'E\u0301te\u0301', 'e\u0301t\u00e9'],
      ['a', 'A'],
    ];
    for (const g of groups) {
      for (const n of g) assert.equal(collisionKey(n), collisionKey(g[0]!), JSON.stringify(n));
    }
    assert.notEqual(collisionKey('a'), collisionKey('b'));
    assert.notEqual(collisionKey('\u00e9'), collisionKey('e'));
    assert.equal(collisionKey('readme'), 'readme');
    assert.equal(collisionKey('Readme'), 'readme');
    assert.equal(collisionKey('\u00c9'), '\u00e9');
  });
});

describe('symlinks that leave the tree (a tree without other links or exclusions)', () => {
  const rows: [string, string, boolean][] = [
    ['a/l', 'b', false],
    ['a/l', '../b', false],
    ['a/l', './../b', false],
    ['a/l', '../../b', true],
    ['a/l', '..//../b', true],
    ['a/b/l', '../../x/../y', false],
    ['a/b/l', '../../../y', true],
    ['l', '..', true],
    ['l', '.', false],
    ['l', './x', false],
    ['l', 'x/../..', true],
    ['l', 'x/..', false],
    ['l', 'x//y', false],
    ['a/l', '/etc/passwd', true],
    ['a/l', '/', true],
    ['a/l', '', true],
  ];
  for (const [link, target, escapes] of rows) {
    it(`${link} -> ${JSON.stringify(target)}`, () => {
      const problem = linkProblem(new Map(), link, target, () => false, false);
      assert.equal(problem, escapes ? 'leaves the directory' : undefined);
    });
  }
});

describe('path order at the top of the surrogate range', () => {
  it('comparePaths: a low surrogate of U+DFFF sorts as the last code unit, above U+E000..U+FFFF', () => {
    // U+10FFFF is D BFF DFFF in UTF-16: its last unit is the one a remap must move above every BMP character.
    const samples = ['\u{10FFFF}', '\u{10FFFE}', '\u{10FC00}', '\u{FFFF}', '\u{E000}', 'a\u{10FFFF}', 'a\u{FFFF}', 'a'];
    for (const a of samples) {
      for (const b of samples) {
        assert.equal(sign(comparePaths(a, b)), sign(utf8Order(a, b)), `${JSON.stringify(a)} ${JSON.stringify(b)}`);
      }
    }
    assert.deepEqual(sortPaths(['\u{10FFFF}', '\u{FFFF}', '\u{10FFFE}']), ['\u{FFFF}', '\u{10FFFE}', '\u{10FFFF}']);
  });
});
