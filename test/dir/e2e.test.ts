/**
 * End to end with the real sign layer: key-pair sign a directory's statement into a DSSE bundle, check the
 * envelope signature independently (node:crypto over the DSSE v1 PAE), take the statement out of the payload as a
 * verifier would, and check the tree; then tamper with it in each way that matters.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { chmodSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Difference, verifyDirectoryStatement, verifyFileInDirectory } from '../../src/artifact/dir/index.ts';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import { parseStrictJson } from '../../src/core/json.ts';
import { preAuthEncoding, type SerializedBundle, signStatement } from '../../src/sign/bundle.ts';
import { generateKeyPair, parsePrivateKey } from '../../src/sign/keys.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
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

/** What the verifier hands over: the statement of a bundle whose DSSE signature checked out. */
function verifiedStatement(bundle: SerializedBundle): unknown {
  const env = bundle.dsseEnvelope!;
  const payload = Buffer.from(env.payload, 'base64');
  const pae = preAuthEncoding(env.payloadType, payload);
  const ok = cryptoVerify(
    'sha256',
    pae,
    createPublicKey(pair.publicKeyPem),
    Buffer.from(env.signatures[0]!.sig, 'base64'),
  );
  assert.ok(ok, 'DSSE signature');
  assert.equal(env.payloadType, 'application/vnd.in-toto+json');
  return parseStrictJson(payload.toString('utf8'), { code: 'DSSE_INVALID' });
}

describe('sign a directory with a key pair, verify, tamper', () => {
  it('verifies untouched, the bundle inside the tree being excluded by a signed rule', async () => {
    const { root, bundle } = await signRelease();
    const statement = verifiedStatement(bundle) as { predicate: { rules: { excludePaths: string[] } } };
    assert.deepEqual(statement.predicate.rules.excludePaths, ['release.sigstore.json']);
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
});
