import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';

describe('vouch keygen and sign --key', () => {
  const dir = tempDir();
  after(dir.dispose);
  const at = (p: string) => join(dir.path, p);

  before(() => {
    writeFileSync(at('app.exe'), 'MZ release bytes');
  });

  it('generates an encrypted P-256 key pair, 0600, with its fingerprint', () => {
    const r = vouch(['keygen', '--out', at('release'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { fingerprint: string; type: string };
    assert.match(out.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(out.type, 'ecdsa-p256');
    assert.match(readFileSync(at('release.key'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(statSync(at('release.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(at('release.pub'), 'utf8'), /BEGIN PUBLIC KEY/);
  });

  it('never overwrites a key without --force', () => {
    const before = readFileSync(at('release.key'));
    const r = vouch(['keygen', '--out', at('release')]);
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'FILE_EXISTS');
    assert.deepEqual(readFileSync(at('release.key')), before);
    assert.equal(vouch(['keygen', '--out', at('release'), '--force']).status, 0);
  });

  it('refuses an empty passphrase', () => {
    const r = vouch(['keygen', '--out', at('empty')], { env: { VOUCH_PASSWORD: '' } });
    assert.equal(errorCode(r.stderr), 'PASSPHRASE_INVALID');
    assert.equal(r.status, 2);
  });

  it('signs a file into FILE.sigstore.json, a v0.3 message-signature bundle with the key hint', () => {
    const keygen = vouch(['keygen', '--out', at('k1'), '--json']).json() as { fingerprint: string };
    const r = vouch(['sign', at('app.exe'), '--key', at('k1.key'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const bundle = JSON.parse(readFileSync(at('app.exe.sigstore.json'), 'utf8'));
    assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(bundle.verificationMaterial.publicKey.hint, keygen.fingerprint);
    assert.equal(bundle.messageSignature.messageDigest.algorithm, 'SHA2_256');
    const out = r.json() as { digest: string; bundlePath: string };
    assert.match(out.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('signs stdin only with --bundle', () => {
    assert.equal(errorCode(vouch(['sign', '-', '--key', at('k1.key')], { input: 'x' }).stderr), 'USAGE');
    const r = vouch(['sign', '-', '--key', at('k1.key'), '--bundle', at('stdin.json')], { input: 'MZ release bytes' });
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(readFileSync(at('stdin.json'), 'utf8'));
    const b = JSON.parse(readFileSync(at('app.exe.sigstore.json'), 'utf8'));
    assert.equal(a.messageSignature.messageDigest.digest, b.messageSignature.messageDigest.digest);
  });

  const bad: [string, string[], Record<string, string>, string, number][] = [
    ['missing file', ['sign', 'nope.bin', '--key', 'k1.key'], {}, 'FILE_NOT_FOUND', 2],
    ['missing key', ['sign', 'app.exe', '--key', 'nokey.key'], {}, 'FILE_NOT_FOUND', 2],
    ['public key given to sign', ['sign', 'app.exe', '--key', 'k1.pub'], {}, 'KEY_INVALID', 2],
    ['wrong passphrase', ['sign', 'app.exe', '--key', 'k1.key'], { VOUCH_PASSWORD: 'wrong' }, 'PASSPHRASE_INVALID', 2],
    ['unknown flag', ['sign', 'app.exe', '--frobnicate'], {}, 'USAGE', 2],
    ['unknown scheme', ['sign', 'gopher:thing', '--key', 'k1.key'], {}, 'TARGET_UNSUPPORTED', 2],
    ['bad digest target', ['sign', 'sha256:1234', '--key', 'k1.key'], {}, 'TARGET_INVALID', 2],
  ];
  for (const [name, args, env, code, status] of bad) {
    it(`fails cleanly: ${name}`, () => {
      const r = vouch(args, { cwd: dir.path, env });
      assert.equal(errorCode(r.stderr), code, r.stderr);
      assert.equal(r.status, status);
      assert.equal(r.stderr.trim().split('\n').length, 2, 'one error line and one hint line');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('signs with an Ed25519 key as a DSSE statement over the file digest', () => {
    assert.equal(vouch(['keygen', '--out', at('ed'), '--type', 'ed25519']).status, 0);
    const r = vouch(['sign', at('app.exe'), '--key', at('ed.key'), '--bundle', at('ed.json')]);
    assert.equal(r.status, 0, r.stderr);
    const bundle = JSON.parse(readFileSync(at('ed.json'), 'utf8'));
    assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
    assert.equal(statement.subject[0].name, 'app.exe');
  });
});
