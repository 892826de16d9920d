/**
 * End to end with the real sign layer and verifier: key-pair sign a directory's statement into a DSSE bundle,
 * verify the bundle with vouch's verifier (`ArtifactInput {kind: 'statement'}`), check the tree against the
 * statement it returns; then tamper with the tree, and with the statement, in each way that matters.
 */
import assert from 'node:assert/strict';
import { chmodSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Difference, verifyDirectoryStatement, verifyFileInDirectory } from '../../src/artifact/dir/index.ts';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import { VouchError } from '../../src/errors.ts';
import { type SerializedBundle, signStatement } from '../../src/sign/bundle.ts';
import { generateKeyPair, parsePrivateKey } from '../../src/sign/keys.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { buildPolicy, loadTrustedRoot, verify } from '../../src/verify/index.ts';
import { loadCase } from '../helpers/realbundles.ts';
import { makeTree, type Node, rejectsWith, removeTree } from './helpers.ts';

const roots: string[] = [];
after(() => roots.forEach(removeTree));

const RELEASE: Record<string, Node> = {
  'bin/app.exe': { content: 'MZ signed app', mode: 0o755 },
  'bin/helper': 'helper',
  'lib/ffmpeg.dll': 'real codec',
  'lib/libssl.so': { link: 'libssl.so.3' },
  'lib/libssl.so.3': 'ssl',
  logs: { dir: true },
};

const pair = generateKeyPair('ecdsa-p256', 'test passphrase');
const signer = new KeyPairSigner(parsePrivateKey(pair.privateKeyPem, 'test passphrase'));

async function signRelease(): Promise<{ root: string; bundle: SerializedBundle }> {
  const root = makeTree(RELEASE);
  roots.push(root);
  const bundlePath = join(root, 'release.sigstore.json');
  const { statement } = await directoryStatement(root, { bundlePath });
  const bundle = await signStatement({ signer, witnesses: [] }, statement);
  writeFileSync(bundlePath, JSON.stringify(bundle));
  return { root, bundle };
}

const trust = loadTrustedRoot(loadCase('prod-v0.3-hashedrekord').trustedRootText);
const policy = buildPolicy({ keys: [{ spki: pair.publicKeyPem }] });

/** vouch's verifier checks the DSSE bundle; the directory code then checks the statement it hands over. */
function verifiedStatement(bundle: SerializedBundle): unknown {
  const r = verify(JSON.stringify(bundle), { kind: 'statement' }, policy, trust);
  assert.equal(r.statement?.payloadType, 'application/vnd.in-toto+json');
  return r.statement.payload;
}

describe('sign a directory with a key pair, verify, tamper', () => {
  it('verifies untouched, the bundle inside the tree being excluded by a signed rule', async () => {
    const { root, bundle } = await signRelease();
    const statement = verifiedStatement(bundle) as { predicate: { rules: { signatureFiles: string[] } } };
    assert.deepEqual(statement.predicate.rules.signatureFiles, ['release.manifest.jsonl', 'release.sigstore.json']);
    const r = await verifyDirectoryStatement(statement, root);
    assert.deepEqual([r.files, r.symlinks, r.emptyDirectories], [4, 1, 1]);
    const one = await verifyFileInDirectory(statement, join(root, 'bin/app.exe'), 'bin/app.exe');
    assert.equal(one.size, 13);
  });

  const tampers: [string, (root: string) => void, string][] = [
    ['modify a file', (r) => writeFileSync(join(r, 'lib/ffmpeg.dll'), 'trojaned codec'), 'modified lib/ffmpeg.dll'],
    ['add lib/evil.dll', (r) => writeFileSync(join(r, 'lib/evil.dll'), 'MZ'), 'added lib/evil.dll'],
    ['remove a file', (r) => unlinkSync(join(r, 'bin/helper')), 'missing bin/helper'],
    ['chmod +x', (r) => chmodSync(join(r, 'bin/helper'), 0o755), 'mode-changed bin/helper'],
    [
      'swap a file for a symlink to identical content',
      (r) => {
        unlinkSync(join(r, 'lib/libssl.so.3'));
        writeFileSync(join(r, 'logs/ssl'), 'ssl');
        symlinkSync('../logs/ssl', join(r, 'lib/libssl.so.3'));
      },
      'kind-changed lib/libssl.so.3',
    ],
  ];
  for (const [name, tamper, expected] of tampers) {
    it(`${name} is caught`, async () => {
      const { root, bundle } = await signRelease();
      tamper(root);
      const e = await rejectsWith(
        () => verifyDirectoryStatement(verifiedStatement(bundle), root),
        'DIRECTORY_MISMATCH',
      );
      const listed = (e.details as Difference[]).map((d) => `${d.type} ${d.path}`);
      assert.ok(listed.includes(expected), listed.join(', '));
    });
  }

  it('a statement edited after signing is refused by the verifier, before any directory check', async () => {
    const { bundle } = await signRelease();
    const env = bundle.dsseEnvelope!;
    const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    st.predicate.rules.excludeNames.push('lib');
    st.predicate.counts.files = 2;
    const forged = { ...bundle, dsseEnvelope: { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') } };
    assert.throws(
      () => verifiedStatement(forged as SerializedBundle),
      (e: unknown) => e instanceof VouchError,
    );
  });
});
