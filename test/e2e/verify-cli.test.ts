/**
 * `vouch verify` through the built CLI on key-pair bundles: one valid case and a table of hostile ones, each with
 * its exit status and code. Every bundle verdict is also put to the official @sigstore/verify, which must agree
 * that the valid one verifies and the bad ones do not.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { EMPTY_ROOT, sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

describe('vouch verify --key (CLI)', () => {
  const tmp = tempDir('vouch-verify-cli-');
  const at = (p: string) => join(tmp.path, p);
  const content = Buffer.from('MZ\x90\x00 a release built in CI\n'.repeat(500));
  let bundleText = '';
  after(tmp.dispose);

  before(() => {
    writeFileSync(at('app.exe'), content);
    writeFileSync(at('other.exe'), Buffer.concat([content, Buffer.from('!')]));
    for (const k of ['release', 'attacker']) assert.equal(vouch(['keygen', '--out', at(k)]).status, 0);
    const s = vouch(['sign', at('app.exe'), '--key', at('release.key')]);
    assert.equal(s.status, 0, s.stderr);
    bundleText = readFileSync(at('app.exe.sigstore.json'), 'utf8');
    assert.equal(vouch(['sign', at('other.exe'), '--key', at('release.key')]).status, 0);
  });

  function oracle(bundle: string, artifact: Buffer, keyFile = 'release.pub') {
    return sigstoreJsVerify({
      trustedRootJson: EMPTY_ROOT,
      keyPem: readFileSync(at(keyFile), 'utf8'),
      tlogThreshold: 0,
      bundleJson: bundle,
      artifact,
    });
  }

  it('verifies, and the official verifier agrees', () => {
    const r = vouch(['verify', at('app.exe'), '--key', at('release.pub'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { verified: boolean; artifact: { digest: string }; signer: { type: string } };
    assert.equal(out.verified, true);
    assert.equal(out.artifact.digest, `sha256:${createHash('sha256').update(content).digest('hex')}`);
    assert.equal(out.signer.type, 'key');
    assert.deepEqual(oracle(bundleText, content), { ok: true });
  });

  it('verifies a digest without the bytes', () => {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const ok = vouch(['verify', digest, '--bundle', at('app.exe.sigstore.json'), '--key', at('release.pub')]);
    assert.equal(ok.status, 0, ok.stderr);
    const bad = vouch([
      'verify',
      `sha256:${'0'.repeat(64)}`,
      '--bundle',
      at('app.exe.sigstore.json'),
      '--key',
      at('release.pub'),
    ]);
    assert.equal(errorCode(bad.stderr), 'DIGEST_MISMATCH');
  });

  type Row = {
    name: string;
    setup: () => string[];
    code: string;
    status: number;
    artifact?: () => Buffer;
    bundle?: () => string;
  };
  // biome-ignore lint/suspicious/noExplicitAny: mutations reach into arbitrary bundle members
  const mutate = (f: (b: Record<string, any>) => void) => () => {
    const b = JSON.parse(bundleText);
    f(b);
    writeFileSync(at('mut.json'), JSON.stringify(b));
    return ['verify', at('app.exe'), '--bundle', at('mut.json'), '--key', at('release.pub')];
  };
  const rows: Row[] = [
    {
      name: 'one byte changed',
      setup: () => {
        const t = Buffer.from(content);
        t.writeUInt8(t.readUInt8(1234) ^ 0x20, 1234);
        writeFileSync(at('t.exe'), t);
        return ['verify', at('t.exe'), '--bundle', at('app.exe.sigstore.json'), '--key', at('release.pub')];
      },
      code: 'DIGEST_MISMATCH',
      status: 1,
      artifact: () => readFileSync(at('t.exe')),
    },
    {
      name: 'truncated file',
      setup: () => {
        writeFileSync(at('t.exe'), content.subarray(0, content.length - 1));
        return ['verify', at('t.exe'), '--bundle', at('app.exe.sigstore.json'), '--key', at('release.pub')];
      },
      code: 'DIGEST_MISMATCH',
      status: 1,
      artifact: () => readFileSync(at('t.exe')),
    },
    {
      name: 'bundle of another file',
      setup: () => ['verify', at('app.exe'), '--bundle', at('other.exe.sigstore.json'), '--key', at('release.pub')],
      code: 'DIGEST_MISMATCH',
      status: 1,
      bundle: () => readFileSync(at('other.exe.sigstore.json'), 'utf8'),
    },
    {
      name: 'another key',
      setup: () => ['verify', at('app.exe'), '--key', at('attacker.pub')],
      code: 'KEY_MISMATCH',
      status: 1,
    },
    {
      name: 'signature bytes replaced',
      setup: mutate((b) => {
        const sig = Buffer.from(b.messageSignature.signature, 'base64');
        sig.writeUInt8(sig.readUInt8(sig.length - 3) ^ 1, sig.length - 3);
        b.messageSignature.signature = sig.toString('base64');
      }),
      code: 'SIGNATURE_INVALID',
      status: 1,
      bundle: () => readFileSync(at('mut.json'), 'utf8'),
    },
    {
      name: 'invalid JSON',
      setup: () => {
        writeFileSync(at('mut.json'), bundleText.slice(0, -10));
        return ['verify', at('app.exe'), '--bundle', at('mut.json'), '--key', at('release.pub')];
      },
      code: 'BUNDLE_MALFORMED',
      status: 1,
    },
    {
      name: 'duplicate keys',
      setup: () => {
        const b = JSON.parse(bundleText);
        const other = JSON.parse(readFileSync(at('other.exe.sigstore.json'), 'utf8'));
        // The first messageSignature is ours, the last another file's: parsers that keep either would disagree.
        const text = `{"mediaType":${JSON.stringify(b.mediaType)},"verificationMaterial":${JSON.stringify(b.verificationMaterial)},"messageSignature":${JSON.stringify(b.messageSignature)},"messageSignature":${JSON.stringify(other.messageSignature)}}`;
        writeFileSync(at('mut.json'), text);
        return ['verify', at('app.exe'), '--bundle', at('mut.json'), '--key', at('release.pub')];
      },
      code: 'BUNDLE_MALFORMED',
      status: 1,
    },
    {
      name: 'base64 with trailing garbage',
      setup: mutate((b) => {
        b.messageSignature.signature += 'AAAA!';
      }),
      code: 'BUNDLE_MALFORMED',
      status: 1,
    },
    {
      name: 'wrong media type',
      setup: mutate((b) => {
        b.mediaType = 'application/vnd.dev.sigstore.bundle.v9.9+json';
      }),
      code: 'BUNDLE_UNSUPPORTED',
      status: 1,
    },
    {
      name: '100 MB bundle',
      setup: () => {
        writeFileSync(at('huge.json'), '');
        truncateSync(at('huge.json'), 100 << 20);
        return ['verify', at('app.exe'), '--bundle', at('huge.json'), '--key', at('release.pub')];
      },
      code: 'BUNDLE_TOO_LARGE',
      status: 1,
    },
    {
      name: 'missing bundle',
      setup: () => ['verify', at('app.exe'), '--bundle', at('nope.json'), '--key', at('release.pub')],
      code: 'FILE_NOT_FOUND',
      status: 2,
    },
    {
      name: 'a device that never ends (/dev/zero)',
      setup: () => ['verify', '/dev/zero', '--bundle', at('app.exe.sigstore.json'), '--key', at('release.pub')],
      code: 'TARGET_UNSUPPORTED',
      status: 2,
    },
    {
      name: 'keyless policy without identity',
      setup: () => ['verify', at('app.exe')],
      code: 'POLICY_INVALID',
      status: 2,
    },
    {
      name: 'key and identity together',
      setup: () => [
        'verify',
        at('app.exe'),
        '--key',
        at('release.pub'),
        '--certificate-identity',
        'a@b',
        '--certificate-oidc-issuer',
        'https://x',
      ],
      code: 'POLICY_INVALID',
      status: 2,
    },
    {
      name: 'key-pair bundle against an identity policy',
      setup: () => ['verify', at('app.exe'), '--certificate-identity', 'a@b', '--certificate-oidc-issuer', 'https://x'],
      code: 'IDENTITY_MISMATCH',
      status: 1,
    },
  ];

  for (const row of rows) {
    it(`refuses: ${row.name} -> ${row.code}`, () => {
      const r = vouch(row.setup());
      assert.equal(errorCode(r.stderr), row.code, r.stderr);
      assert.equal(r.status, row.status);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      if (row.status === 1 && (row.artifact || row.bundle)) {
        const verdict = oracle(row.bundle ? row.bundle() : bundleText, row.artifact ? row.artifact() : content);
        assert.notEqual(verdict.ok, true, 'the official verifier must not accept it either');
      }
    });
  }

  it('--json on failure prints verified:false with the code', () => {
    const r = vouch(['verify', at('app.exe'), '--key', at('attacker.pub'), '--json']);
    assert.equal(r.status, 1);
    const out = r.json() as { verified: boolean; error: { code: string } };
    assert.equal(out.verified, false);
    assert.equal(out.error.code, 'KEY_MISMATCH');
  });

  it('catches one changed byte in a 1 GiB file', () => {
    const big = at('big.bin');
    writeFileSync(big, '');
    truncateSync(big, 1 << 30); // sparse: cheap on disk, every byte still read and hashed
    const s = vouch(['sign', big, '--key', at('release.key')]);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(vouch(['verify', big, '--key', at('release.pub')]).status, 0);
    const fd = openSync(big, 'r+');
    writeSync(fd, Buffer.from([1]), 0, 1, 987_654_321);
    closeSync(fd);
    const r = vouch(['verify', big, '--key', at('release.pub')]);
    assert.equal(errorCode(r.stderr), 'DIGEST_MISMATCH');
    assert.equal(r.status, 1);
  });
});
