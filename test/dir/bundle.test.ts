/**
 * Directory signatures in format v2 as files: the small bundle, and the manifest beside it when it is over 1 MiB
 * (embedded below that). `verifyTarget` on real signed trees, then hostile edits of the manifest file and of signed
 * statements, each with its expected code. The official verifier (@sigstore/verify) accepts the bundles, and the
 * manifest checks by hand with SHA-256 against the subject, as docs/formats/directory-manifest.md describes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import { parseTarget } from '../../src/artifact/target.ts';
import { signStatement } from '../../src/sign/bundle.ts';
import { generateKeyPair, parsePrivateKey } from '../../src/sign/keys.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { loadTrustedRoot } from '../../src/verify/index.ts';
import { verifyTarget } from '../../src/workflow/verify.ts';
import { loadCase } from '../helpers/realbundles.ts';
import { EMPTY_ROOT, sigstoreJsVerify } from '../helpers/sigstore-verify.ts';
import { fileLine, makeTree, type Node, rejectsWith, removeTree, statementOver } from './helpers.ts';

const trust = loadTrustedRoot(loadCase('prod-v0.3-hashedrekord').trustedRootText);
const roots: string[] = [];
after(() => roots.forEach(removeTree));
const pair = generateKeyPair('ecdsa-p256', 'pw');
const signer = new KeyPairSigner(parsePrivateKey(pair.privateKeyPem, 'pw'));

/** A tree of `n` files: from about 7,000 its manifest is over 1 MiB and goes beside the bundle. */
function spec(n: number): Record<string, Node> {
  const s: Record<string, Node> = { 'lib/link': { link: 'f-0' }, empty: { dir: true } };
  for (let i = 0; i < n; i++) s[`d${i % 7}/a-longer-file-name-${i}`] = `content ${i}\n`;
  return s;
}

async function signed(s: Record<string, Node>) {
  const root = makeTree(s);
  roots.push(root);
  const bundlePath = `${root}.sigstore.json`;
  const prepared = await directoryStatement(root, { bundlePath });
  const bundle = await signStatement({ signer, witnesses: [] }, prepared.statement);
  await prepared.commit();
  writeFileSync(bundlePath, JSON.stringify(bundle));
  roots.push(bundlePath, `${root}.manifest.jsonl`);
  return { root, bundlePath, manifestPath: prepared.manifestPath, statement: prepared.statement };
}

/** A bundle over exactly this statement, signed with the test key. */
async function signRaw(statement: object, bundlePath: string): Promise<void> {
  const bundle = await signStatement({ signer, witnesses: [] }, statement as never);
  writeFileSync(bundlePath, JSON.stringify(bundle));
}

const run = (root: string, bundle: string, extra: object = {}) =>
  verifyTarget(parseTarget(`dir:${root}`), { keys: [{ spki: pair.publicKeyPem }], trust, bundle, ...extra });

