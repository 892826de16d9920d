/** The built CLI, as a user runs it: keyless `vouch sign` on the embedded default, `vouch trust`, exit statuses. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, errorCode, tempDir, vouch } from '../helpers/cli.ts';
import { makeToken } from './helpers.ts';

describe('vouch sign (keyless) and vouch trust', () => {
  const dir = tempDir();
  after(dir.dispose);
  const env = { VOUCH_HOME: join(dir.path, 'home'), SIGSTORE_ID_TOKEN: '', ACTIONS_ID_TOKEN_REQUEST_URL: '' };
  const at = (p: string) => join(dir.path, p);
  writeFileSync(at('app.exe'), 'MZ release');

  it('signs keyless with no key and no config, on the embedded instance', () => {
    const r = vouch(['sign', at('app.exe'), '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const out = r.json() as Record<string, unknown>;
    assert.equal(out.instance, 'embedded');
    assert.equal(out.localDevelopmentIdentity, true);
    assert.equal(out.logIndex, '0');
    const bundle = JSON.parse(readFileSync(at('app.exe.sigstore.json'), 'utf8'));
    assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.ok(bundle.verificationMaterial.certificate.rawBytes);
    // The first entry of a fresh log: index 0 is written explicitly, not omitted as protobuf JSON would.
    assert.equal(bundle.verificationMaterial.tlogEntries[0].logIndex, '0');
    assert.equal(bundle.verificationMaterial.tlogEntries[0].inclusionProof.logIndex, '0');
    assert.equal(bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope.length > 0, true);
    assert.equal(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);
  });

  it('parallel `vouch sign` processes on one VOUCH_HOME all succeed (cross-process lock)', async () => {
    const runs = [1, 2, 3].map((i) => {
      writeFileSync(at(`p${i}`), `parallel ${i}`);
      return new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'sign', at(`p${i}`)], {
          env: { ...process.env, ...env },
          stdio: 'ignore',
        });
        child.on('exit', (code) => resolve(code ?? -1));
      });
    });
    assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
  });

  it('vouch verify checks who signed with the trust store alone, and catches another identity or a change', () => {
    // Signed again (the first test signed it too): --force replaces the bundle.
    const signed = vouch(['sign', at('app.exe'), '--force', '--json'], { env }).json() as {
      identity: string;
      issuer: string;
    };
    const ok = vouch(
      [
        'verify',
        at('app.exe'),
        '--certificate-identity',
        signed.identity,
        '--certificate-oidc-issuer',
        signed.issuer,
        '--json',
      ],
      { env },
    );
    assert.equal(ok.status, 0, ok.stderr);
    const result = ok.json() as { verified: boolean; signer: { localDevelopmentIdentity?: boolean } };
    assert.equal(result.verified, true);
    assert.equal(result.signer.localDevelopmentIdentity, true);
    const other = vouch(
      [
        'verify',
        at('app.exe'),
        '--certificate-identity',
        'mallory@example.com',
        '--certificate-oidc-issuer',
        signed.issuer,
      ],
      { env },
    );
    assert.equal(other.status, 1);
    assert.equal(errorCode(other.stderr), 'IDENTITY_MISMATCH');
    writeFileSync(at('app.exe'), 'MZ release, patched');
    const changed = vouch(
      ['verify', at('app.exe'), '--certificate-identity', signed.identity, '--certificate-oidc-issuer', signed.issuer],
      { env },
    );
    assert.equal(changed.status, 1);
    assert.equal(errorCode(changed.stderr), 'DIGEST_MISMATCH');
    writeFileSync(at('app.exe'), 'MZ release');
  });

  it('trust show lists the shipped and the embedded roots', () => {
    const r = vouch(['trust', 'show', '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const names = (r.json() as { name: string; localDevelopment: boolean }[]).map((e) => [e.name, e.localDevelopment]);
    assert.deepEqual(names, [
      ['public-good', false],
      ['embedded', true],
    ]);
  });

  it('trust import then export gives the same bytes; a bad root is exit 2', () => {
    const staging = '/work/shared/realbundles/trusted_roots/staging.json';
    assert.equal(vouch(['trust', 'import', staging, '--name', 'staging'], { env }).status, 0);
    const r = vouch(['trust', 'export', 'staging'], { env });
    assert.equal(r.stdout, readFileSync(staging, 'utf8'));
    writeFileSync(at('bad.json'), '{"mediaType":"nope"}');
    const bad = vouch(['trust', 'import', at('bad.json'), '--name', 'bad'], { env });
    assert.equal(bad.status, 2);
    assert.equal(errorCode(bad.stderr), 'TRUST_ROOT_INVALID');
  });

  it('a garbled --identity-token is exit 2 (TOKEN_INVALID)', () => {
    const r = vouch(['sign', at('app.exe'), '--identity-token', 'not-a-jwt', '--bundle', at('x.json')], { env });
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'TOKEN_INVALID');
  });

  it('--instance public-good is unreachable here: exit 3 (SERVICE_UNAVAILABLE), not a crash', async () => {
    const token = await makeToken({ iss: 'https://accounts.example', sub: 'u', email: 'a@example.com' });
    const r = vouch(
      ['sign', at('app.exe'), '--instance', 'public-good', '--identity-token', token, '--bundle', at('y.json')],
      {
        env,
      },
    );
    assert.equal(r.status, 3, r.stderr);
    assert.equal(errorCode(r.stderr), 'SERVICE_UNAVAILABLE');
  });
});
