/**
 * Issue 15 in a directory: `vouch sign dir:` runs the PE check on every file that starts with "MZ" (by content, not
 * by name), refuses an anomaly with the same code as `vouch sign FILE` and names the file, records the check and
 * each explicit exception (`--allow-pe-anomaly PATH`) in the signed statement; `vouch verify dir:` reports the
 * record, and `--pe-strict` runs the full check on the verified tree (also on trees signed without the check).
 * Real PE files signed by osslsigncode and tampered the 3CX way (test/helpers/pe.ts); one row per case.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import { parseDirectoryStatement } from '../../src/artifact/dir/statement.ts';
import { signStatement } from '../../src/sign/bundle.ts';
import { parsePrivateKey } from '../../src/sign/keys.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { errorCode, vouch } from '../helpers/cli.ts';
import {
  appendInsideSignature,
  havePeTools,
  type PeCase,
  type PeWorkshop,
  payload,
  peCases,
  peWorkshop,
} from '../helpers/pe.ts';
import { fileLine, rejectsWith, statementOver } from './helpers.ts';

const missing = havePeTools();
if (missing && process.env.CI) throw new Error(`PE tests need their tools in CI: ${missing}`);

const DLL = 'lib/d3dcompiler_47.dll';

describe('PE files in a signed directory (issue 15)', { skip: missing }, () => {
  let ws: PeWorkshop;
  let cases: Map<string, PeCase>;
  let n = 0;
  const at = (p: string) => join(ws.dir, p);
  const env = () => ({ VOUCH_HOME: at('home') });
  const file = (name: string) => cases.get(name)!.path;

  /** A release tree: a text file, a clean signed DLL, and `files` (tree path -> case name or bytes). */
  function release(files: Record<string, string | Buffer> = {}): string {
    const root = at(`release-${n++}`);
    mkdirSync(join(root, 'lib'), { recursive: true });
    writeFileSync(join(root, 'README.md'), 'release notes\n');
    copyFileSync(file('signed'), join(root, 'lib/ffmpeg.dll'));
    for (const [p, what] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      if (Buffer.isBuffer(what)) writeFileSync(join(root, p), what);
      else copyFileSync(file(what), join(root, p));
    }
    return root;
  }
  const sign = (root: string, ...args: string[]) =>
    vouch(['sign', `dir:${root}`, '--key', at('k.key'), ...args], { env: env() });
  const check = (root: string, ...args: string[]) =>
    vouch(['verify', `dir:${root}`, '--key', at('k.pub'), ...args], { env: env() });
  const predicate = (root: string) => {
    const bundle = JSON.parse(readFileSync(`${root}.sigstore.json`, 'utf8'));
    return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()).predicate;
  };

  before(async () => {
    ws = await peWorkshop();
    cases = new Map((await peCases(ws)).map((c) => [c.name, c]));
    const k = vouch(['keygen', '--out', at('k')], { env: env() });
    assert.equal(k.status, 0, k.stderr);
  });
  after(() => ws?.cleanup());

  // A tampered file anywhere in the tree refuses the whole signature, with its anomaly's code and its path.
  const refused: Array<{ name: string; files: Record<string, string | Buffer>; code: string; path: string }> = [
    { name: 'the 3CX DLL', files: { [DLL]: '3cx' }, code: 'PE_SIGNATURE_PADDING', path: DLL },
    { name: 'the 3CX DLL, checksum fixed', files: { [DLL]: '3cx-checksum' }, code: 'PE_SIGNATURE_PADDING', path: DLL },
    { name: 'the odd-length variant', files: { [DLL]: '3cx-odd' }, code: 'PE_SIGNATURE_PADDING', path: DLL },
    { name: 'data after the table', files: { 'bin/app.exe': 'after-table' }, code: 'PE_OVERLAY', path: 'bin/app.exe' },
    {
      name: 'an extra entry',
      files: { 'bin/app.exe': 'extra-entry' },
      code: 'PE_EXTRA_CERTIFICATE',
      path: 'bin/app.exe',
    },
    {
      name: 'the 3CX DLL named as text',
      files: { 'docs/notes.txt': '3cx' },
      code: 'PE_SIGNATURE_PADDING',
      path: 'docs/notes.txt',
    },
  ];
  for (const row of refused) {
    it(`sign refuses ${row.name}: ${row.code}, naming ${row.path}`, () => {
      const root = release(row.files);
      const r = sign(root);
      assert.equal(errorCode(r.stderr), row.code, r.stderr);
      assert.equal(r.status, 1, r.stderr);
      assert.ok(r.stderr.includes(row.path), r.stderr);
    });
  }

  it('a 3CX DLL over the large-file size (hashed by the overlapped reader) is refused too', async () => {
    const signed = await ws.sign(ws.build('big', 'PE32+', 17 << 20), at('big-signed.dll'));
    const big = appendInsideSignature(readFileSync(signed), payload(2048));
    assert.ok(big.length > 16 << 20);
    const root = release({ [DLL]: big });
    await rejectsWith(() => directoryStatement(root, { bundlePath: `${root}.json` }), 'PE_SIGNATURE_PADDING');
  });

  it('files that only start with "MZ", unsigned PE files and a flipped .text byte sign (the structural check)', () => {
    const root = release({ 'MZ.txt': Buffer.from('MZ is a prefix, not a PE image'), 'bin/u.exe': 'unsigned' });
    copyFileSync(file('text-flip'), join(root, 'bin/flipped.exe'));
    const r = sign(root, '--json');
    assert.equal(r.status, 0, r.stderr);
    const peCheck = (r.json() as { directory: { peCheck: unknown } }).directory.peCheck;
    assert.deepEqual(peCheck, { version: 1, files: 3, allowed: [] });
    assert.deepEqual(predicate(root).peCheck, { version: 1, files: 3, allowed: [] });
    // The Authenticode signature itself is judged by --pe-strict.
    const strict = check(root, '--pe-strict');
    assert.equal(errorCode(strict.stderr), 'AUTHENTICODE_DIGEST_MISMATCH', strict.stderr);
  });

  describe('an explicit exception', () => {
    let root: string;
    before(() => {
      root = release({ [DLL]: '3cx' });
    });

    it('--allow-pe-anomaly PATH signs, and the exception is in the signed statement', () => {
      const r = sign(root, '--allow-pe-anomaly', DLL);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /pe +2 PE files checked, 1 allowed: lib\/d3dcompiler_47\.dll \(PE_SIGNATURE_PADDING\)/);
      assert.deepEqual(predicate(root).peCheck, {
        version: 1,
        files: 2,
        allowed: [{ path: DLL, code: 'PE_SIGNATURE_PADDING' }],
      });
    });

    it('verify shows it, as text and JSON', () => {
      const r = check(root);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /pe check +at signing: 2 PE files checked, 1 allowed: lib\/d3dcompiler_47\.dll/);
      const j = check(root, '--json').json() as { directory: { peCheck: unknown } };
      assert.deepEqual(j.directory.peCheck, {
        version: 1,
        files: 2,
        allowed: [{ path: DLL, code: 'PE_SIGNATURE_PADDING' }],
      });
    });

    it("--pe-strict holds the verifier to its own exceptions, not the signer's", () => {
      const strict = check(root, '--pe-strict');
      assert.equal(errorCode(strict.stderr), 'PE_SIGNATURE_PADDING', strict.stderr);
      assert.ok(strict.stderr.includes(DLL), strict.stderr);
      const allowed = check(root, '--pe-strict', '--allow-pe-anomaly', DLL, '--json');
      assert.equal(allowed.status, 0, allowed.stderr);
      const d = (allowed.json() as { directory: { peStrict: unknown } }).directory;
      assert.deepEqual(d.peStrict, { files: 2, allowed: [{ path: DLL, code: 'PE_SIGNATURE_PADDING' }] });
    });

    it('--pe-strict with a policy: the policy first, then the check with its own code', () => {
      const policy = (require: string) => {
        const p = at(`policy-${n++}.yaml`);
        const pem = readFileSync(at('k.pub'), 'utf8').replace(/\n/g, '\n      ');
        writeFileSync(p, `apiVersion: vouch.dev/policy/v1\nsigners:\n  k:\n    key: |\n      ${pem}\n${require}`);
        return p;
      };
      const met = policy('require: k\n');
      const verifyBy = (p: string, ...args: string[]) =>
        vouch(['verify', `dir:${root}`, '--policy', p, ...args], { env: env() });
      assert.equal(verifyBy(met).status, 0, verifyBy(met).stderr);
      const strict = verifyBy(met, '--pe-strict');
      assert.equal(errorCode(strict.stderr), 'PE_SIGNATURE_PADDING', strict.stderr);
      const allowed = verifyBy(met, '--pe-strict', '--allow-pe-anomaly', DLL, '--json');
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.deepEqual((allowed.json() as { peStrict: unknown }).peStrict, {
        files: 2,
        allowed: [{ path: DLL, code: 'PE_SIGNATURE_PADDING' }],
      });
      // A policy the key signature does not meet (it names a keyless signer only) fails as such, before any check.
      const other = at(`policy-${n++}.yaml`);
      writeFileSync(
        other,
        'apiVersion: vouch.dev/policy/v1\nsigners:\n  ci:\n    identity: a\n    issuer: b\nrequire: ci\n',
      );
      const unmet = verifyBy(other, '--pe-strict');
      assert.equal(errorCode(unmet.stderr), 'POLICY_NOT_SATISFIED', unmet.stderr);
    });

    it('an incremental re-sign remembers the file was flagged (its digest cached, the check not skipped)', async () => {
      // A negative racy window trusts entries written just now, so the second and third walks take every digest
      // from the cache.
      const incremental = { path: at('cache.json'), racyWindowMs: -60_000 };
      const bundlePath = at('incremental.json');
      const first = await directoryStatement(root, { bundlePath, incremental, allowPeAnomaly: [DLL] });
      assert.equal(first.walk.stats.cached, 0);
      await rejectsWith(() => directoryStatement(root, { bundlePath, incremental }), 'PE_SIGNATURE_PADDING');
      const third = await directoryStatement(root, { bundlePath, incremental, allowPeAnomaly: [DLL] });
      assert.equal(third.walk.stats.cached, third.walk.stats.files);
      assert.deepEqual(third.peCheck, first.peCheck);
    });
  });

  const usage: Array<{ name: string; args: string[] }> = [
    { name: 'an exception for a clean PE file', args: ['--allow-pe-anomaly', 'lib/ffmpeg.dll'] },
    { name: 'an exception for no file', args: ['--allow-pe-anomaly', 'lib/gone.dll'] },
    { name: 'an exception outside the tree', args: ['--allow-pe-anomaly', '../x.dll'] },
    {
      name: 'an exception model-signing cannot record',
      args: ['--allow-pe-anomaly', DLL, '--format', 'model-signing'],
    },
  ];
  for (const row of usage) {
    it(`sign refuses ${row.name}: USAGE`, () => {
      const r = sign(release({ [DLL]: '3cx' }), ...row.args);
      assert.equal(errorCode(r.stderr), 'USAGE', r.stderr);
      assert.equal(r.status, 2, r.stderr);
    });
  }

  it('a tree signed without the check: verify says so; --pe-strict finds the 3CX DLL', async () => {
    const root = release({ [DLL]: '3cx' });
    const prepared = await directoryStatement(root, { allowPeAnomaly: [DLL] });
    delete prepared.statement.predicate.peCheck;
    const signer = new KeyPairSigner(parsePrivateKey(readFileSync(at('k.key'), 'utf8'), 'correct horse'));
    const bundle = await signStatement({ signer, witnesses: [] }, prepared.statement);
    await prepared.commit();
    writeFileSync(`${root}.sigstore.json`, JSON.stringify(bundle));
    const r = check(root);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /pe check +not recorded by the signer/);
    const strict = check(root, '--pe-strict');
    assert.equal(errorCode(strict.stderr), 'PE_SIGNATURE_PADDING', strict.stderr);
    assert.equal(strict.status, 1);
  });
});

