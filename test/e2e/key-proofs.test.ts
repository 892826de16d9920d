/**
 * Issue 17, publishers: key-pair signing on an instance (`--instance`, or the one in config.json) is logged and
 * timestamped as cosign does by default; `--no-tlog` / `--no-timestamp` opt out; the output says which proofs the
 * bundle carries. Publisher and customer have separate VOUCH_HOMEs; the customer verifies with the public key and
 * the instance's trusted root only.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorCode, startServe, tempDir, vouch } from '../helpers/cli.ts';

interface Signed {
  proofs: string[];
  rfc3161Timestamps: number;
  logIndex?: string;
  witnessedBy?: string;
}

describe('key-pair signing on an instance', () => {
  const tmp = tempDir('vouch-e2e-key-proofs-');
  const at = (p: string) => join(tmp.path, p);
  const publisher = { VOUCH_HOME: '' };
  const customer = { VOUCH_HOME: '' };
  let stop = async () => {};
  let url = '';

  before(async () => {
    publisher.VOUCH_HOME = at('publisher');
    customer.VOUCH_HOME = at('customer');
    ({ url, stop } = await startServe(['--data', at('serve')]));
    writeFileSync(at('app.tgz'), 'release bytes');
    assert.equal(vouch(['keygen', '--out', at('release')], { env: publisher }).status, 0);
  });
  after(async () => {
    await stop();
    tmp.dispose();
  });

  const sign = (name: string, extra: string[], env = publisher) => {
    writeFileSync(at(name), `artifact ${name}`);
    const r = vouch(['sign', at(name), '--key', at('release.key'), '--json', ...extra], { env });
    assert.equal(r.status, 0, r.stderr);
    return r.json() as Signed;
  };
  const verify = (name: string, trusted: string[]) =>
    vouch(['verify', at(name), '--key', at('release.pub'), '--json', ...trusted], { env: customer });

  it('--instance: a log entry and an RFC 3161 timestamp, verified by a customer with the trusted root', () => {
    const out = sign('both.tgz', ['--instance', url]);
    assert.deepEqual(out.proofs, ['transparency-log', 'rfc3161-timestamp']);
    assert.equal(out.rfc3161Timestamps, 1);
    assert.equal(out.witnessedBy, url);
    const bundle = JSON.parse(readFileSync(at('both.tgz.sigstore.json'), 'utf8'));
    assert.equal(bundle.verificationMaterial.tlogEntries.length, 1);
    const r = verify('both.tgz', ['--trusted-root', at('serve/trusted_root.json')]);
    assert.equal(r.status, 0, r.stderr);
    const v = r.json() as { tlogEntries: unknown[]; timestamps: { source: string }[] };
    assert.equal(v.tlogEntries.length, 1);
    assert.deepEqual(v.timestamps.map((t) => t.source).sort(), ['tlog', 'tsa']);
  });

  it('a customer without the instance trusted root cannot verify the log entry', () => {
    const r = verify('both.tgz', []);
    assert.equal(errorCode(r.stderr), 'TRUST_ROOT_MISMATCH', r.stderr);
    assert.equal(r.status, 1);
  });

  it('--no-tlog keeps the timestamp only; --no-timestamp the log entry only', () => {
    const noLog = sign('nolog.tgz', ['--instance', url, '--no-tlog']);
    assert.deepEqual(noLog.proofs, ['rfc3161-timestamp']);
    assert.equal(noLog.logIndex, undefined);
    assert.equal(verify('nolog.tgz', ['--trusted-root', at('serve/trusted_root.json')]).status, 0);
    const noTime = sign('notime.tgz', ['--instance', url, '--no-timestamp']);
    assert.deepEqual(noTime.proofs, ['transparency-log']);
    assert.equal(noTime.rfc3161Timestamps, 0);
    assert.equal(verify('notime.tgz', ['--trusted-root', at('serve/trusted_root.json')]).status, 0);
  });

  it('both opted out, or no instance at all: the signature alone, said so', () => {
    const none = sign('none.tgz', ['--instance', url, '--no-tlog', '--no-timestamp']);
    assert.deepEqual(none.proofs, []);
    assert.equal(none.witnessedBy, undefined);
    const offline = sign('offline.tgz', []);
    assert.deepEqual(offline.proofs, []);
    const human = vouch(['sign', at('offline.tgz'), '--key', at('release.key'), '--force'], { env: publisher });
    assert.match(human.stdout, /proofs +none/);
    assert.equal(verify('offline.tgz', []).status, 0);
  });

  it('the configured instance witnesses key-pair signatures too', () => {
    const home = at('configured');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ instance: url }));
    const out = sign('configured.tgz', [], { VOUCH_HOME: home });
    assert.deepEqual(out.proofs, ['transparency-log', 'rfc3161-timestamp']);
    const human = vouch(['sign', at('configured.tgz'), '--key', at('release.key'), '--force'], {
      env: { VOUCH_HOME: home },
    });
    assert.match(human.stdout, /proofs +transparency log entry \(index \d+\), RFC 3161 timestamp from /);
  });

  it('keyless refuses to drop both proofs (its certificate would outlive nothing)', () => {
    const r = vouch(['sign', at('app.tgz'), '--instance', url, '--no-tlog', '--no-timestamp'], { env: publisher });
    assert.equal(errorCode(r.stderr), 'USAGE', r.stderr);
    assert.equal(r.status, 2);
  });

  // Hostile and failing inputs: the key is read before any instance is contacted; a dead instance is exit 3.
  for (const [name, args, code, status] of [
    ['missing key, dead instance', ['--key', 'nokey.key', '--instance', 'http://127.0.0.1:1'], 'FILE_NOT_FOUND', 2],
    ['unreachable instance', ['--key', 'release.key', '--instance', 'http://127.0.0.1:1'], 'SERVICE_UNAVAILABLE', 3],
    ['unknown instance name', ['--key', 'release.key', '--instance', 'staging'], 'USAGE', 2],
  ] as const) {
    it(`refuses: ${name}`, () => {
      const r = vouch(['sign', 'app.tgz', ...args], { cwd: tmp.path, env: publisher });
      assert.equal(errorCode(r.stderr), code, r.stderr);
      assert.equal(r.status, status);
    });
  }
});
