import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assetPath } from '../../src/instance/assets.ts';
import { readConfig } from '../../src/instance/config.ts';
import { vouchHome } from '../../src/instance/home.ts';
import { selectServices } from '../../src/instance/signingconfig.ts';
import {
  addLocalIssuers,
  exportTrustedRoot,
  importTrustedRoot,
  listTrustStore,
  loadTrustStore,
  localDevelopmentIssuers,
  parseTrustedRoot,
  summarize,
} from '../../src/instance/truststore.ts';
import { tempHome, throwsWith } from './helpers.ts';

const REAL = '/work/shared/realbundles/trusted_roots';
const staging = readFileSync(join(REAL, 'staging.json'), 'utf8');
const publicGood = readFileSync(join(REAL, 'public-good.json'), 'utf8');

describe('trust store', () => {
  it('an empty home trusts the shipped public-good root only', (t) => {
    const home = tempHome(t);
    const entries = listTrustStore(home);
    assert.deepEqual(
      entries.map((e) => [e.name, e.source]),
      [['public-good', 'shipped']],
    );
    assert.equal(exportTrustedRoot(home, 'public-good'), publicGood);
  });

  it('import, show, export round-trip byte for byte', (t) => {
    const home = tempHome(t);
    importTrustedRoot(home, staging, 'staging');
    assert.equal(loadTrustStore(home).length, 2);
    assert.equal(exportTrustedRoot(home, 'staging'), staging);
    const summary = summarize(listTrustStore(home).find((e) => e.name === 'staging')!);
    assert.equal(summary.source, 'imported');
    assert.ok(summary.certificateAuthorities.length > 0);
    assert.match(summary.certificateAuthorities[0]!.subject, /sigstore/);
    // Log ids are shown in hex: the SHA-256 of the log's key.
    assert.match(summary.tlogs[0]!.logId, /^[0-9a-f]{64}$/);
  });

  it('refuses to overwrite without force, and reserved or bad names', (t) => {
    const home = tempHome(t);
    importTrustedRoot(home, staging, 'staging');
    throwsWith(() => importTrustedRoot(home, staging, 'staging'), 'FILE_EXISTS');
    importTrustedRoot(home, staging, 'staging', { force: true });
    for (const name of ['public-good', 'embedded']) throwsWith(() => importTrustedRoot(home, staging, name), 'USAGE');
    for (const name of ['', '../x', 'A', 'a.b', 'x'.repeat(64)]) {
      throwsWith(() => importTrustedRoot(home, staging, name), 'USAGE');
    }
    throwsWith(() => exportTrustedRoot(home, 'nope'), 'USAGE');
  });

  it('records local development issuers per root', (t) => {
    const home = tempHome(t);
    importTrustedRoot(home, staging, 'dev', { localIssuers: ['http://127.0.0.1:1/oidc'] });
    addLocalIssuers(home, 'dev', ['http://127.0.0.1:1/oidc', 'https://dev.example']);
    assert.deepEqual(localDevelopmentIssuers(home), ['http://127.0.0.1:1/oidc', 'https://dev.example']);
  });

  const root = JSON.parse(staging) as Record<string, unknown>;
  const bad: [string, unknown][] = [
    ['not JSON', '{'],
    ['an array', '[]'],
    ['wrong media type', { ...root, mediaType: 'application/json' }],
    ['trusts nothing', { mediaType: root.mediaType }],
    [
      'CA certificate not base64',
      { ...root, certificateAuthorities: [{ certChain: { certificates: [{ rawBytes: '!!' }] } }] },
    ],
    [
      'CA certificate garbage',
      { ...root, certificateAuthorities: [{ certChain: { certificates: [{ rawBytes: 'AAAA' }] } }] },
    ],
    ['empty chain', { ...root, certificateAuthorities: [{ certChain: { certificates: [] } }] }],
    ['log key garbage', { ...root, tlogs: [{ publicKey: { rawBytes: 'AAAA' }, logId: { keyId: 'AAAA' } }] }],
    [
      'log without id',
      { mediaType: root.mediaType, tlogs: [{ publicKey: (root.tlogs as { publicKey: unknown }[])[0]!.publicKey }] },
    ],
  ];
  for (const [name, doc] of bad) {
    it(`rejects a trusted root: ${name}`, () => {
      throwsWith(() => parseTrustedRoot(typeof doc === 'string' ? doc : JSON.stringify(doc)), 'TRUST_ROOT_INVALID');
    });
  }
  it('rejects a duplicate key in a trusted root', () => {
    throwsWith(() => parseTrustedRoot(staging.replace('{', '{"mediaType":"x",')), 'TRUST_ROOT_INVALID');
  });
  it('a corrupted stored root is an error, not silently skipped', (t) => {
    const home = tempHome(t);
    mkdirSync(join(home, 'trust'));
    writeFileSync(join(home, 'trust', 'broken.json'), '{"mediaType":');
    throwsWith(() => loadTrustStore(home), 'TRUST_ROOT_INVALID');
  });
});

