/**
 * Real PE files (binutils), really signed (osslsigncode, throwaway CA and TSA), tampered the 3CX way and others:
 * what vouch finds, checked against docs/authenticode.md's table (which also records osslsigncode's verdicts), and
 * the commands a user runs (`inspect`, `sign` refusing and allowing, `verify --pe-strict`) on the built CLI.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pkijs from 'pkijs';
import { signatureAlgorithms, verifyAuthenticode } from '../../src/artifact/pe/authenticode.ts';
import {
  bytesSource,
  checkPe,
  handleSource,
  ImageDigester,
  inspectPeFile,
  type PeSource,
  peFailure,
} from '../../src/artifact/pe/index.ts';
import { pemCertificates } from '../../src/core/encoding.ts';
import { authenticodeRows, osslsigncodeVersion, parseTable, renderTable } from '../helpers/authenticode-table.ts';
import { errorCode, REPO, vouch } from '../helpers/cli.ts';
import { havePeTools, type PeCase, type PeWorkshop, peCases, peWorkshop } from '../helpers/pe.ts';

// CI installs the tools (.ci/services.sh); elsewhere a missing tool skips these tests, and says which.
const missing = havePeTools();
if (missing && process.env.CI) throw new Error(`PE tests need their tools in CI: ${missing}`);

describe('Authenticode on real PE files', { skip: missing }, () => {
  let ws: PeWorkshop;
  let cases: Map<string, PeCase>;
  let roots: Buffer[];
  const path = (name: string) => cases.get(name)!.path;

  before(async () => {
    ws = await peWorkshop();
    cases = new Map((await peCases(ws)).map((c) => [c.name, c]));
    roots = pemCertificates(ws.caPem, 'test CA');
    writeFileSync(join(ws.dir, 'roots.pem'), ws.caPem);
    writeFileSync(join(ws.dir, 'other.pem'), ws.otherCaPem);
    const key = vouch(['keygen', '--out', join(ws.dir, 'k')], { env: { VOUCH_HOME: join(ws.dir, 'home') } });
    assert.equal(key.status, 0, key.stderr);
  });
  after(() => ws?.cleanup());

  it('docs/authenticode.md holds the table this run produces (osslsigncode column: for its recorded version)', async () => {
    const doc = parseTable(readFileSync(join(REPO, 'docs', 'authenticode.md'), 'utf8'));
    const version = osslsigncodeVersion();
    const now = await authenticodeRows(ws, [...cases.values()]);
    const strip = (rows: typeof now, withOss: boolean) => rows.map((r) => (withOss ? r : { ...r, osslsigncode: '' }));
    const sameTool = doc.version === version;
    assert.deepEqual(
      strip(doc.rows, sameTool),
      strip(now, sameTool),
      `rerun \`node scripts/authenticode-table.mjs\`; the table now reads:\n${renderTable(version, now)}`,
    );
  });

  it('the 3CX payload is reported where it is: from the end of the PKCS#7 DER to the end of the table', async () => {
    const bytes = readFileSync(path('3cx'));
    const r = (await inspectPeFile(path('3cx')))!;
    const [a] = r.anomalies;
    assert.equal(a?.code, 'PE_SIGNATURE_PADDING');
    const entry = r.entries[0]!;
    assert.equal(a.offset, entry.offset + 8 + entry.signatureLength!);
    assert.equal(a.offset + a.length, r.certificateTable!.offset + r.certificateTable!.size);
    const hidden = bytes.subarray(a.offset, a.offset + a.length);
    assert.ok(hidden.includes(Buffer.from([0xfe, 0xed, 0xfa, 0xce])), 'the marker is inside the reported bytes');
    // The signature itself is still good: exactly why osslsigncode and Windows (by default) accept the file.
    assert.equal(r.authenticode.signatures[0]!.digestMatches, true);
    assert.equal(r.authenticode.signatures[0]!.signatureValid, true);
  });

  it('chains and timestamps are checked against the roots given, and only then', async () => {
    const signed = path('signed');
    const none = (await inspectPeFile(signed))!;
    assert.equal(none.authenticode.signatures[0]!.chainStatus, 'not-checked');
    assert.equal(peFailure(none), undefined);
    const other = (await inspectPeFile(signed, { roots: pemCertificates(ws.otherCaPem, 'other CA') }))!;
    assert.equal(other.authenticode.signatures[0]!.chainStatus, 'failed');
    assert.equal(peFailure(other)?.code, 'AUTHENTICODE_CHAIN_INVALID');
    const good = (await inspectPeFile(signed, { roots }))!;
    const s = good.authenticode.signatures[0]!;
    assert.equal(s.chainStatus, 'verified');
    assert.deepEqual(
      s.chain.map((c) => c.subject),
      ['CN=vouch test signer', 'CN=vouch test ca root'],
    );
    assert.equal(s.timestamps.length, 1);
    assert.equal(s.timestamps[0]!.kind, 'rfc3161');
    assert.equal(s.timestamps[0]!.valid, true);
    assert.equal(s.timestamps[0]!.chain, 'verified');
    assert.equal(s.timestamps[0]!.signer?.subject, 'CN=vouch test TSA');
  });

  it('a changed signature value or timestamp token is caught', async () => {
    const bytes = readFileSync(path('signed'));
    const r = (await inspectPeFile(path('signed')))!;
    const entry = r.entries[0]!;
    const der = bytes.subarray(entry.offset + 8, entry.offset + 8 + entry.signatureLength!);
    const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(der)).content });
    const si = sd.signerInfos[0]!;
    const flip = async (inner: Uint8Array, name: string) => {
      const at = bytes.indexOf(Buffer.from(inner));
      assert.ok(at > 0);
      const out = Buffer.from(bytes);
      out[at + 10] = out[at + 10]! ^ 1;
      const file = join(ws.dir, name);
      writeFileSync(file, out);
      return peFailure((await inspectPeFile(file, { roots }))!)?.code;
    };
    assert.equal(
      await flip(si.signature.valueBlock.valueHexView, 'bad-signature.exe'),
      'AUTHENTICODE_SIGNATURE_INVALID',
    );
    const token = si.unsignedAttrs!.attributes.find((a) => a.type === '1.3.6.1.4.1.311.3.3.1')!.values[0]!;
    const tsd = new pkijs.SignedData({ schema: new pkijs.ContentInfo({ schema: token }).content });
    assert.equal(
      await flip(tsd.signerInfos[0]!.signature.valueBlock.valueHexView, 'bad-timestamp.exe'),
      'AUTHENTICODE_TIMESTAMP_INVALID',
    );
  });

  it('a legacy countersignature is verified, and a changed one caught', async () => {
    const file = path('legacy-timestamp');
    const r = (await inspectPeFile(file, { roots }))!;
    const [t] = r.authenticode.signatures[0]!.timestamps;
    assert.equal(t?.kind, 'countersignature');
    assert.equal(t.valid, true);
    assert.equal(t.chain, 'verified');
    assert.equal(t.signer?.subject, 'CN=vouch test TSA');
    const bytes = readFileSync(file);
    const entry = r.entries[0]!;
    const der = bytes.subarray(entry.offset + 8, entry.offset + 8 + entry.signatureLength!);
    const sd = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(der)).content });
    const attr = sd.signerInfos[0]!.unsignedAttrs!.attributes.find((a) => a.type === '1.2.840.113549.1.9.6')!;
    const counter = new pkijs.SignerInfo({ schema: attr.values[0] });
    const at = bytes.indexOf(Buffer.from(counter.signature.valueBlock.valueHexView));
    const out = Buffer.from(bytes);
    out[at + 10] = out[at + 10]! ^ 1;
    writeFileSync(join(ws.dir, 'bad-countersignature.exe'), out);
    const bad = (await inspectPeFile(join(ws.dir, 'bad-countersignature.exe'), { roots }))!;
    assert.equal(bad.authenticode.signatures[0]!.timestamps[0]!.valid, false);
    assert.equal(peFailure(bad)?.code, 'AUTHENTICODE_TIMESTAMP_INVALID');
  });

  it('the image digest fed in any chunking (as a hasher streams the file) is the signed one', async () => {
    for (const name of ['signed', 'signed-pe32', 'nested', '3cx']) {
      const bytes = readFileSync(path(name));
      const check = await checkPe(bytesSource(bytes));
      assert.equal(check.kind, 'pe');
      if (check.kind !== 'pe') return;
      const algorithms = signatureAlgorithms(check);
      assert.deepEqual(algorithms, ['sha256']);
      // Chunk sizes 1..97 bytes: every excluded range is split somewhere.
      const d = new ImageDigester(check.layout, algorithms);
      for (let pos = 0, i = 0; pos < bytes.length; i++) {
        const n = Math.min(1 + ((i * 37) % 97), bytes.length - pos);
        d.update(bytes.subarray(pos, pos + n), pos);
        pos += n;
      }
      const digests = d.digests();
      const report = await verifyAuthenticode(check, bytesSource(bytes), { digests });
      assert.equal(report.signatures[0]!.imageDigest, digests.get('sha256')!.toString('hex'));
      assert.ok(
        report.signatures.every((s) => s.digestMatches),
        name,
      );
      // The given digests are used, not recomputed: wrong ones make a mismatch.
      const wrong = new Map([['sha256', Buffer.alloc(32)]]);
      const lied = await verifyAuthenticode(check, bytesSource(bytes), { digests: wrong });
      assert.equal(lied.signatures[0]!.digestMatches, false);
    }
  });

  it('checkPe on an open file reads the headers once and the table once', async () => {
    const fh = await open(path('signed'), 'r');
    try {
      const inner = handleSource(fh, (await fh.stat()).size);
      const reads: Array<[number, number]> = [];
      const read = (o: number, n: number) => {
        reads.push([o, n]);
        return inner.read(o, n);
      };
      const source: PeSource = { size: inner.size, read };
      const c = await checkPe(source);
      assert.equal(c.kind, 'pe');
      assert.equal(reads.length, 2);
      assert.deepEqual(reads[1], [
        c.kind === 'pe' ? c.layout.certificateTable!.offset : -1,
        c.kind === 'pe' ? c.layout.certificateTable!.size : -1,
      ]);
    } finally {
      await fh.close();
    }
  });

  describe('the CLI', () => {
    const env = () => ({ VOUCH_HOME: join(ws.dir, 'home') });
    const key = () => join(ws.dir, 'k');

    it('inspect --json: PE kind, digest, signer, timestamp and anomalies with offsets', () => {
      const r = vouch(['inspect', path('3cx'), '--authenticode-roots', join(ws.dir, 'roots.pem'), '--json'], {
        env: env(),
      });
      assert.equal(r.status, 0, r.stderr);
      const j = r.json() as {
        kind: string;
        format: string;
        anomalies: Array<{ code: string; offset: number }>;
        authenticode: { signatures: Array<{ digestAlgorithm: string; digestMatches: boolean; chainStatus: string }> };
      };
      assert.equal(j.kind, 'pe');
      assert.equal(j.format, 'PE32+');
      assert.deepEqual(
        j.anomalies.map((a) => a.code),
        ['PE_SIGNATURE_PADDING'],
      );
      assert.equal(j.authenticode.signatures[0]!.digestAlgorithm, 'sha256');
      assert.equal(j.authenticode.signatures[0]!.chainStatus, 'verified');
      const text = vouch(['inspect', path('text-flip')], { env: env() });
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /image digest MISMATCH/);
    });

    it('inspect refuses what is not a PE image', () => {
      const r = vouch(['inspect', join(ws.dir, 'roots.pem')], { env: env() });
      assert.equal(r.status, 2);
      assert.equal(errorCode(r.stderr), 'TARGET_UNSUPPORTED');
    });

    it('sign refuses the 3CX file, signs it with --allow-pe-anomaly and records the exception', () => {
      const target = path('3cx-checksum');
      const refused = vouch(['sign', target, '--key', `${key()}.key`], { env: env() });
      assert.equal(refused.status, 1);
      assert.equal(errorCode(refused.stderr), 'PE_SIGNATURE_PADDING');
      const allowed = vouch(['sign', target, '--key', `${key()}.key`, '--allow-pe-anomaly', target, '--json'], {
        env: env(),
      });
      assert.equal(allowed.status, 0, allowed.stderr);
      const pe = (allowed.json() as { pe: { allowed: string; anomalies: Array<{ code: string }> } }).pe;
      assert.equal(pe.allowed, 'PE_SIGNATURE_PADDING');
      assert.deepEqual(
        pe.anomalies.map((a) => a.code),
        ['PE_SIGNATURE_PADDING'],
      );
      const typo = vouch(['sign', target, '--key', `${key()}.key`, '--allow-pe-anomaly', 'other.exe'], { env: env() });
      assert.equal(errorCode(typo.stderr), 'USAGE');
    });

    it('sign refuses a file whose Authenticode digest no longer matches, and signs a clean one', () => {
      const flipped = vouch(['sign', path('text-flip'), '--key', `${key()}.key`], { env: env() });
      assert.equal(errorCode(flipped.stderr), 'AUTHENTICODE_DIGEST_MISMATCH');
      const clean = vouch(['sign', path('signed'), '--key', `${key()}.key`, '--json'], { env: env() });
      assert.equal(clean.status, 0, clean.stderr);
      assert.deepEqual((clean.json() as { pe: unknown }).pe, {
        path: path('signed'),
        format: 'PE32+',
        authenticode: 'valid',
        anomalies: [],
      });
    });

    it('verify --pe-strict refuses what a plain verify accepts', () => {
      const target = path('3cx-checksum');
      const pub = `${key()}.pub`;
      // Signed above with the exception; a verifier that did not grant it sees the anomaly.
      const plain = vouch(['verify', target, '--key', pub], { env: env() });
      assert.equal(plain.status, 0, plain.stderr);
      const strict = vouch(['verify', target, '--key', pub, '--pe-strict'], { env: env() });
      assert.equal(strict.status, 1);
      assert.equal(errorCode(strict.stderr), 'PE_SIGNATURE_PADDING');
      const granted = vouch(['verify', target, '--key', pub, '--pe-strict', '--allow-pe-anomaly', target, '--json'], {
        env: env(),
      });
      assert.equal(granted.status, 0, granted.stderr);
      assert.equal((granted.json() as { pe: { allowed: string } }).pe.allowed, 'PE_SIGNATURE_PADDING');
      const signed = path('signed');
      const roots = ['--authenticode-roots', join(ws.dir, 'other.pem')];
      const chain = vouch(['verify', signed, '--key', pub, '--pe-strict', ...roots], { env: env() });
      assert.equal(errorCode(chain.stderr), 'AUTHENTICODE_CHAIN_INVALID');
      const lone = vouch(['verify', signed, '--key', pub, ...roots], { env: env() });
      assert.equal(errorCode(lone.stderr), 'USAGE');
    });

    it('verify --policy --pe-strict: the policy is met, then the file is held to the same check', () => {
      const target = path('3cx-checksum');
      const pem = readFileSync(`${key()}.pub`, 'utf8').trim().replace(/\n/g, '\n      ');
      const policy = join(ws.dir, 'key-policy.yaml');
      writeFileSync(policy, `apiVersion: vouch.dev/policy/v1\nsigners:\n  k:\n    key: |\n      ${pem}\nrequire: k\n`);
      const run = (...args: string[]) => vouch(['verify', target, '--policy', policy, ...args], { env: env() });
      assert.equal(run().status, 0, run().stderr);
      const strict = run('--pe-strict');
      assert.equal(strict.status, 1);
      assert.equal(errorCode(strict.stderr), 'PE_SIGNATURE_PADDING');
      const granted = run('--pe-strict', '--allow-pe-anomaly', target, '--json');
      assert.equal(granted.status, 0, granted.stderr);
      assert.equal((granted.json() as { pe: { allowed: string } }).pe.allowed, 'PE_SIGNATURE_PADDING');
      assert.match(run('--pe-strict', '--allow-pe-anomaly', target).stdout, /^ {2}pe {9}/m);
      const digest = vouch(['verify', 'sha256:' + '0'.repeat(64), '--policy', policy, '--pe-strict'], { env: env() });
      assert.equal(errorCode(digest.stderr), 'USAGE');
    });
  });
});
