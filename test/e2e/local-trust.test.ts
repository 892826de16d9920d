/**
 * Issue 10 item 7: the "local development identity" mark travels with the trusted root. A publisher and a customer
 * on separate VOUCH_HOMEs: the customer imports the publisher's exported embedded root or a `vouch serve` root and
 * sees local identities marked; and a local development root cannot vouch for a non-local identity, even one minted
 * by someone who holds the publisher's embedded data folder and runs its CA for a real-looking issuer.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startStack } from '../../src/server/stack.ts';
import { BIN, errorCode, tempDir, vouch, vouchAsync } from '../helpers/cli.ts';

const LOCAL_ORG = 'vouch local development';

describe('local development trust travels with the trusted root (publisher and customer homes)', () => {
  const dir = tempDir('vouch-local-trust-');
  const at = (p: string) => join(dir.path, p);
  const noAmbient = { SIGSTORE_ID_TOKEN: '', ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' };
  const publisher = { ...noAmbient, VOUCH_HOME: at('publisher') };
  const customer = (name: string) => ({ ...noAmbient, VOUCH_HOME: at(`customer-${name}`) });
  writeFileSync(at('app.txt'), 'release 1');
  let signed: { identity: string; issuer: string };

  before(() => {
    const r = vouch(['sign', at('app.txt'), '--json'], { env: publisher });
    assert.equal(r.status, 0, r.stderr);
    signed = r.json() as { identity: string; issuer: string };
    const e = vouch(['trust', 'export', 'embedded'], { env: publisher });
    assert.equal(e.status, 0, e.stderr);
    writeFileSync(at('embedded-root.json'), e.stdout);
  });
  after(() => dir.dispose());

  const policy = () => ['--certificate-identity', signed.identity, '--certificate-oidc-issuer', signed.issuer];

  it('the exported embedded root carries the mark in its CA subject', () => {
    const root = JSON.parse(readFileSync(at('embedded-root.json'), 'utf8')) as {
      certificateAuthorities: { subject: { organization: string } }[];
    };
    assert.ok(root.certificateAuthorities.length > 0);
    for (const ca of root.certificateAuthorities) assert.equal(ca.subject.organization, LOCAL_ORG);
  });

  it('a customer who imports the exported embedded root sees a local development identity', () => {
    const env = customer('import');
    const imp = vouch(['trust', 'import', at('embedded-root.json'), '--name', 'acme', '--json'], { env });
    assert.equal(imp.status, 0, imp.stderr);
    assert.equal((imp.json() as { localDevelopment: boolean }).localDevelopment, true);
    const r = vouch(['verify', at('app.txt'), ...policy(), '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      (r.json() as { signer: { localDevelopmentIdentity?: boolean } }).signer.localDevelopmentIdentity,
      true,
    );
    const human = vouch(['verify', at('app.txt'), ...policy()], { env });
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout + human.stderr, /local development identity/);
  });

  it('so does a customer who passes it as --trusted-root', () => {
    const r = vouch(['verify', at('app.txt'), ...policy(), '--trusted-root', at('embedded-root.json'), '--json'], {
      env: customer('flag'),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      (r.json() as { signer: { localDevelopmentIdentity?: boolean } }).signer.localDevelopmentIdentity,
      true,
    );
  });

  describe('a `vouch serve` root', () => {
    let child: ChildProcess;
    let url = '';
    before(async () => {
      child = spawn(process.execPath, [BIN, 'serve', '--data', at('serve'), '--port', '0', '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
        });
        child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
    });
    after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });

    it("marks the serve's own development identities for a customer who imports its root", async () => {
      writeFileSync(at('team.txt'), 'team release');
      const s = await vouchAsync(['sign', at('team.txt'), '--instance', url, '--json'], { env: publisher });
      assert.equal(s.status, 0, s.stderr);
      const out = s.json() as { identity: string; issuer: string };
      const env = customer('serve');
      const imp = vouch(['trust', 'import', join(at('serve'), 'trusted_root.json'), '--name', 'team'], { env });
      assert.equal(imp.status, 0, imp.stderr);
      const r = vouch(
        [
          'verify',
          at('team.txt'),
          '--certificate-identity',
          out.identity,
          '--certificate-oidc-issuer',
          out.issuer,
          '--json',
        ],
        { env },
      );
      assert.equal(r.status, 0, r.stderr);
      const signer = (r.json() as { signer: { localDevelopmentIdentity?: boolean } }).signer;
      assert.equal(signer.localDevelopmentIdentity, true);
    });
  });

  it('a local development root cannot vouch for a non-local identity, even minted with its own CA key', async () => {
    // The attacker holds the publisher's embedded data folder (keys and certificates) and runs its CA with a
    // real-looking issuer whose keys they control, then signs as alice@example.com.
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const iss = 'https://accounts.example.com';
    const stack = await startStack({
      dataDir: join(at('publisher'), 'embedded'),
      issuers: [{ issuer: iss, type: 'email', jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256' }] } }],
      services: { ca: true, tlog: true, tsa: true, oidc: false },
    });
    try {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ aud: 'sigstore', email: 'alice@example.com', email_verified: true })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(iss)
        .setSubject('alice')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      writeFileSync(at('evil.txt'), 'not from alice');
      const s = await vouchAsync(
        ['sign', at('evil.txt'), '--instance', stack.url, '--identity-token', token, '--bundle', at('evil.json')],
        { env: { ...noAmbient, VOUCH_HOME: at('attacker') } },
      );
      assert.equal(s.status, 0, s.stderr);
    } finally {
      await stack.close();
    }
    const alice = ['--certificate-identity', 'alice@example.com', '--certificate-oidc-issuer', iss];
    const args = ['verify', at('evil.txt'), '--bundle', at('evil.json'), ...alice];
    const withRoot = vouch([...args, '--trusted-root', at('embedded-root.json')], { env: customer('attack') });
    assert.equal(errorCode(withRoot.stderr), 'TRUST_ROOT_MISMATCH', withRoot.stderr);
    assert.equal(withRoot.status, 1);
    const env = customer('attack-store');
    assert.equal(vouch(['trust', 'import', at('embedded-root.json'), '--name', 'acme'], { env }).status, 0);
    const withStore = vouch(args, { env });
    assert.equal(errorCode(withStore.stderr), 'TRUST_ROOT_MISMATCH', withStore.stderr);
    // The control: the same root with its mark removed would have accepted it, so the mark is what refuses.
    const root = JSON.parse(readFileSync(at('embedded-root.json'), 'utf8')) as {
      certificateAuthorities: { subject: { organization: string } }[];
    };
    for (const ca of root.certificateAuthorities) ca.subject.organization = 'vouch';
    writeFileSync(at('unmarked-root.json'), JSON.stringify(root));
    const unmarked = vouch([...args, '--trusted-root', at('unmarked-root.json'), '--json'], {
      env: customer('control'),
    });
    assert.equal(unmarked.status, 0, unmarked.stderr);
  });
});