describe('a signed peCheck record is read strictly', () => {
  const manifest = fileLine('lib/a.dll');
  const good = { version: 1, files: 1, allowed: [{ path: 'lib/a.dll', code: 'PE_OVERLAY' }] };
  const rows: Array<{ name: string; peCheck: unknown; code: string }> = [
    { name: 'an unknown member', peCheck: { ...good, skipped: true }, code: 'MANIFEST_INVALID' },
    { name: 'another version', peCheck: { ...good, version: 2 }, code: 'BUNDLE_UNSUPPORTED' },
    { name: 'no file count', peCheck: { version: 1, allowed: [] }, code: 'MANIFEST_INVALID' },
    { name: 'more exceptions than files', peCheck: { ...good, files: 0 }, code: 'MANIFEST_INVALID' },
    {
      name: 'a code that does not refuse',
      peCheck: { ...good, allowed: [{ path: 'lib/a.dll', code: 'PE_NESTED_SIGNATURE' }] },
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'a code that is not an anomaly',
      peCheck: { ...good, allowed: [{ path: 'lib/a.dll', code: 'toString' }] },
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'a path that is not canonical',
      peCheck: { ...good, allowed: [{ path: './lib/a.dll', code: 'PE_OVERLAY' }] },
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'an exception with an extra member',
      peCheck: { ...good, allowed: [{ path: 'lib/a.dll', code: 'PE_OVERLAY', note: 'x' }] },
      code: 'MANIFEST_INVALID',
    },
    {
      name: 'exceptions out of order',
      peCheck: {
        version: 1,
        files: 2,
        allowed: [
          { path: 'lib/b.dll', code: 'PE_OVERLAY' },
          { path: 'lib/a.dll', code: 'PE_OVERLAY' },
        ],
      },
      code: 'MANIFEST_INVALID',
    },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.code}`, async () => {
      const st = statementOver(manifest);
      st.predicate.peCheck = row.peCheck;
      await rejectsWith(() => parseDirectoryStatement(st), row.code);
    });
  }

  it('a good one is kept, and its absence is no record', () => {
    const st = statementOver(manifest);
    assert.equal((parseDirectoryStatement(st) as { peCheck?: unknown }).peCheck, undefined);
    st.predicate.peCheck = good;
    assert.deepEqual((parseDirectoryStatement(st) as { peCheck?: unknown }).peCheck, good);
  });
});