describe('format v2 bundles and manifests', () => {
  let big: Awaited<ReturnType<typeof signed>>;
  let small: Awaited<ReturnType<typeof signed>>;
  let manifest: Buffer;
  before(async () => {
    big = await signed(spec(8000));
    small = await signed(spec(20));
    manifest = readFileSync(big.manifestPath!);
  });

  it('a small tree is one file (embedded manifest), a large one two (the manifest beside the bundle)', async () => {
    assert.equal(small.manifestPath, undefined);
    assert.ok(big.manifestPath?.endsWith('.manifest.jsonl'));
    assert.ok(manifest.length > 1 << 20);
    assert.ok(readFileSync(big.bundlePath).length < 4096, 'the bundle stays small');
    assert.equal((await run(big.root, big.bundlePath)).directory?.files, 8000);
    assert.equal((await run(small.root, small.bundlePath)).directory?.files, 20);
  });

  it('the official verifier accepts both bundles, and the manifest checks by hand against the subject', () => {
    for (const s of [big, small]) {
      const text = readFileSync(s.bundlePath, 'utf8');
      const verdict = sigstoreJsVerify({
        trustedRootJson: EMPTY_ROOT,
        keyPem: pair.publicKeyPem,
        tlogThreshold: 0,
        bundleJson: text,
      });
      assert.deepEqual(verdict, { ok: true });
      // jq -r .dsseEnvelope.payload | base64 -d: the statement; its subject digest is sha256sum of the manifest.
      const statement = JSON.parse(Buffer.from(JSON.parse(text).dsseEnvelope.payload, 'base64').toString());
      const bytes = s.manifestPath
        ? readFileSync(s.manifestPath)
        : Buffer.from(statement.predicate.manifest.content, 'base64');
      assert.equal(createHash('sha256').update(bytes).digest('hex'), statement.subject[0].digest.sha256);
    }
  });

  const manifestEdits: [string, (m: Buffer) => Buffer | string][] = [
    ["swapped for another tree's", () => fileLine('a')],
    ['truncated by one line', (m) => m.subarray(0, m.lastIndexOf(0x0a, m.length - 2) + 1)],
    ['truncated mid-line', (m) => m.subarray(0, m.length - 5)],
    ['extended by a line', (m) => Buffer.concat([m, Buffer.from(fileLine('zz-added'))])],
    ['one byte changed', (m) => Buffer.from(m.toString().replace('a-longer', 'a-lonGer'))],
    ['empty', () => ''],
  ];
  for (const [name, edit] of manifestEdits) {
    it(`the manifest file ${name}: MANIFEST_INVALID`, async () => {
      writeFileSync(big.manifestPath!, edit(manifest));
      try {
        await rejectsWith(() => run(big.root, big.bundlePath), 'MANIFEST_INVALID');
      } finally {
        writeFileSync(big.manifestPath!, manifest);
      }
    });
  }

  it('the manifest file missing: FILE_NOT_FOUND; given elsewhere with --manifest: verified', async () => {
    const elsewhere = `${big.manifestPath}.moved`;
    roots.push(elsewhere);
    writeFileSync(elsewhere, manifest);
    removeTree(big.manifestPath!);
    try {
      await rejectsWith(() => run(big.root, big.bundlePath), 'FILE_NOT_FOUND');
      assert.equal((await run(big.root, big.bundlePath, { manifest: elsewhere })).directory?.files, 8000);
    } finally {
      writeFileSync(big.manifestPath!, manifest);
    }
  });

  it('embedded and detached both present and different: MANIFEST_INVALID; the same bytes: verified', async () => {
    const detached = `${small.root}.manifest.jsonl`;
    const embedded = Buffer.from((small.statement.predicate.manifest as { content: string }).content, 'base64');
    writeFileSync(detached, embedded);
    assert.equal((await run(small.root, small.bundlePath)).directory?.files, 20);
    writeFileSync(detached, Buffer.concat([embedded, Buffer.from(fileLine('zz'))]));
    await rejectsWith(() => run(small.root, small.bundlePath), 'MANIFEST_INVALID');
    removeTree(detached);
  });

  // Manifests a dishonest signer signs, digest and counts made to match: refused by the line checks.
  const signedManifests: [string, (lines: string[]) => string[]][] = [
    ['a duplicate path', (l) => [l[0]!, ...l]],
    ['an unsorted path', (l) => [l[1]!, l[0]!, ...l.slice(2)]],
    ['a line in another spelling', (l) => [l[0]!.replace('{"executable"', '{ "executable"'), ...l.slice(1)]],
    ['a line that is not an entry', (l) => ['{}', ...l]],
  ];
  for (const [name, edit] of signedManifests) {
    it(`a signed manifest with ${name}: MANIFEST_INVALID`, async () => {
      const lines = manifest.toString().split('\n').slice(0, -1);
      const text = `${edit(lines).join('\n')}\n`;
      const bundlePath = `${big.root}.hostile.json`;
      const manifestPath = `${big.root}.hostile.manifest.jsonl`;
      roots.push(bundlePath, manifestPath);
      writeFileSync(manifestPath, text);
      await signRaw(statementOver(text, { embed: false, name: 'x' }), bundlePath);
      await rejectsWith(() => run(big.root, bundlePath), 'MANIFEST_INVALID');
    });
  }

  it('a bundle inside the tree given with --bundle is compared like any file, also through a symlink (issue 10, 3)', async () => {
    const s = await signed(spec(3));
    const inside = join(s.root, 'install.sh');
    writeFileSync(inside, readFileSync(s.bundlePath));
    const e = await rejectsWith(() => run(s.root, inside), 'DIRECTORY_MISMATCH');
    assert.deepEqual(e.details, [{ type: 'added', path: 'install.sh', kind: 'file' }]);
    removeTree(inside);
    symlinkSync(s.bundlePath, join(s.root, 'sig'));
    const l = await rejectsWith(() => run(s.root, join(s.root, 'sig')), 'DIRECTORY_MISMATCH');
    assert.deepEqual(l.details, [{ type: 'added', path: 'sig', kind: 'symlink' }]);
  });

  it('the bundle the signer wrote inside the tree (recorded) is left out and not reported as excluded content', async () => {
    const root = makeTree(spec(3));
    roots.push(root);
    const bundlePath = join(root, 'release.sigstore.json');
    const prepared = await directoryStatement(root, { bundlePath });
    await signRaw(prepared.statement, bundlePath);
    const r = await run(root, bundlePath);
    assert.deepEqual(
      [r.directory?.excluded.found, r.directory?.excluded.signatureFiles],
      [0, ['release.manifest.jsonl', 'release.sigstore.json']],
    );
  });
});