describe('VOUCH_HOME and config', () => {
  it('VOUCH_HOME, then XDG_DATA_HOME, then ~/.local/share', () => {
    assert.equal(vouchHome({ VOUCH_HOME: '/a', XDG_DATA_HOME: '/b' }), '/a');
    assert.equal(vouchHome({ XDG_DATA_HOME: '/b' }), '/b/vouch');
    assert.match(vouchHome({ XDG_DATA_HOME: 'relative' }), /\.local\/share\/vouch$/);
  });
  it('config: missing file is empty, unknown keys and bad values are CONFIG_INVALID', (t) => {
    const home = tempHome(t);
    assert.deepEqual(readConfig(home), {});
    const rows: [string, string | undefined][] = [
      ['{"instance":"public-good"}', undefined],
      ['{"instanse":"public-good"}', 'CONFIG_INVALID'],
      ['{"instance":""}', 'CONFIG_INVALID'],
      ['{"instance":1}', 'CONFIG_INVALID'],
      ['{"instance":"a","instance":"b"}', 'CONFIG_INVALID'],
      ['[', 'CONFIG_INVALID'],
    ];
    for (const [text, code] of rows) {
      writeFileSync(join(home, 'config.json'), text);
      if (code === undefined) assert.equal(readConfig(home).instance, 'public-good');
      else throwsWith(() => readConfig(home), code as 'CONFIG_INVALID');
    }
  });
});

describe('signing config service selection', () => {
  const svc = (url: string, v: number, start: string, end?: string) => ({
    url,
    majorApiVersion: v,
    validFor: end ? { start, end } : { start },
  });
  const base = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [svc('https://ca-old', 1, '2020-01-01T00:00:00Z'), svc('https://ca-new', 1, '2024-01-01T00:00:00Z')],
    rekorTlogUrls: [
      svc('https://rekor-v2', 2, '2025-01-01T00:00:00Z'),
      svc('https://rekor-ended', 1, '2024-01-01T00:00:00Z', '2024-06-01T00:00:00Z'),
      svc('https://rekor/', 1, '2021-01-01T00:00:00Z'),
    ],
    tsaUrls: [svc('https://tsa/api/v1/timestamp', 1, '2025-01-01T00:00:00Z')],
  };
  it('newest usable service per role; ended and unsupported versions skipped', () => {
    const s = selectServices(base, new Date('2025-06-01T00:00:00Z'));
    assert.deepEqual(s, {
      ca: 'https://ca-new',
      tlog: 'https://rekor',
      tlogApiVersion: 1,
      tsa: 'https://tsa/api/v1/timestamp',
    });
  });
  it('the shipped public-good config resolves', () => {
    const s = selectServices(JSON.parse(readFileSync(assetPath('public-good.signing_config.json'), 'utf8')));
    assert.equal(s.ca, 'https://fulcio.sigstore.dev');
    assert.equal(s.tlog, 'https://rekor.sigstore.dev');
  });
  const bad: [string, unknown][] = [
    ['wrong media type', { ...base, mediaType: 'x' }],
    ['no CA', { ...base, caUrls: [] }],
    ['no log usable', { ...base, rekorTlogUrls: [svc('https://r', 2, '2020-01-01T00:00:00Z')] }],
    ['bad URL', { ...base, caUrls: [svc('file:///etc/passwd', 1, '2020-01-01T00:00:00Z')] }],
    ['bad time', { ...base, caUrls: [svc('https://c', 1, 'yesterday')] }],
    ['version not an integer', { ...base, caUrls: [{ url: 'https://c', majorApiVersion: '1' }] }],
  ];
  for (const [name, cfg] of bad) {
    it(`rejects: ${name}`, () => {
      throwsWith(() => selectServices(cfg), 'CONFIG_INVALID');
    });
  }
});
