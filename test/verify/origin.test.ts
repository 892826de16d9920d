/**
 * What a bundle claims about its signer and the instance it comes from (src/verify/origin.ts), read as a library:
 * the signer `vouch inspect` reports, the `vouch serve` instance it names, and the hint of a bundle no trusted root
 * names. Real Sigstore bundles, and leaves of in-memory CAs (test/helpers/fixture-pki.ts) for the names no real CA
 * issues: a vouch CA, a local development CA, SANs of every kind, issuers of every shape.
 */
import assert from 'node:assert/strict';
import { type KeyObject, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { derEncode } from '../../src/core/der.ts';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../../src/core/localdev.ts';
import { trustedRootJson } from '../../src/core/trustroot.ts';
import { type Bundle, parseBundle } from '../../src/verify/bundle.ts';
import {
  type ClaimedSigner,
  describeSigner,
  instanceOf,
  leafOf,
  type NamedTrust,
  untrustedBundleHint,
} from '../../src/verify/origin.ts';
import { loadTrustedRoot } from '../../src/verify/trust.ts';
import {
  bool,
  certificate,
  ext,
  keyUsage,
  oid,
  p256,
  sanEmail,
  sanUri,
  seq,
  set,
  T0,
  utf8,
} from '../helpers/fixture-pki.ts';
import { loadCase } from '../helpers/realbundles.ts';

// biome-ignore lint/suspicious/noExplicitAny: bundle JSON edited in place
type Json = Record<string, any>;

const APP = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH = 'https://token.actions.githubusercontent.com';
const FULCIO_USERNAME = '1.3.6.1.4.1.57264.1.7';
const sanDns = (v: string) => derEncode(0x82, Buffer.from(v, 'latin1'));
const sanIp = (bytes: number[]) => derEncode(0x87, Buffer.from(bytes));
/** otherName (RFC 5280 §4.2.1.6): type-id, [0] EXPLICIT value. */
const sanOther = (typeId: string, value: Buffer) =>
  derEncode(0xa0, Buffer.concat([oid(typeId), derEncode(0xa0, value)]));

const ATTRIBUTE = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' } as const;
/** A distinguished name, one attribute per RDN, in the order given. */
const dn = (...rdns: [keyof typeof ATTRIBUTE, string][]) =>
  seq(...rdns.map(([a, v]) => set(seq(oid(ATTRIBUTE[a]), utf8(v)))));

interface Ca {
  name: Buffer;
  keys: { privateKey: KeyObject; publicKey: KeyObject };
  cert: Buffer;
}
function makeCa(name: Buffer): Ca {
  const keys = p256();
  const cert = certificate({
    serial: 1,
    issuer: name,
    subject: name,
    notBefore: T0 - 86400_000,
    notAfter: T0 + 365 * 86400_000,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [ext('2.5.29.19', true, seq(bool(true))), ext('2.5.29.15', true, keyUsage((1 << 5) | (1 << 6)))],
  });
  return { name, keys, cert };
}

const NOT_BEFORE = T0 + 1000;
const NOT_AFTER = T0 + 601_000;
interface LeafClaims {
  /** GeneralNames content (default: a URI SAN of APP). */
  san?: Buffer;
  /** The Fulcio issuer extension (.1.8), or none. */
  issuer?: string | null;
  /** The deprecated raw issuer extension (.1.1). */
  issuerV1?: string;
  /** More Fulcio extensions, as [OID, DER value]. */
  more?: [string, Buffer][];
}
/** A code-signing leaf issued by `ca`, as Fulcio writes one. */
function leaf(ca: Ca, o: LeafClaims = {}): Buffer {
  const extensions = [
    ext('2.5.29.15', true, keyUsage(1)),
    ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.3'))),
    ext('2.5.29.17', true, seq(o.san ?? sanUri(APP))),
  ];
  if (o.issuer !== null) extensions.push(ext('1.3.6.1.4.1.57264.1.8', false, utf8(o.issuer ?? GH)));
  if (o.issuerV1 !== undefined) extensions.push(ext('1.3.6.1.4.1.57264.1.1', false, Buffer.from(o.issuerV1)));
  for (const [id, value] of o.more ?? []) extensions.push(ext(id, false, value));
  return certificate({
    serial: 2,
    issuer: ca.name,
    subject: seq(),
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: p256().publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
}

/** A real v0.3 bundle (single `certificate`) whose leaf is replaced by `der`: only the leaf is read here. */
function bundleOf(der: Buffer): Bundle {
  const b = JSON.parse(loadCase('prod-v0.3-hashedrekord').bundleText) as Json;
  b.verificationMaterial.certificate.rawBytes = der.toString('base64');
  return parseBundle(JSON.stringify(b));
}

/** A trusted root listing these CAs (each by its own certificate), under a name. */
function rootOf(name: string, cas: { ca: Ca; uri?: string }[]): NamedTrust {
  const json = trustedRootJson({
    certificateAuthorities: cas.map(({ ca, uri }) => ({
      subject: { organization: 'test', commonName: name },
      uri: uri ?? '',
      chain: [ca.cert],
      start: new Date('2024-01-01T00:00:00Z'),
    })),
  });
  return { name, trust: loadTrustedRoot(JSON.stringify(json)) };
}

type CertificateSigner = Extract<ClaimedSigner, { type: 'certificate' }>;
function certificateSigner(b: Bundle): CertificateSigner {
  const s = describeSigner(b);
  assert.equal(s.type, 'certificate');
  return s as CertificateSigner;
}

const VOUCH = makeCa(dn(['O', 'vouch'], ['CN', 'vouch CA']));
const LOCAL = makeCa(dn(['O', LOCAL_DEVELOPMENT_ORGANIZATION], ['CN', 'vouch development issuer CA']));
const OTHER = makeCa(dn(['O', 'vouch-test'], ['CN', 'test-root']));

describe('describeSigner: the signer a bundle claims', () => {
  it('a real keyless bundle: its URI SAN, issuer, extensions, CA and validity', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const b = parseBundle(c.bundleText);
    const s = certificateSigner(b);
    assert.equal(s.identity, c.identity);
    assert.equal(s.issuer, c.issuer);
    assert.equal(s.extensions.issuer, c.issuer);
    assert.equal(s.extensions.issuerV1, c.issuer);
    assert.equal(s.extensions.githubWorkflowRepository, 'sigstore-conformance/extremely-dangerous-public-oidc-beacon');
    assert.equal(s.extensions.sourceRepositoryVisibilityAtSigning, 'public');
    assert.equal(s.certificateIssuer, 'O=sigstore.dev, CN=sigstore-intermediate');
    assert.equal(s.notBefore, '2024-03-19T17:26:26.000Z');
    assert.equal(s.notAfter, '2024-03-19T17:36:26.000Z');
    assert.equal('localDevelopment' in s, false);
    assert.equal('problem' in s, false);
  });

  it('a real e-mail identity and a real username otherName', () => {
    const email = loadCase('staging-v0.3-email-identity');
    assert.equal(certificateSigner(parseBundle(email.bundleText)).identity, 'william@yossarian.net');
    const other = loadCase('custom-othername-san');
    const s = certificateSigner(parseBundle(other.bundleText));
    assert.equal(s.identity, 'foo!oidc.local');
    assert.equal(s.issuer, 'http://oidc.local:8080');
    // Every RDN of a long name, each separated the same way.
    assert.equal(
      s.certificateIssuer,
      'C=USA, ST=California, L=San Francisco, street=548 Market St, postalCode=57274, O=Linux Foundation',
    );
  });

  it('the validity of the leaf, as ISO 8601', () => {
    const s = certificateSigner(bundleOf(leaf(OTHER)));
    assert.equal(s.notBefore, new Date(NOT_BEFORE).toISOString());
    assert.equal(s.notAfter, new Date(NOT_AFTER).toISOString());
    assert.equal(s.certificateIssuer, 'O=vouch-test, CN=test-root');
  });

  const names: [string, Buffer, string | undefined][] = [
    ['a URI SAN', sanUri(APP), APP],
    ['an e-mail SAN', sanEmail('alice@example.com'), 'alice@example.com'],
    ['a Fulcio username otherName', sanOther(FULCIO_USERNAME, utf8('alice')), 'alice'],
    ['a DNS SAN', sanDns('github.com'), undefined],
    ['a DNS SAN spelling a URI', sanDns(APP), undefined],
    ['an IP address SAN', sanIp([127, 0, 0, 1]), undefined],
    ['an otherName of another type', sanOther('1.2.3.4', utf8(APP)), undefined],
    ['a DNS SAN, then a URI SAN', Buffer.concat([sanDns('github.com'), sanUri(APP)]), APP],
    [
      'an IP SAN, then an e-mail SAN',
      Buffer.concat([sanIp([10, 0, 0, 1]), sanEmail('bob@example.com')]),
      'bob@example.com',
    ],
    [
      'an otherName of another type, then a username',
      Buffer.concat([sanOther('1.2.3.4', utf8(APP)), sanOther(FULCIO_USERNAME, utf8('carol'))]),
      'carol',
    ],
  ];
  for (const [what, san, identity] of names) {
    it(`identity of ${what}: ${identity ?? 'none'}`, () => {
      const s = certificateSigner(bundleOf(leaf(OTHER, { san })));
      if (identity === undefined) assert.equal('identity' in s, false);
      else assert.equal(s.identity, identity);
      assert.equal(s.issuer, GH);
      assert.equal('problem' in s, false);
    });
  }

  it('a leaf without an issuer extension claims no issuer', () => {
    const s = certificateSigner(bundleOf(leaf(OTHER, { issuer: null })));
    assert.equal('issuer' in s, false);
    assert.deepEqual(s.extensions, {});
    assert.equal(s.identity, APP);
  });

  it('the deprecated issuer extension alone is the issuer', () => {
    const s = certificateSigner(bundleOf(leaf(OTHER, { issuer: null, issuerV1: 'https://accounts.example' })));
    assert.equal(s.issuer, 'https://accounts.example');
    assert.deepEqual(s.extensions, { issuerV1: 'https://accounts.example' });
  });

  it('a leaf that names two issuers: the problem, its identity, no issuer', () => {
    const s = certificateSigner(bundleOf(leaf(OTHER, { issuerV1: 'https://issuer.evil.example' })));
    assert.equal(typeof s.problem, 'string');
    assert.ok(s.problem!.length > 0);
    assert.equal('issuer' in s, false);
    assert.deepEqual(s.extensions, {});
    assert.equal(s.identity, APP);
    // What the CA and the validity say is still read.
    assert.equal(s.certificateIssuer, 'O=vouch-test, CN=test-root');
    assert.equal(s.notBefore, new Date(NOT_BEFORE).toISOString());
  });

  it('a certificate that does not parse: the problem and nothing else', () => {
    const bad = Buffer.from('not a certificate at all');
    assert.throws(() => new X509Certificate(bad));
    const b = bundleOf(bad);
    const s = certificateSigner(b);
    assert.equal(typeof s.problem, 'string');
    assert.ok(s.problem!.length > 0);
    assert.deepEqual(s.extensions, {});
    assert.equal(s.certificateIssuer, '');
    assert.equal(s.notBefore, '');
    assert.equal(s.notAfter, '');
    for (const k of ['identity', 'issuer', 'localDevelopment']) assert.equal(k in s, false, k);
    assert.equal(leafOf(b), undefined);
  });

  it('a local development CA says so; a vouch CA and others do not', () => {
    assert.equal(certificateSigner(bundleOf(leaf(LOCAL))).localDevelopment, true);
    // The organization is compared as an attribute of its own, not as text anywhere in the name.
    const inCn = makeCa(dn(['O', 'vouch'], ['CN', `O=${LOCAL_DEVELOPMENT_ORGANIZATION}`]));
    const withSuffix = makeCa(dn(['O', `${LOCAL_DEVELOPMENT_ORGANIZATION} x`], ['CN', 'x']));
    for (const ca of [VOUCH, OTHER, inCn, withSuffix]) {
      assert.equal('localDevelopment' in certificateSigner(bundleOf(leaf(ca))), false);
    }
  });

  it('a real key-pair bundle: its hint', () => {
    for (const name of ['prod-managed-key-with-tsa', 'prod-npm-publish-attestation-key']) {
      const text = loadCase(name).bundleText;
      const hint = (JSON.parse(text) as Json).verificationMaterial.publicKey.hint as string;
      const b = parseBundle(text);
      assert.deepEqual(describeSigner(b), { type: 'key', hint });
      assert.equal(leafOf(b), undefined);
    }
  });

  it('a key-pair bundle without a hint: a key, and no hint', () => {
    const j = JSON.parse(loadCase('prod-managed-key-with-tsa').bundleText) as Json;
    delete j.verificationMaterial.publicKey.hint;
    const s = describeSigner(parseBundle(JSON.stringify(j)));
    assert.equal(s.type, 'key');
    assert.equal('hint' in s, false);
  });
});

describe('leafOf: the leaf certificate, parsed', () => {
  it('the leaf of a bundle with a chain, of a single certificate', () => {
    for (const name of ['prod-v0.1-hashedrekord', 'prod-v0.3-hashedrekord']) {
      const b = parseBundle(loadCase(name).bundleText);
      assert.ok(b.material.kind === 'certificate');
      const l = leafOf(b);
      assert.ok(l !== undefined);
      assert.ok(l.tbs.length > 0);
      assert.equal(l.san.find((s) => s.type === 'uri')?.value, loadCase(name).identity);
    }
    const l = leafOf(bundleOf(leaf(VOUCH)));
    assert.ok(l?.issuer.equals(VOUCH.name));
  });
});

describe('instanceOf: the `vouch serve` instance a bundle seems to come from', () => {
  const of = (b: Bundle, roots: readonly NamedTrust[] = []) => instanceOf(describeSigner(b), leafOf(b), roots);

  it('a real production bundle against the real production root: no instance', () => {
    const c = loadCase('prod-v0.3-hashedrekord');
    const root = { name: 'public-good', trust: loadTrustedRoot(c.trustedRootText) };
    assert.equal(of(parseBundle(c.bundleText), [root]), undefined);
    assert.equal(of(parseBundle(c.bundleText)), undefined);
  });

  const uris: [string, string | undefined][] = [
    ['https://h/ca', 'https://h'],
    ['https://h/ca/', 'https://h'],
    ['http://127.0.0.1:8080/team/ca', 'http://127.0.0.1:8080/team'],
    ['https://ca.test', undefined],
    ['https://h/ca/x', undefined],
    ['https://h/xca', undefined],
    ['https://h/ca/x/ca', 'https://h/ca/x'],
    ['', undefined],
  ];
  for (const [uri, want] of uris) {
    it(`a CA listed with uri ${JSON.stringify(uri)}: ${want ?? 'no instance'}`, () => {
      const b = bundleOf(leaf(OTHER));
      assert.equal(of(b, [rootOf('team', [{ ca: OTHER, uri }])]), want);
    });
  }

  it('the CA of the leaf is found among others, in any root', () => {
    const b = bundleOf(leaf(OTHER));
    const unrelated = makeCa(dn(['O', 'elsewhere'], ['CN', 'ca']));
    // Another CA listed first (with an instance URI) is not the leaf's.
    assert.equal(
      of(b, [
        rootOf('mixed', [
          { ca: unrelated, uri: 'https://other/ca' },
          { ca: OTHER, uri: 'https://h/ca' },
        ]),
      ]),
      'https://h',
    );
    assert.equal(of(b, [rootOf('mixed', [{ ca: unrelated, uri: 'https://other/ca' }, { ca: OTHER }])]), undefined);
    // A root that does not list it, then one that does.
    assert.equal(
      of(b, [
        rootOf('a', [{ ca: unrelated, uri: 'https://other/ca' }]),
        rootOf('b', [{ ca: OTHER, uri: 'https://h/ca' }]),
      ]),
      'https://h',
    );
    // A root that lists it without an instance URI, then one that names the instance.
    assert.equal(
      of(b, [rootOf('a', [{ ca: OTHER, uri: 'https://ca.test' }]), rootOf('b', [{ ca: OTHER, uri: 'https://h2/ca' }])]),
      'https://h2',
    );
    // The first root that names an instance wins.
    assert.equal(
      of(b, [rootOf('a', [{ ca: OTHER, uri: 'https://h1/ca' }]), rootOf('b', [{ ca: OTHER, uri: 'https://h2/ca' }])]),
      'https://h1',
    );
  });

  it('a root naming the instance of a CA is read before the issuer the leaf claims', () => {
    const b = bundleOf(leaf(VOUCH, { issuer: 'https://claimed.example/oidc' }));
    assert.equal(of(b, [rootOf('team', [{ ca: VOUCH, uri: 'https://listed.example/ca' }])]), 'https://listed.example');
    assert.equal(of(b, [rootOf('team', [{ ca: VOUCH, uri: 'https://fulcio.example' }])]), 'https://claimed.example');
    assert.equal(of(b), 'https://claimed.example');
  });

  const issuers: [string, string | undefined][] = [
    ['https://vouch.example/oidc', 'https://vouch.example'],
    ['https://vouch.example/oidc/', 'https://vouch.example'],
    ['http://127.0.0.1:4567/oidc', 'http://127.0.0.1:4567'],
    ['https://vouch.example/team/a/oidc', 'https://vouch.example/team/a'],
    ['https://vouch.example/oidc/x', undefined],
    ['https://vouch.example/oidcx', undefined],
    ['https://vouch.example/xoidc', undefined],
    ['https://vouch.example/oidc//', undefined],
    ['https://vouch.example/oidc?x=1', undefined],
    ['https://vouch.example?/oidc', undefined],
    ['https://vouch.example#/oidc', undefined],
    ['https://vouch.example/a?b/oidc', undefined],
    ['https://vouch.example/a#b/oidc', undefined],
    ['https:///oidc', undefined],
    ['https://vouch.example', undefined],
    ['ftp://vouch.example/oidc', undefined],
    ['see https://vouch.example/oidc', undefined],
    ['httpss://vouch.example/oidc', undefined],
    [GH, undefined],
  ];
  for (const ca of [VOUCH, LOCAL]) {
    for (const [issuer, want] of issuers) {
      it(`a ${ca === VOUCH ? 'vouch' : 'local development'} CA certifying ${issuer}: ${want ?? 'no instance'}`, () => {
        assert.equal(of(bundleOf(leaf(ca, { issuer }))), want);
      });
    }
  }

  it('a CA that is not a vouch CA certifying `<base>/oidc`: no instance', () => {
    const cas = [
      OTHER,
      makeCa(dn(['O', 'vouchers'], ['CN', 'x'])),
      makeCa(dn(['O', 'vouch local development CA'], ['CN', 'x'])),
      makeCa(dn(['O', 'not vouch'], ['CN', 'x'])),
      makeCa(dn(['O', 'acme'], ['CN', 'O=vouch'])),
      makeCa(dn(['O', 'acme'], ['OU', 'vouch'])),
    ];
    for (const ca of cas) {
      const b = bundleOf(leaf(ca, { issuer: 'https://vouch.example/oidc' }));
      assert.equal(of(b), undefined, certificateSigner(b).certificateIssuer);
    }
  });

  it('a vouch CA is found wherever its organization is in the name', () => {
    for (const name of [
      dn(['O', 'vouch']),
      dn(['C', 'US'], ['O', 'vouch'], ['CN', 'x']),
      dn(['C', 'US'], ['OU', 'y'], ['O', LOCAL_DEVELOPMENT_ORGANIZATION], ['CN', 'x']),
      dn(['CN', 'x'], ['O', 'vouch']),
    ]) {
      const b = bundleOf(leaf(makeCa(name), { issuer: 'https://vouch.example/oidc' }));
      assert.equal(of(b), 'https://vouch.example', certificateSigner(b).certificateIssuer);
    }
  });

  it('a vouch CA, a leaf that claims no issuer: no instance', () => {
    assert.equal(of(bundleOf(leaf(VOUCH, { issuer: null }))), undefined);
  });

  it('no instance without a readable leaf, or for a key', () => {
    const b = bundleOf(leaf(VOUCH, { issuer: 'https://vouch.example/oidc' }));
    const listed = [rootOf('team', [{ ca: VOUCH, uri: 'https://vouch.example/ca' }])];
    const signer = describeSigner(b);
    assert.equal(instanceOf(signer, leafOf(b), listed), 'https://vouch.example');
    // The same claims without the parsed leaf, or a key-pair signer beside that leaf.
    assert.equal(instanceOf(signer, undefined, listed), undefined);
    assert.equal(instanceOf(signer, undefined, []), undefined);
    assert.equal(instanceOf({ type: 'key' }, leafOf(b), listed), undefined);
    assert.equal(instanceOf({ type: 'key', hint: 'x' }, leafOf(b), []), undefined);
    // A certificate that does not parse.
    const bad = bundleOf(Buffer.from('not a certificate'));
    assert.equal(of(bad, listed), undefined);
  });
});

describe('untrustedBundleHint: where to look for the root of a bundle no root names', () => {
  type Case = 'loopback' | 'remote' | 'none';
  /** Which of the three hints this is, by the commands it names. */
  function caseOf(hint: string, instance?: string): Case {
    const loopback = hint.includes('vouch trust export embedded');
    const inspect = hint.includes('vouch inspect BUNDLE');
    const importInstance = instance !== undefined && hint.includes(`\`vouch trust import ${instance} --name NAME\``);
    const importAny = hint.includes('`vouch trust import URL|FILE --name NAME`');
    if (loopback && importInstance && !inspect && !importAny) return 'loopback';
    if (!loopback && importInstance && !inspect && !importAny) return 'remote';
    if (!loopback && inspect && importAny) return 'none';
    assert.fail(`not one of the three hints: ${hint}`);
  }
  // Every hint offers the other way too: a root file given to verify alone.
  const offersTrustedRoot = (hint: string) => assert.ok(hint.includes('--trusted-root FILE'), hint);

  const bases: [string, Case][] = [
    ['http://localhost:4567', 'loopback'],
    ['http://127.0.0.1:4567', 'loopback'],
    ['http://127.5.6.7', 'loopback'],
    ['http://[::1]:4567', 'loopback'],
    ['https://localhost/team', 'loopback'],
    ['https://vouch.example', 'remote'],
    ['https://vouch.example:8443/team', 'remote'],
    ['http://128.0.0.1:4567', 'remote'],
    ['http://10.127.0.1', 'remote'],
    ['http://localhost.example', 'remote'],
    ['http://mylocalhost', 'remote'],
    ['http://[::2]:4567', 'remote'],
    ['http://1270.0.0.1', 'remote'],
  ];
  for (const [base, want] of bases) {
    it(`a vouch CA certifying ${base}/oidc: ${want}`, () => {
      for (const ca of [VOUCH, LOCAL]) {
        const h = untrustedBundleHint(bundleOf(leaf(ca, { issuer: `${base}/oidc` })));
        assert.equal(caseOf(h, base), want);
        offersTrustedRoot(h);
      }
    });
  }

  it('an instance whose base URL does not parse: named, as a remote one', () => {
    const base = 'http://a b:99';
    assert.throws(() => new URL(base));
    const h = untrustedBundleHint(bundleOf(leaf(VOUCH, { issuer: `${base}/oidc` })));
    assert.equal(caseOf(h, base), 'remote');
  });

  it('no instance: the issuer the leaf claims, if any', () => {
    const real = loadCase('prod-v0.3-hashedrekord');
    const h1 = untrustedBundleHint(parseBundle(real.bundleText));
    assert.equal(caseOf(h1), 'none');
    assert.ok(h1.includes(real.issuer!), h1);
    offersTrustedRoot(h1);
    // A non-vouch CA certifying a `<base>/oidc` issuer: the issuer, but no instance.
    const h2 = untrustedBundleHint(bundleOf(leaf(OTHER, { issuer: 'http://127.0.0.1:4567/oidc' })));
    assert.equal(caseOf(h2), 'none');
    assert.ok(h2.includes('http://127.0.0.1:4567/oidc'), h2);
    for (const b of [
      bundleOf(leaf(OTHER, { issuer: null })),
      bundleOf(Buffer.from('not a certificate')),
      parseBundle(loadCase('prod-managed-key-with-tsa').bundleText),
    ]) {
      const h = untrustedBundleHint(b);
      assert.equal(caseOf(h), 'none');
      // No issuer to name: none is made up.
      assert.ok(!h.includes('undefined') && !h.includes('http'), h);
    }
  });
});
