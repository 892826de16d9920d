/**
 * Directories through the built CLI, keyless on the embedded default: the 3CX shape (a signed exe beside a
 * side-loaded DLL). Every difference is reported by path; one file verifies against the directory signature;
 * the OpenSSF model-signing format round-trips.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, tempDir, vouch } from '../helpers/cli.ts';

describe('vouch sign/verify dir: (keyless)', () => {
  const tmp = tempDir('vouch-e2e-dir-');
  const at = (p: string) => join(tmp.path, p);
  const env = { VOUCH_HOME: at('home') };
  let policy: string[] = [];
  after(tmp.dispose);

  before(() => {
    mkdirSync(at('release/bin'), { recursive: true });
    mkdirSync(at('release/lib'), { recursive: true });
    mkdirSync(at('release/plugins'), { recursive: true });
    writeFileSync(at('release/bin/app.exe'), 'MZ app');
    writeFileSync(at('release/lib/ffmpeg.dll'), 'MZ ffmpeg');
    writeFileSync(at('release/README.md'), 'hello');
    symlinkSync('bin/app.exe', at('release/app'));
  });

  it('signs the directory into release.sigstore.json beside it', () => {
    const r = vouch(['sign', `dir:${at('release')}`, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as {
      identity: string;
      issuer: string;
      bundlePath: string;
      directory: { files: number; symlinks: number; emptyDirectories: number };
    };
    assert.equal(out.bundlePath, at('release.sigstore.json'));
    assert.deepEqual([out.directory.files, out.directory.symlinks, out.directory.emptyDirectories], [3, 1, 1]);
    policy = ['--certificate-identity', out.identity, '--certificate-oidc-issuer', out.issuer];
  });

  it('verifies it, and one file of it with --path', () => {
    const r = vouch(['verify', at('release'), ...policy, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as { directory: { files: number } };
    assert.equal(out.directory.files, 3);
    const f = vouch(
      [
        'verify',
        at('release/bin/app.exe'),
        '--bundle',
        at('release.sigstore.json'),
        '--path',
        'bin/app.exe',
        ...policy,
      ],
      { env },
    );
    assert.equal(f.status, 0, f.stderr);
    const wrong = vouch(
      [
        'verify',
        at('release/bin/app.exe'),
        '--bundle',
        at('release.sigstore.json'),
        '--path',
        'lib/ffmpeg.dll',
        ...policy,
      ],
      { env },
    );
    assert.equal(errorCode(wrong.stderr), 'DIGEST_MISMATCH');
    const absent = vouch(
      [
        'verify',
        at('release/bin/app.exe'),
        '--bundle',
        at('release.sigstore.json'),
        '--path',
        'bin/other.exe',
        ...policy,
      ],
      { env },
    );
    assert.equal(errorCode(absent.stderr), 'PATH_NOT_SIGNED');
  });

  it('reports a modified, an added and a missing file by path', () => {
    writeFileSync(at('release/lib/ffmpeg.dll'), 'MZ ffmpeg + payload loader');
    writeFileSync(at('release/lib/evil.dll'), 'MZ evil');
    rmSync(at('release/README.md'));
    const r = vouch(['verify', `dir:${at('release')}`, ...policy, '--json'], { env });
    assert.equal(r.status, 1);
    const out = r.json() as { verified: boolean; error: { code: string; details: { type: string; path: string }[] } };
    assert.equal(out.verified, false);
    assert.equal(out.error.code, 'DIRECTORY_MISMATCH');
    assert.deepEqual(out.error.details.map((d) => `${d.type} ${d.path}`).sort(), [
      'added lib/evil.dll',
      'missing README.md',
      'modified lib/ffmpeg.dll',
    ]);
    const human = vouch(['verify', `dir:${at('release')}`, ...policy], { env });
    assert.match(human.stderr, /^ {2}added +lib\/evil\.dll/m);
  });

  it('signs and verifies the OpenSSF model-signing format', () => {
    mkdirSync(at('model'), { recursive: true });
    writeFileSync(at('model/weights.bin'), Buffer.alloc(4096, 7));
    writeFileSync(at('model/config.json'), '{}');
    const s = vouch(['sign', `dir:${at('model')}`, '--format', 'model-signing', '--bundle', at('model.sig')], { env });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(vouch(['verify', `dir:${at('model')}`, '--bundle', at('model.sig'), ...policy], { env }).status, 0);
    writeFileSync(at('model/weights.bin'), Buffer.alloc(4096, 8));
    const bad = vouch(['verify', `dir:${at('model')}`, '--bundle', at('model.sig'), ...policy], { env });
    assert.equal(errorCode(bad.stderr), 'DIRECTORY_MISMATCH');
  });

  it('signs a directory of 5,000 files keyless: the log admits its whole DSSE envelope', () => {
    mkdirSync(at('many'), { recursive: true });
    for (let i = 0; i < 5000; i++) writeFileSync(at(`many/f${i}.txt`), `${i}\n`);
    const s = vouch(['sign', `dir:${at('many')}`, '--json'], { env });
    assert.equal(s.status, 0, s.stderr);
    const r = vouch(['verify', `dir:${at('many')}`, ...policy, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.json() as { directory: { files: number } }).directory.files, 5000);
  });

  it('a manifest over 1 MiB goes beside the bundle, and verifies from there', () => {
    mkdirSync(at('large/sub'), { recursive: true });
    for (let i = 0; i < 7000; i++) writeFileSync(at(`large/sub/a-longer-file-name-${i}.txt`), `${i}\n`);
    const s = vouch(['sign', `dir:${at('large')}`, '--json'], { env });
    assert.equal(s.status, 0, s.stderr);
    assert.ok(statSync(at('large.sigstore.json')).size < 1 << 16);
    assert.ok(statSync(at('large.manifest.jsonl')).size > 1 << 20);
    const r = vouch(['verify', `dir:${at('large')}`, ...policy, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.json() as { directory: { files: number } }).directory.files, 7000);
    writeFileSync(at('large/sub/a-longer-file-name-6999.txt'), 'changed\n');
    const bad = vouch(['verify', `dir:${at('large')}`, ...policy], { env });
    assert.equal(errorCode(bad.stderr), 'DIRECTORY_MISMATCH');
    assert.match(bad.stderr, /a-longer-file-name-6999\.txt/);
  });
});
