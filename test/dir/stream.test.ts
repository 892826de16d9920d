/**
 * The streaming signing path (src/sign/stream.ts) for large directory statements: the payload is byte-identical to
 * JSON.stringify(statement), an Ed25519 bundle (deterministic signatures) is byte-identical to the in-memory path's,
 * and an ECDSA bundle written by the CLI verifies with `vouch verify` and with the official verifier, while
 * tampering is still caught.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import type { InTotoStatement } from '../../src/core/intoto.ts';
import { signStatement } from '../../src/sign/bundle.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { signStatementToFile, statementJsonChunks } from '../../src/sign/stream.ts';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { EMPTY_ROOT, sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

/** A statement big enough to cross several 768 KiB read chunks and 256 Ki-character string chunks. */
function bigStatement(n: number): InTotoStatement {
  const entries = Array.from({ length: n }, (_, i) => ({
    path: `dir-${Math.floor(i / 100)}/ファイル-${i}.js`,
    kind: 'file',
    size: i,
    sha256: (i % 16).toString(16).repeat(64),
    executable: i % 7 === 0,
  }));
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'big', digest: { sha256: 'ab'.repeat(32) } }],
    predicateType: 'https://vouch.dev/directory/v1',
    predicate: {
      hashAlgorithm: 'sha256',
      rules: { excludeNames: ['.git'], excludePaths: [], allowExternalSymlinks: false },
      entries,
    },
  };
}

