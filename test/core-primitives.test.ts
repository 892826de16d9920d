/**
 * The one-copy primitives of src/core: DSSE pre-authentication encoding (against the DSSE specification's own
 * example), atomic file writes (what is left on disk when a write fails), and the trust documents built from the
 * protobuf-specs messages (read back by our strict loader and by sigstore-js), and the SARIF log writer shared by
 * `verify --policy` and `deps verify` (its paths as URI references).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { writeFileAtomic } from '../src/core/atomic.ts';
import { preAuthEncoding, preAuthPrefix } from '../src/core/dsse.ts';
import { pathUri, sarifLog } from '../src/core/sarif.ts';
import { signingConfigJson, trustedRootJson } from '../src/core/trustroot.ts';
import { isVouchError } from '../src/errors.ts';
import { selectServices } from '../src/instance/signingconfig.ts';
import { loadTrustedRoot } from '../src/verify/trust.ts';

describe('DSSE pre-authentication encoding', () => {
  it('matches the example of the DSSE v1 protocol specification', () => {
    const pae = preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world'));
    assert.equal(pae.toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });
  it('counts bytes, not characters, and the prefix is the encoding without the payload', () => {
    const payload = Buffer.from('héllo');
    const pae = preAuthEncoding('tÿpe', payload);
    assert.equal(pae.toString(), 'DSSEv1 5 tÿpe 6 héllo');
    assert.deepEqual(Buffer.concat([preAuthPrefix('tÿpe', payload.length), payload]), pae);
  });
});

describe('writeFileAtomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-atomic-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a string, bytes or pieces in order, with the requested mode', () => {
    const path = join(dir, 'a.json');
    writeFileAtomic(path, 'one');
    assert.equal(readFileSync(path, 'utf8'), 'one');
    writeFileAtomic(path, Buffer.from('two'), { fsync: true });
    assert.equal(readFileSync(path, 'utf8'), 'two');
    writeFileAtomic(path, ['th', Buffer.from('r'), 'ee'], { mode: 0o600 });
    assert.equal(readFileSync(path, 'utf8'), 'three');
    assert.equal(statSync(path).mode & 0o777, 0o600 & ~process.umask());
    assert.deepEqual(readdirSync(dir), ['a.json'], 'no temporary file left');
  });

  it('a failure midway keeps the old file whole and leaves no temporary file', () => {
    const path = join(dir, 'b.json');
    writeFileSync(path, 'old');
    function* failing() {
      yield 'new, partly';
      throw new Error('disk on fire');
    }
    assert.throws(
      () => writeFileAtomic(path, failing()),
      (e) => isVouchError(e, 'FILE_UNREADABLE'),
    );
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.json']);
  });

  it('a folder that does not exist is FILE_UNREADABLE', () => {
    assert.throws(
      () => writeFileAtomic(join(dir, 'missing', 'c.json'), 'x'),
      (e) => isVouchError(e, 'FILE_UNREADABLE'),
    );
  });
});

describe('trust documents built from the protobuf-specs messages', () => {
  const start = new Date('2024-01-01T00:00:00Z');
  const spki = Buffer.from(
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==',
    'base64',
  );
  it('a TrustedRoot our loader and sigstore-js both read as built', () => {
    const json = trustedRootJson({
      tlogs: [
        {
          baseUrl: 'https://log.test',
          publicKey: spki,
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          logId: Buffer.alloc(32, 7),
          start,
        },
      ],
    });
    const ours = loadTrustedRoot(JSON.stringify(json));
    assert.equal(ours.tlogs.length, 1);
    assert.equal(ours.tlogs[0]!.logId.toString('hex'), '07'.repeat(32));
    assert.equal(ours.tlogs[0]!.start, start.getTime());
    const theirs = TrustedRoot.fromJSON(json);
    assert.deepEqual(theirs.tlogs[0]!.publicKey?.rawBytes, spki);
  });
  it('a SigningConfig v0.2 our service selection reads', () => {
    const service = (url: string) => ({ url, majorApiVersion: 1, start, operator: 'test' });
    const json = signingConfigJson({
      ca: [service('https://ca')],
      tlog: [service('https://log')],
      tsa: [service('https://tsa/t')],
    });
    assert.deepEqual(selectServices(json, new Date('2025-01-01T00:00:00Z')), {
      ca: 'https://ca',
      tlog: 'https://log',
      tlogApiVersion: 1,
      tsa: 'https://tsa/t',
    });
    assert.equal(SigningConfig.fromJSON(json).rekorTlogConfig?.selector, 2 /* ANY */);
  });
});

describe('SARIF paths and log', () => {
  const rows: [string, string, string][] = [
    ['a relative path stays relative', 'dist/app.exe', 'dist/app.exe'],
    ['an absolute path inside the working folder becomes relative', '/w/proj/dist/app.exe', 'dist/app.exe'],
    ['the working folder itself', '/w/proj', '.'],
    ['dots are resolved', './dist/../dist/a', 'dist/a'],
    ['# and ? stay in the path, not a fragment or a query', 'dist/a#b?c.tgz', 'dist/a%23b%3Fc.tgz'],
    ['% and spaces are encoded', 'my file%.txt', 'my%20file%25.txt'],
    ['a path outside the working folder is absolute', '../other/x', '/w/other/x'],
    ['a name that only starts with two dots is inside', '..hidden', '..hidden'],
  ];
  for (const [name, path, uri] of rows) it(name, () => assert.equal(pathUri(path, '/w/proj'), uri));

  it('a log of one run of vouch, its version and properties only when given', () => {
    const rule = { id: 'DIGEST_MISMATCH', shortDescription: { text: 'x' } };
    const log = sarifLog({ rules: [rule], results: [], toolVersion: '1.2.3', properties: { satisfied: false } });
    assert.equal(log.version, '2.1.0');
    assert.deepEqual(log.runs[0]!.tool.driver, { name: 'vouch', version: '1.2.3', rules: [rule] });
    assert.deepEqual(log.runs[0]!.properties, { satisfied: false });
    const bare = sarifLog({ rules: [], results: [] });
    assert.deepEqual(bare.runs[0], { tool: { driver: { name: 'vouch', rules: [] } }, results: [] });
  });
});
