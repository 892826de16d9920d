import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_RULES,
  type Difference,
  defaultRules,
  describeDifference,
  describeDirectory,
  directoryStatement,
  modelSigningStatement,
  verifyDirectoryStatement,
  verifyFileInDirectory,
  walkDirectory,
} from '../../src/artifact/dir/index.ts';
import { type Node, rejectsWith, testTrees, writeNode } from './helpers.ts';

const { tree } = testTrees();

const RELEASE: Record<string, Node> = {
  'bin/app.exe': { content: 'MZ app', mode: 0o755 },
  'bin/tool': 'tool',
  'lib/ffmpeg.dll': 'codec',
  'lib/current': { link: 'ffmpeg.dll' },
  'share/empty': { dir: true },
  'README.md': 'readme',
};

async function signedRelease(): Promise<{ root: string; statement: unknown }> {
  const root = tree(RELEASE);
  const { statement } = await directoryStatement(root, { name: 'release' });
  // Through JSON, as the statement comes out of a DSSE payload.
  return { root, statement: JSON.parse(JSON.stringify(statement)) };
}

describe('verifyDirectoryStatement (vouch format)', () => {
  it('an untouched tree verifies, with counts and the manifest digest', async () => {
    const { root, statement } = await signedRelease();
    const r = await verifyDirectoryStatement(statement, root);
    assert.equal(r.format, 'vouch');
    assert.equal(r.name, 'release');
    assert.deepEqual([r.files, r.symlinks, r.emptyDirectories], [4, 1, 1]);
    assert.equal(describeDirectory(r), `4 files, 1 symlink, 1 empty directory, manifest ${r.manifestDigest}`);
    assert.equal(
      r.manifestDigest,
      `sha256:${(statement as { subject: { digest: { sha256: string } }[] }).subject[0]!.digest.sha256}`,
    );
    assert.equal(r.excluded.found, 0);
    // .git is excluded by the signed rules, so repository metadata appearing later is not a difference, but it is
    // reported (issue 10, 2), and fails when asked.
    writeNode(root, '.git/HEAD', 'ref');
    const again = await verifyDirectoryStatement(statement, root);
    assert.deepEqual(
      [again.excluded.found, again.excluded.foundPaths, again.excluded.excludeNames],
      [1, ['.git'], ['.git']],
    );
    const e = await rejectsWith(
      () => verifyDirectoryStatement(statement, root, { failOnExcluded: true }),
      'DIRECTORY_MISMATCH',
    );
    assert.deepEqual(e.details, [{ type: 'excluded', path: '.git' }]);
  });

  it('reports progress: files hashed, then signed entries checked, each phase ending complete', async () => {
    const { root, statement } = await signedRelease();
    const seen: { filesDone: number; filesTotal: number; phase?: string }[] = [];
    await verifyDirectoryStatement(statement, root, { onProgress: (p) => seen.push({ ...p }) });
    const last = seen.at(-1)!;
    assert.equal(last.phase, 'checking');
    assert.equal(last.filesDone, last.filesTotal);
    // Checking comes after hashing, never before.
    const firstCheck = seen.findIndex((p) => p.phase === 'checking');
    assert.ok(seen.slice(firstCheck).every((p) => p.phase === 'checking'));
  });

  const tampers: [string, (root: string) => void, Partial<Difference>[]][] = [
    [
      'modified file',
      (r) => writeFileSync(join(r, 'lib/ffmpeg.dll'), 'evil codec'),
      [{ type: 'modified', path: 'lib/ffmpeg.dll' }],
    ],
    [
      'side-loaded DLL',
      (r) => writeFileSync(join(r, 'lib/evil.dll'), 'MZ'),
      [{ type: 'added', path: 'lib/evil.dll', kind: 'file' }],
    ],
    ['removed file', (r) => unlinkSync(join(r, 'bin/tool')), [{ type: 'missing', path: 'bin/tool', kind: 'file' }]],
    ['chmod +x', (r) => chmodSync(join(r, 'bin/tool'), 0o755), [{ type: 'mode-changed', path: 'bin/tool' }]],
    ['chmod -x', (r) => chmodSync(join(r, 'bin/app.exe'), 0o644), [{ type: 'mode-changed', path: 'bin/app.exe' }]],
    ['setuid added', (r) => chmodSync(join(r, 'bin/app.exe'), 0o4755), [{ type: 'mode-changed', path: 'bin/app.exe' }]],
    [
      'file swapped for a symlink to identical content',
      (r) => {
        writeFileSync(join(r, 'elsewhere'), 'tool');
        unlinkSync(join(r, 'bin/tool'));
        symlinkSync('../elsewhere', join(r, 'bin/tool'));
      },
      [
        { type: 'kind-changed', path: 'bin/tool', expected: 'file', actual: 'symlink' },
        { type: 'added', path: 'elsewhere' },
      ],
    ],
    [
      'symlink retargeted',
      (r) => {
        unlinkSync(join(r, 'lib/current'));
        symlinkSync('/etc/passwd', join(r, 'lib/current'));
      },
      [{ type: 'modified', path: 'lib/current' }],
    ],
    [
      'FIFO added',
      (r) => writeNode(r, 'lib/pipe', { fifo: true }),
      [{ type: 'added', path: 'lib/pipe', kind: 'other' }],
    ],
    [
      'a name carrying a terminal escape sequence',
      (r) => writeFileSync(join(r, 'lib/\u001b[2Jx'), 'x'),
      [{ type: 'added', path: 'lib/\u001b[2Jx', kind: 'other' }],
    ],
    [
      'symlink retargeted to a name with control characters',
      (r) => {
        unlinkSync(join(r, 'lib/current'));
        symlinkSync('\u001b]0;owned\u0007', join(r, 'lib/current'));
      },
      [{ type: 'modified', path: 'lib/current' }],
    ],
    [
      'directory swapped for a symlink to an identical copy elsewhere',
      (r) => {
        const copy = tree({ 'ffmpeg.dll': 'codec', current: { link: 'ffmpeg.dll' } });
        rmSync(join(r, 'lib'), { recursive: true });
        symlinkSync(copy, join(r, 'lib'));
      },
      [
        { type: 'added', path: 'lib', kind: 'symlink' },
        { type: 'missing', path: 'lib/current' },
        { type: 'missing', path: 'lib/ffmpeg.dll' },
      ],
    ],
    [
      'empty directory removed',
      (r) => rmSync(join(r, 'share/empty'), { recursive: true }),
      [{ type: 'missing', path: 'share/empty', kind: 'dir' }],
    ],
    [
      'file dropped into the empty directory',
      (r) => writeNode(r, 'share/empty/x', 'x'),
      [{ type: 'added', path: 'share/empty/x' }],
    ],
    ['empty directory added', (r) => writeNode(r, 'new', { dir: true }), [{ type: 'added', path: 'new', kind: 'dir' }]],
    [
      'README renamed to readme.md',
      (r) => {
        writeFileSync(join(r, 'readme.md'), 'readme');
        unlinkSync(join(r, 'README.md'));
      },
      [
        { type: 'missing', path: 'README.md' },
        { type: 'added', path: 'readme.md' },
      ],
    ],
    [
      'several at once are all listed',
      (r) => {
        writeFileSync(join(r, 'lib/evil.dll'), 'MZ');
        writeFileSync(join(r, 'lib/ffmpeg.dll'), 'x');
        unlinkSync(join(r, 'README.md'));
      },
      [
        { type: 'missing', path: 'README.md' },
        { type: 'added', path: 'lib/evil.dll' },
        { type: 'modified', path: 'lib/ffmpeg.dll' },
      ],
    ],
  ];
  for (const [name, tamper, expected] of tampers) {
    it(`${name} is caught`, async () => {
      const { root, statement } = await signedRelease();
      tamper(root);
      const e = await rejectsWith(() => verifyDirectoryStatement(statement, root), 'DIRECTORY_MISMATCH');
      const details = e.details as Difference[];
      // Paths print escaped, so a hostile name cannot move the terminal cursor.
      for (const d of details) assert.doesNotMatch(describeDifference(d), /[\u0000-\u001f]/);
      assert.equal(details.length, expected.length, JSON.stringify(details));
      expected.forEach((want, i) => {
        for (const [k, v] of Object.entries(want))
          assert.equal((details[i] as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(details[i])}`);
      });
    });
  }

  it('the signature files inside the tree are left out by a recorded rule; nothing else is ignored', async () => {
    const root = tree(RELEASE);
    const bundlePath = join(root, 'release.sigstore.json');
    const { statement } = await directoryStatement(root, { bundlePath });
    assert.deepEqual((statement.predicate.rules as { signatureFiles: string[] }).signatureFiles, [
      'release.manifest.jsonl',
      'release.sigstore.json',
    ]);
    writeFileSync(bundlePath, '{}');
    const st = JSON.parse(JSON.stringify(statement));
    // Content at a signature file's path that is not the file being read is reported like any excluded content.
    assert.equal((await verifyDirectoryStatement(st, root)).excluded.found, 1);
    const { dev, ino } = statSync(bundlePath);
    assert.equal((await verifyDirectoryStatement(st, root, { ownFiles: [{ dev, ino }] })).excluded.found, 0);
    // Any other path, also one given as the bundle, is compared (issue 10, 3).
    writeFileSync(join(root, 'install.sh'), '{}');
    const e = await rejectsWith(
      () => verifyDirectoryStatement(st, root, { ownFiles: [{ dev, ino }] }),
      'DIRECTORY_MISMATCH',
    );
    assert.deepEqual(e.details, [{ type: 'added', path: 'install.sh', kind: 'file' }]);
    await rejectsWith(() => verifyDirectoryStatement(st, root, { ignorePaths: ['install.sh'] }), 'USAGE');
  });

  it('a hostile statement is refused before the disk is touched', async () => {
    const { statement } = await signedRelease();
    const st = statement as { predicate: { rules: { excludePaths: string[] } } };
    st.predicate.rules.excludePaths = ['../../etc'];
    await rejectsWith(() => verifyDirectoryStatement(st, join(tree({}), 'nope')), 'MANIFEST_INVALID');
  });
});

describe('verifyFileInDirectory', () => {
  it('checks one file against its signed entry', async () => {
    const { root, statement } = await signedRelease();
    const r = await verifyFileInDirectory(statement, join(root, 'bin/app.exe'), 'bin/app.exe');
    assert.equal(r.sha256, createHash('sha256').update('MZ app').digest('hex'));
    assert.equal(r.size, 6);
    // The file may be verified from anywhere (copied out of the release).
    const copy = tree({ 'app.exe': { content: 'MZ app', mode: 0o755 } });
    await verifyFileInDirectory(statement, join(copy, 'app.exe'), './bin/app.exe');
  });

  it('reports each failure with its code', async () => {
    const { root, statement } = await signedRelease();
    await rejectsWith(
      () => verifyFileInDirectory(statement, join(root, 'bin/app.exe'), 'bin/other.exe'),
      'PATH_NOT_SIGNED',
    );
    await rejectsWith(
      () => verifyFileInDirectory(statement, join(root, 'lib/current'), 'lib/current'),
      'PATH_NOT_SIGNED',
    );
    await rejectsWith(() => verifyFileInDirectory(statement, join(root, 'bin/app.exe'), '../bin/app.exe'), 'USAGE');
    await rejectsWith(() => verifyFileInDirectory(statement, join(root, 'bin/tool'), 'bin/app.exe'), 'DIGEST_MISMATCH');
    await rejectsWith(() => verifyFileInDirectory(statement, join(root, 'nope'), 'bin/app.exe'), 'FILE_NOT_FOUND');
    await rejectsWith(
      () => verifyFileInDirectory(statement, join(root, 'lib/current'), 'lib/ffmpeg.dll'),
      'DIRECTORY_MISMATCH',
    );
    chmodSync(join(root, 'bin/app.exe'), 0o644);
    await rejectsWith(
      () => verifyFileInDirectory(statement, join(root, 'bin/app.exe'), 'bin/app.exe'),
      'DIRECTORY_MISMATCH',
    );
  });
});

describe('OpenSSF model-signing format', () => {
  /** The reference implementation's sample_model_folder (tests/conftest.py in sigstore/model-transparency). */
  function sampleModel(): string {
    const spec: Record<string, Node> = {};
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) spec[`d${i}/f${i}${j}`] = `This is file f${i}${j} in d${i}.`;
    for (let i = 0; i < 4; i++) spec[`f${i}`] = `This is file f${i} in root.`;
    return tree(spec);
  }
  const golden = JSON.parse(
    readFileSync(new URL('./fixtures/model-signing-sample_model_folder.json', import.meta.url), 'utf8'),
  );

  it("the reference implementation's golden statement verifies against its tree", async () => {
    const root = sampleModel();
    const r = await verifyDirectoryStatement(golden, root);
    assert.equal(r.format, 'model-signing');
    assert.equal(r.name, 'sample_model');
    assert.equal(r.files, 10);
    assert.equal(r.bytes, 6 * 23 + 4 * 24);
    assert.equal(r.manifestDigest, `sha256:${golden.subject[0].digest.sha256}`);
  });

  it("the reference implementation's deep_model_folder golden statement verifies, and vouch reproduces it", async () => {
    const spec: Record<string, Node> = {};
    for (let i = 0; i < 4; i++) spec[`d0/d1/d2/d3/d4/f${i}`] = `This is file f${i}.`;
    const root = tree(spec);
    const deep = JSON.parse(
      readFileSync(new URL('./fixtures/model-signing-deep_model_folder.json', import.meta.url), 'utf8'),
    );
    assert.equal((await verifyDirectoryStatement(deep, root)).files, 4);
    const w = await walkDirectory(root, defaultRules('model-signing'));
    const st = modelSigningStatement(w.entries, w.rules, 'deep_model');
    assert.deepEqual(st.subject, deep.subject);
  });

  it('vouch produces the same subject digest and resources for that tree', async () => {
    const root = sampleModel();
    const m = await walkDirectory(root, defaultRules('model-signing'));
    const st = modelSigningStatement(m.entries, m.rules, 'sample_model');
    assert.deepEqual(st.subject, golden.subject);
    assert.deepEqual(
      (st.predicate.resources as unknown[]).map((r) => JSON.stringify(r, ['name', 'algorithm', 'digest'])),
      golden.predicate.resources.map((r: unknown) => JSON.stringify(r, ['name', 'algorithm', 'digest'])),
    );
    assert.deepEqual(st.predicate.serialization, {
      method: 'files',
      hash_type: 'sha256',
      allow_symlinks: false,
      ignore_paths: ['.git'],
    });
    await verifyDirectoryStatement(JSON.parse(JSON.stringify(st)), root);
  });

  it('a changed, added or removed file fails', async () => {
    for (const [tamper, type] of [
      [(r: string) => writeFileSync(join(r, 'd1/f11'), 'poisoned weights'), 'modified'],
      [(r: string) => writeFileSync(join(r, 'd1/extra.bin'), 'x'), 'added'],
      [(r: string) => unlinkSync(join(r, 'f2')), 'missing'],
    ] as const) {
      const root = sampleModel();
      tamper(root);
      const e = await rejectsWith(() => verifyDirectoryStatement(golden, root), 'DIRECTORY_MISMATCH');
      assert.equal((e.details as Difference[])[0]!.type, type);
    }
  });

  it('a setuid bit or a special file added after signing fails (issue 10, 6)', async () => {
    const root = sampleModel();
    chmodSync(join(root, 'd0/f00'), 0o4755);
    const e = await rejectsWith(() => verifyDirectoryStatement(golden, root), 'DIRECTORY_MISMATCH');
    assert.deepEqual(
      (e.details as Difference[]).map((d) => `${d.type} ${d.path}`),
      ['mode-changed d0/f00'],
    );
    const other = sampleModel();
    writeNode(other, 'd1/pipe', { fifo: true });
    const f = await rejectsWith(() => verifyDirectoryStatement(golden, other), 'DIRECTORY_MISMATCH');
    assert.deepEqual(
      (f.details as Difference[]).map((d) => `${d.type} ${d.path}`),
      ['added d1/pipe'],
    );
  });

  it('ignore paths, signed or given by the verifier, are part of the result with what they left out', async () => {
    const root = sampleModel();
    writeFileSync(join(root, 'model.sig'), '{}');
    const r = await verifyDirectoryStatement(golden, root, { ignorePaths: ['model.sig'] });
    assert.deepEqual(
      [r.excluded.ignorePaths, r.excluded.found, r.excluded.foundPaths],
      [['model.sig'], 1, ['model.sig']],
    );
    await rejectsWith(
      () => verifyDirectoryStatement(golden, root, { ignorePaths: ['model.sig'], failOnExcluded: true }),
      'DIRECTORY_MISMATCH',
    );
    // Ignoring everything the signature lists is not a verification.
    const st = structuredClone(golden);
    st.predicate.resources = [];
    st.subject[0].digest.sha256 = createHash('sha256').digest('hex');
    await rejectsWith(
      () => verifyDirectoryStatement(st, root, { ignorePaths: ['d0', 'd1', 'f0', 'f1', 'f2', 'f3', 'model.sig'] }),
      'MANIFEST_INVALID',
    );
  });

  it('the signature file inside the model directory can be left out; ignore_paths are honoured', async () => {
    const root = sampleModel();
    writeFileSync(join(root, 'model.sig'), '{}');
    await rejectsWith(() => verifyDirectoryStatement(golden, root), 'DIRECTORY_MISMATCH');
    await verifyDirectoryStatement(golden, root, { ignorePaths: ['model.sig'] });
    await verifyDirectoryStatement(golden, root, { ignorePaths: ['./model.sig'] });
    await rejectsWith(() => verifyDirectoryStatement(golden, root, { ignorePaths: ['../model.sig'] }), 'USAGE');
    const withIgnore = structuredClone(golden);
    withIgnore.predicate.serialization.ignore_paths = ['model.sig'];
    await verifyDirectoryStatement(withIgnore, root);
  });

  it('allow_symlinks: an in-tree link counts as its target content; otherwise it is a difference', async () => {
    const root = sampleModel();
    const alt = tree({ f3: 'This is file f3 in root.' });
    unlinkSync(join(root, 'f3'));
    symlinkSync('d0/f00', join(root, 'f3'));
    await rejectsWith(() => verifyDirectoryStatement(golden, root), 'DIRECTORY_MISMATCH');
    unlinkSync(join(root, 'f3'));
    writeFileSync(join(root, 'real-f3'), 'This is file f3 in root.');
    symlinkSync('real-f3', join(root, 'f3'));
    const e = await rejectsWith(() => verifyDirectoryStatement(golden, root), 'DIRECTORY_MISMATCH');
    assert.deepEqual(
      (e.details as Difference[]).map((d) => `${d.type} ${d.path}`),
      ['added real-f3'],
    );
    unlinkSync(join(root, 'f3'));
    symlinkSync(join(alt, 'f3'), join(root, 'f3'));
    // A link leading outside the model is never followed, even with allow_symlinks.
    const e2 = await rejectsWith(
      () => verifyDirectoryStatement(golden, root, { ignorePaths: ['real-f3'] }),
      'DIRECTORY_MISMATCH',
    );
    assert.deepEqual(
      (e2.details as Difference[]).map((d) => d.type),
      ['kind-changed'],
    );
    const strict = structuredClone(golden);
    strict.predicate.serialization.allow_symlinks = false;
    unlinkSync(join(root, 'f3'));
    symlinkSync('real-f3', join(root, 'f3'));
    await rejectsWith(() => verifyDirectoryStatement(strict, root, { ignorePaths: ['real-f3'] }), 'DIRECTORY_MISMATCH');
  });

  type MsStatement = {
    subject: unknown[];
    predicate: { serialization: Record<string, unknown>; resources: Record<string, unknown>[] };
  };
  const bad: [string, (s: MsStatement) => void, string][] = [
    [
      'root digest mismatch',
      (s) => {
        s.predicate.resources[0]!.digest = '0'.repeat(64);
      },
      'MANIFEST_INVALID',
    ],
    [
      'reordered resources (root digest covers the order)',
      (s) => {
        s.predicate.resources.reverse();
      },
      'MANIFEST_INVALID',
    ],
    [
      'duplicate resource',
      (s) => {
        s.predicate.resources.push(s.predicate.resources[0]!);
      },
      'MANIFEST_INVALID',
    ],
    [
      'resource ../',
      (s) => {
        s.predicate.resources[0]!.name = '../d0/f00';
      },
      'MANIFEST_INVALID',
    ],
    [
      'absolute resource',
      (s) => {
        s.predicate.resources[0]!.name = '/d0/f00';
      },
      'MANIFEST_INVALID',
    ],
    [
      'two subjects',
      (s) => {
        s.subject.push(s.subject[0]);
      },
      'MANIFEST_INVALID',
    ],
    [
      'shards method',
      (s) => {
        s.predicate.serialization.method = 'shards';
      },
      'BUNDLE_UNSUPPORTED',
    ],
    [
      'blake2 hash',
      (s) => {
        s.predicate.serialization.hash_type = 'blake2';
      },
      'BUNDLE_UNSUPPORTED',
    ],
    [
      'allow_symlinks missing',
      (s) => {
        delete s.predicate.serialization.allow_symlinks;
      },
      'MANIFEST_INVALID',
    ],
    [
      'ignore path ../',
      (s) => {
        s.predicate.serialization.ignore_paths = ['../x'];
      },
      'MANIFEST_INVALID',
    ],
    // Issue 10, 6: as strict as the vouch format.
    [
      'unknown serialization member',
      (s) => {
        s.predicate.serialization.shard_size = 1000;
      },
      'MANIFEST_INVALID',
    ],
    [
      'unknown resource member',
      (s) => {
        s.predicate.resources[0]!.size = 23;
      },
      'MANIFEST_INVALID',
    ],
    [
      'unknown predicate member',
      (s) => {
        (s.predicate as Record<string, unknown>).extra = {};
      },
      'MANIFEST_INVALID',
    ],
    [
      'unknown statement member',
      (s) => {
        (s as Record<string, unknown>).extra = 1;
      },
      'MANIFEST_INVALID',
    ],
    [
      'resources colliding by case (LIB/lib)',
      (s) => {
        s.predicate.resources.push({ ...s.predicate.resources[0]!, name: 'D0/f00' });
      },
      'MANIFEST_INVALID',
    ],
    [
      'a resource under an ignored path',
      (s) => {
        s.predicate.serialization.ignore_paths = ['d0'];
      },
      'MANIFEST_INVALID',
    ],
  ];
  for (const [name, mutate, code] of bad) {
    it(`hostile statement: ${name}`, async () => {
      const s = structuredClone(golden);
      mutate(s);
      await rejectsWith(() => verifyDirectoryStatement(s, sampleModel()), code);
    });
  }

  it('symlinks cannot be signed in this format (vouch never follows them)', async () => {
    const root = tree({ a: 'a', l: { link: 'a' } });
    const m = await walkDirectory(root, defaultRules('model-signing'));
    await rejectsWith(() => modelSigningStatement(m.entries, m.rules, 'x'), 'DIRECTORY_UNSUPPORTED');
    const withNames = await walkDirectory(tree({ a: 'a' }), DEFAULT_RULES);
    await rejectsWith(() => modelSigningStatement(withNames.entries, withNames.rules, 'x'), 'USAGE');
  });
});
