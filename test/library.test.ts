/**
 * The public library API as a program uses it: `import { sign, verify } from 'vouch'`. Keyless by default on the
 * embedded instance (its own VOUCH_HOME), key pairs when a key is given; results and errors are values, and the
 * library prints nothing.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateKeyPair, isVouchError, sign, VouchError, verify } from '../src/index.ts';
import { tempDir } from './helpers/cli.ts';

describe('library API', () => {
  const tmp = tempDir('vouch-lib-');
  const at = (p: string) => join(tmp.path, p);
  const home = at('home');
  after(tmp.dispose);

  it('signs keyless by default and verifies by identity', async () => {
    writeFileSync(at('a.bin'), 'library artifact');
    const signed = await sign(`file:${at('a.bin')}`, { keyless: { home } });
    assert.equal(signed.signer.type, 'certificate');
    // The bundle option's default: the file beside the artifact, written by sign() itself.
    assert.equal(signed.bundlePath, `${at('a.bin')}.sigstore.json`);
    assert.deepEqual(JSON.parse(readFileSync(signed.bundlePath, 'utf8')), signed.bundle);
    const { identity, issuer } = signed.signer as { identity: string; issuer: string };
    const result = await verify(at('a.bin'), { identities: [{ identity, issuer }], home });
    assert.equal(result.verified, true);
    assert.equal(result.signer.type === 'certificate' && result.signer.identity, identity);
    await assert.rejects(verify(at('a.bin'), { identities: [{ identity: `${identity}.evil`, issuer }], home }), (e) =>
      isVouchError(e, 'IDENTITY_MISMATCH'),
    );
  });

  it('signs with a key pair and verifies with the public key', async () => {
    const pair = generateKeyPair('ecdsa-p256', 'pw');
    writeFileSync(at('k.key'), pair.privateKeyPem);
    writeFileSync(at('b.bin'), 'key-signed artifact');
    const signed = await sign(at('b.bin'), { key: at('k.key'), passphrase: 'pw', bundle: at('b.json') });
    assert.deepEqual(JSON.parse(readFileSync(at('b.json'), 'utf8')), signed.bundle);
    const result = await verify(at('b.bin'), { keys: [{ spki: pair.publicKeyPem }], bundle: at('b.json'), home });
    assert.deepEqual(result.signer, { type: 'key', fingerprint: pair.fingerprint });
    // The key as a file's bytes (PEM in a Buffer), as `PublicKeyInput` says, and as DER.
    writeFileSync(at('k.pub'), pair.publicKeyPem);
    for (const spki of [
      readFileSync(at('k.pub')),
      createPublicKey(pair.publicKeyPem).export({ format: 'der', type: 'spki' }),
    ]) {
      const again = await verify(at('b.bin'), { keys: [{ spki }], bundle: at('b.json'), home });
      assert.deepEqual(again.signer, { type: 'key', fingerprint: pair.fingerprint });
    }
    writeFileSync(at('b.bin'), 'key-signed artifacT');
    await assert.rejects(
      verify(at('b.bin'), { keys: [{ spki: pair.publicKeyPem }], bundle: at('b.json'), home }),
      (e) => e instanceof VouchError && e.code === 'DIGEST_MISMATCH' && e.exitStatus === 1,
    );
  });
});