describe('streamed directory signatures', () => {
  const tmp = tempDir('vouch-stream-');
  const at = (p: string) => join(tmp.path, p);
  after(tmp.dispose);

  before(() => {
    mkdirSync(at('tree/bin'), { recursive: true });
    mkdirSync(at('tree/empty/inner'), { recursive: true });
    mkdirSync(at('tree/données/ünï"cødé \u2028'), { recursive: true });
    writeFileSync(at('tree/bin/app'), 'MZ app', { mode: 0o755 });
    writeFileSync(at('tree/données/ünï"cødé \u2028/日本語.txt'), 'こんにちは');
    writeFileSync(at('tree/données/emoji-😀.txt'), '');
    writeFileSync(at('tree/README.md'), 'hello');
    symlinkSync('bin/app', at('tree/app'));
    symlinkSync('données/emoji-😀.txt', at('tree/link-ü'));
    mkdirSync(at('model/sub'), { recursive: true });
    writeFileSync(at('model/weights-é.bin'), 'w');
    writeFileSync(at('model/sub/config.json'), '{}');
  });

  it('serializes the payload byte for byte like JSON.stringify', async () => {
    const cases: [string, 'vouch' | 'model-signing'][] = [
      ['tree', 'vouch'],
      ['model', 'model-signing'],
      ['model', 'vouch'],
    ];
    for (const [dir, format] of cases) {
      const { statement } = await directoryStatement(at(dir), { format });
      const expected = JSON.stringify(statement);
      for (const size of [1, 17, 1 << 20]) {
        assert.equal([...statementJsonChunks(statement as InTotoStatement, size)].join(''), expected, `${dir} ${size}`);
      }
    }
    const big = bigStatement(2000);
    assert.equal([...statementJsonChunks(big, 4096)].join(''), JSON.stringify(big));
    const empty = { ...big, predicate: { ...(big.predicate as object), entries: [] } };
    assert.equal([...statementJsonChunks(empty)].join(''), JSON.stringify(empty));
  });

  it('writes the same bundle as the in-memory path (Ed25519 signatures are deterministic)', async () => {
    const signer = new KeyPairSigner(generateKeyPairSync('ed25519').privateKey);
    const ctx = { signer, witnesses: [] };
    // ~5 MB of payload: several base64 chunks, so a chunk boundary that broke base64 would show.
    for (const statement of [
      bigStatement(30000),
      (await directoryStatement(at('tree'))).statement as InTotoStatement,
    ]) {
      await signStatementToFile(ctx, statement, at('ed.json'));
      const expected = `${JSON.stringify(await signStatement(ctx, statement))}\n`;
      assert.equal(readFileSync(at('ed.json'), 'utf8'), expected);
    }
    // No temporary files left beside the bundle.
    assert.deepEqual(
      readdirSync(tmp.path).filter((f) => f.startsWith('.')),
      [],
    );
  });

  it('refuses a context with witnesses', async () => {
    const signer = KeyPairSigner.ephemeral();
    const witness = { testify: async () => ({}) };
    await assert.rejects(
      signStatementToFile({ signer, witnesses: [witness] }, bigStatement(1), at('w.json')),
      (e: Error & { code?: string }) => e.code === 'INTERNAL',
    );
  });

  describe('through the CLI (key pair)', () => {
    let bundleText = '';
    before(() => {
      assert.equal(vouch(['keygen', '--out', at('k')]).status, 0);
    });

    it('signs with the streamed bundle, keeping the --json fields', () => {
      const r = vouch(['sign', `dir:${at('tree')}`, '--key', at('k.key'), '--json']);
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(out).sort(), [
        'bundlePath',
        'digest',
        'directory',
        'rfc3161Timestamps',
        'signer',
        'target',
      ]);
      assert.equal(out.bundlePath, at('tree.sigstore.json'));
      bundleText = readFileSync(at('tree.sigstore.json'), 'utf8');
      assert.ok(bundleText.endsWith('}\n'));
      const parsed = bundleFromJSON(JSON.parse(bundleText));
      assert.equal(parsed.content.$case, 'dsseEnvelope');
      assert.deepEqual(
        readdirSync(tmp.path).filter((f) => f.startsWith('.')),
        [],
      );
    });

    it('verifies with vouch verify and with the official verifier', () => {
      const r = vouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub'), '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((r.json() as { verified: boolean }).verified, true);
      const verdict = sigstoreJsVerify({
        trustedRootJson: EMPTY_ROOT,
        keyPem: readFileSync(at('k.pub'), 'utf8'),
        tlogThreshold: 0,
        bundleJson: bundleText,
      });
      assert.deepEqual(verdict, { ok: true });
    });

    it('still catches tampering', () => {
      // A changed payload byte breaks the signature, for both verifiers.
      const bundle = JSON.parse(bundleText);
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
      payload[payload.indexOf('README.md')] = 'r'.charCodeAt(0);
      bundle.dsseEnvelope.payload = payload.toString('base64');
      writeFileSync(at('tampered.json'), JSON.stringify(bundle));
      const r = vouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub'), '--bundle', at('tampered.json')]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(errorCode(r.stderr), 'SIGNATURE_INVALID');
      const verdict = sigstoreJsVerify({
        trustedRootJson: EMPTY_ROOT,
        keyPem: readFileSync(at('k.pub'), 'utf8'),
        tlogThreshold: 0,
        bundleJson: JSON.stringify(bundle),
      });
      assert.equal(verdict.ok, false);
      // A changed file in the tree is reported against the intact signature.
      writeFileSync(at('tree/README.md'), 'hellO');
      const m = vouch(['verify', `dir:${at('tree')}`, '--key', at('k.pub')]);
      assert.equal(m.status, 1, m.stderr);
      assert.equal(errorCode(m.stderr), 'DIRECTORY_MISMATCH');
    });

    it('streams Ed25519 bundles too', () => {
      assert.equal(vouch(['keygen', '--type', 'ed25519', '--out', at('ed')]).status, 0);
      const s = vouch(['sign', `dir:${at('model')}`, '--key', at('ed.key'), '--bundle', at('model.json')]);
      assert.equal(s.status, 0, s.stderr);
      const r = vouch(['verify', `dir:${at('model')}`, '--key', at('ed.pub'), '--bundle', at('model.json')]);
      assert.equal(r.status, 0, r.stderr);
    });
  });
});
