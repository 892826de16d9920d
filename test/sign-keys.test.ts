import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VouchError } from '../src/errors.ts';
import { generateKeyPair, parsePrivateKey } from '../src/sign/keys.ts';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof VouchError ? e.code : `not a VouchError: ${String(e)}`;
  }
};

describe('encrypted private keys', () => {
  const { privateKeyPem } = generateKeyPair('ecdsa-p256', 'right passphrase');

  it('opens with its passphrase', () => {
    assert.equal(parsePrivateKey(privateKeyPem, 'right passphrase').asymmetricKeyType, 'ec');
  });

  // About 1 in 256 wrong passphrases passes AES-CBC's padding check and fails in the DER it decrypted: 1,500 tries
  // hit that case with probability 1 - (255/256)^1500 > 99.7%; every one must still say PASSPHRASE_INVALID.
  it('a wrong passphrase is PASSPHRASE_INVALID, never KEY_INVALID', () => {
    const codes = new Set<string | undefined>();
    for (let i = 0; i < 1500; i++) codes.add(codeOf(() => parsePrivateKey(privateKeyPem, `wrong ${i}`)));
    assert.deepEqual([...codes], ['PASSPHRASE_INVALID']);
  });

  const rows: [string, string, string | undefined, string][] = [
    ['no passphrase', privateKeyPem, undefined, 'PASSPHRASE_INVALID'],
    ['not PEM', 'hello', 'x', 'KEY_INVALID'],
    ['a public key', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'x', 'KEY_INVALID'],
    ['unencrypted garbage', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'x', 'KEY_INVALID'],
  ];
  for (const [name, pem, pass, code] of rows) {
    it(`refuses: ${name}`, () =>
      assert.equal(
        codeOf(() => parsePrivateKey(pem, pass)),
        code,
      ));
  }
});
