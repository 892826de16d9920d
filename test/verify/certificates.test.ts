/**
 * Certificate rules, on certificates made by an in-memory CA (test/helpers/fixture-pki.ts): validity at the
 * trusted time, code-signing profile, SAN handling (no string joining), unknown critical extensions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { derEncode } from '../../src/core/der.ts';
import { LOCAL_DEVELOPMENT_ORGANIZATION } from '../../src/core/localdev.ts';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import { buildPolicy, loadTrustedRoot, type Policy, type TrustMaterial, verify } from '../../src/verify/index.ts';
import {
  type Instance,
  type InstanceOptions,
  type LeafOptions,
  makeInstance,
  oid,
  sanEmail,
  sanUri,
  T0,
  utf8,
} from '../helpers/fixture-pki.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

const APP = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH = 'https://token.actions.githubusercontent.com';
const artifact = Buffer.from('release tarball\n');
const input = {
  kind: 'digest' as const,
  algorithm: 'sha256' as const,
  digest: createHash('sha256').update(artifact).digest(),
  bytes: artifact,
};

let inst: Instance;
let trust: TrustMaterial;
before(async () => {
  inst = await makeInstance();
  trust = loadTrustedRoot(inst.trustedRootJson);
});

const policy = (identity = APP, issuer = GH) => buildPolicy({ identities: [{ identity, issuer }] });

const EVIL = 'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main';
const sanDns = (v: string) => derEncode(0x82, Buffer.from(v, 'latin1'));
const sanIp = (bytes: number[]) => derEncode(0x87, Buffer.from(bytes));
/** otherName (RFC 5280 §4.2.1.6): type-id, [0] EXPLICIT value. */
const sanOther = (typeId: string, value: Buffer) =>
  derEncode(0xa0, Buffer.concat([oid(typeId), derEncode(0xa0, value)]));
const FULCIO_USERNAME = '1.3.6.1.4.1.57264.1.7';
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function run(leaf: LeafOptions, identity = APP, opts: { integratedTime?: number } = {}) {
  const text = await inst.bundle(artifact, leaf, opts);
  try {
    return verify(text, input, policy(identity), trust);
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    return e.code;
  }
}

describe('certificates from a test CA', () => {
  it('a well-formed leaf verifies (so the rows below fail for their own reason), with sigstore-js too', async () => {
    const r = await run({});
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === APP);
    const bundleJson = await inst.bundle(artifact, {});
    const o = { trustedRootJson: inst.trustedRootJson, bundleJson, artifact, identity: APP, issuer: GH };
    assert.deepEqual(sigstoreJsVerify({ ...o, ctlogThreshold: 0 }), { ok: true });
  });

  const rows: [string, LeafOptions, ErrorCode, string?, { integratedTime?: number }?][] = [
    ['expired before the signing time', { notBefore: T0 - 3600_000, notAfter: T0 - 1800_000 }, 'CERTIFICATE_INVALID'],
    ['not yet valid at the signing time', { notBefore: T0 + 3600_000, notAfter: T0 + 7200_000 }, 'CERTIFICATE_INVALID'],
    ['signed (logged) after expiry', {}, 'CERTIFICATE_INVALID', APP, { integratedTime: T0 + 3600_000 }],
    ['a CA certificate as leaf', { ca: true }, 'CERTIFICATE_INVALID'],
    ['may sign certificates', { keyUsage: 1 | 32 }, 'CERTIFICATE_INVALID'],
    ['no digitalSignature key usage', { keyUsage: 4 }, 'CERTIFICATE_INVALID'],
    ['no codeSigning EKU', { eku: ['1.3.6.1.5.5.7.3.1'] }, 'CERTIFICATE_INVALID'],
    ['an unknown critical extension', { extraCritical: true }, 'CERTIFICATE_INVALID'],
    [
      'SAN with an embedded comma is one name',
      { san: sanUri(`${APP}, URI:https://evil.example`) },
      'IDENTITY_MISMATCH',
    ],
    [
      'SAN of a look-alike repository (acme/app-x)',
      { san: sanUri(APP.replace('acme/app/', 'acme/app-x/')) },
      'IDENTITY_MISMATCH',
    ],
    ['SAN of another ref (main-x)', { san: sanUri(`${APP}-x`) }, 'IDENTITY_MISMATCH'],
    ['e-mail SAN equal to the URI text', { san: sanEmail('x@example.com') }, 'IDENTITY_MISMATCH'],
    ['another issuer', { issuer: 'https://issuer.evil.example' }, 'ISSUER_MISMATCH'],
    ['two contradicting issuer extensions', { issuerV1: 'https://issuer.evil.example' }, 'CERTIFICATE_INVALID'],
    [
      'no SAN identity at all',
      { san: Buffer.concat([Buffer.from([0x82, 0x04]), Buffer.from('a.io')]) },
      'IDENTITY_MISMATCH',
    ],
    // Fulcio certifies exactly one name: a second one, whichever the policy names, is refused.
    [
      'two URI SANs, the policy naming the first',
      { san: Buffer.concat([sanUri(APP), sanUri(EVIL)]) },
      'CERTIFICATE_INVALID',
    ],
    [
      'two URI SANs, the policy naming the second',
      { san: Buffer.concat([sanUri(EVIL), sanUri(APP)]) },
      'CERTIFICATE_INVALID',
    ],
    ['the same URI SAN twice', { san: Buffer.concat([sanUri(APP), sanUri(APP)]) }, 'CERTIFICATE_INVALID'],
    [
      'a URI and an e-mail SAN',
      { san: Buffer.concat([sanEmail('x@example.com'), sanUri(APP)]) },
      'CERTIFICATE_INVALID',
    ],
    ['a URI and a DNS SAN', { san: Buffer.concat([sanUri(APP), sanDns('github.com')]) }, 'CERTIFICATE_INVALID'],
    [
      'a URI and a username SAN',
      { san: Buffer.concat([sanOther(FULCIO_USERNAME, utf8('alice')), sanUri(APP)]) },
      'CERTIFICATE_INVALID',
    ],
    // Names that are not identities, even when their text is the policy's.
    ['a DNS SAN', { san: sanDns('github.com') }, 'IDENTITY_MISMATCH', 'github.com'],
    ['a DNS SAN spelling the identity', { san: sanDns(APP) }, 'IDENTITY_MISMATCH'],
    ['an IP address SAN', { san: sanIp([127, 0, 0, 1]) }, 'IDENTITY_MISMATCH', 'tag:135'],
    ['an otherName of another type', { san: sanOther('1.2.3.4', utf8(APP)) }, 'IDENTITY_MISMATCH'],
    [
      'an otherName of another type, by its OID',
      { san: sanOther('1.2.3.4', utf8(APP)) },
      'IDENTITY_MISMATCH',
      '1.2.3.4',
    ],
    [
      'a username otherName that is not a UTF8String',
      { san: sanOther(FULCIO_USERNAME, derEncode(0x16, Buffer.from('alice'))) },
      'IDENTITY_MISMATCH',
      'alice',
    ],
    [
      'a username otherName that is not a UTF8String, by its OID',
      { san: sanOther(FULCIO_USERNAME, derEncode(0x16, Buffer.from('alice'))) },
      'IDENTITY_MISMATCH',
      FULCIO_USERNAME,
    ],
    // A URI that holds a line break: a regexp compiled with the `m` flag would match its second line.
    ['a URI SAN with a line break', { san: sanUri(`https://evil.example/x\n${APP}`) }, 'IDENTITY_MISMATCH'],
  ];
  for (const [name, leaf, code, identity, opts] of rows) {
    it(name, async () => assert.equal(await run(leaf, identity ?? APP, opts ?? {}), code));
  }

  it('a leaf valid from, or until, exactly the signing time verifies (RFC 5280 §4.1.2.5: both ends inclusive)', async () => {
    const signedAt = T0 + 60_000; // the fixture log's integrated time
    for (const leaf of [
      { notBefore: signedAt, notAfter: signedAt + 600_000 },
      { notBefore: signedAt - 600_000, notAfter: signedAt },
    ]) {
      const r = await run(leaf);
      assert.ok(typeof r === 'object' && r.verified, `${JSON.stringify(leaf)}: ${JSON.stringify(r)}`);
    }
    assert.equal(await run({ notBefore: signedAt - 600_000, notAfter: signedAt - 1000 }), 'CERTIFICATE_INVALID');
  });

  it('an e-mail SAN (rfc822Name) is an identity', async () => {
    const r = await run({ san: derEncode(0x81, Buffer.from('alice@example.com', 'latin1')) }, 'alice@example.com');
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === 'alice@example.com');
  });

  it('a Fulcio username otherName is an identity', async () => {
    const r = await run({ san: sanOther(FULCIO_USERNAME, utf8('alice')) }, 'alice');
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === 'alice');
  });

  it('sigstore-js rejects the odd-SAN certificates it reads the same way', async () => {
    // sigstore-js reads the first URI SAN, else the first e-mail: it agrees wherever that is not the policy's.
    const cases: [Buffer, string][] = [
      [Buffer.concat([sanUri(EVIL), sanUri(APP)]), APP],
      [sanDns('github.com'), 'github.com'],
      [sanIp([127, 0, 0, 1]), 'tag:135'],
      [sanOther('1.2.3.4', utf8(APP)), APP],
      [sanUri(`https://evil.example/x\n${APP}`), APP],
    ];
    for (const [san, identity] of cases) {
      const bundleJson = await inst.bundle(artifact, { san });
      const o = {
        trustedRootJson: inst.trustedRootJson,
        bundleJson,
        artifact,
        // sigstore-js matches the identity as an unanchored pattern: anchor it for an exact comparison.
        identity: new RegExp(`^${escapeRegExp(identity)}$`),
        issuer: GH,
        ctlogThreshold: 0,
      };
      assert.equal(sigstoreJsVerify(o).ok, false, identity);
    }
  });

  it('a hand-made RegExp with the m flag is anchored at the ends of the whole SAN', async () => {
    const text = await inst.bundle(artifact, { san: sanUri(`https://evil.example/x\n${APP}`) });
    const escaped = escapeRegExp(APP);
    for (const flags of ['m', 'gm', 'my', 'im', 'dm']) {
      const p: Policy = { identities: [{ subject: { regexp: new RegExp(escaped, flags) }, issuer: { exact: GH } }] };
      assert.throws(
        () => verify(text, input, p, trust),
        (e: unknown) => e instanceof VouchError && e.code === 'IDENTITY_MISMATCH',
        flags,
      );
    }
    // The flags that do not move the anchors keep their meaning.
    const ok = await inst.bundle(artifact, {});
    const upper: Policy = {
      identities: [{ subject: { regexp: new RegExp(escaped.toUpperCase(), 'im') }, issuer: { exact: GH } }],
    };
    const r = verify(ok, input, upper, trust);
    assert.ok(r.signer.type === 'certificate' && r.signer.identity === APP);
  });

  it('the deprecated issuer extension alone, or agreeing with the new one, is read', async () => {
    const r = await run({ issuerV1: GH });
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.issuer === GH);
  });

  it('the whole comma SAN, exactly, is that identity', async () => {
    const odd = `${APP}, URI:https://evil.example`;
    const r = await run({ san: sanUri(odd) }, odd);
    assert.ok(typeof r === 'object' && r.signer.type === 'certificate' && r.signer.identity === odd);
  });

  it('a leaf from another CA with the same names does not chain', async () => {
    const other = await makeInstance();
    const text = await other.bundle(artifact, {});
    // The log differs too; give the other root's log but this root's CA to isolate the chain check.
    const mixed = JSON.parse(inst.trustedRootJson);
    mixed.tlogs = JSON.parse(other.trustedRootJson).tlogs;
    assert.throws(
      () => verify(text, input, policy(), loadTrustedRoot(JSON.stringify(mixed))),
      (e: unknown) => e instanceof VouchError && e.code === 'CHAIN_INVALID',
    );
  });
});

/** Verify a fresh leaf of a fresh instance; the verdict, or 'valid'. */
async function verdict(o: InstanceOptions, leaf: LeafOptions = {}, edit?: (root: Json) => void) {
  const i = await makeInstance(o);
  const text = await i.bundle(artifact, leaf);
  const root = JSON.parse(i.trustedRootJson) as Json;
  edit?.(root);
  const rootJson = JSON.stringify(root);
  let ours: string;
  try {
    verify(text, input, policy(), loadTrustedRoot(rootJson));
    ours = 'valid';
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    ours = e.code;
  }
  // The official verifier makes each of these checks too: it must agree on valid / invalid.
  const theirs = sigstoreJsVerify({
    trustedRootJson: rootJson,
    bundleJson: text,
    artifact,
    identity: new RegExp(`^${escapeRegExp(APP)}$`),
    issuer: GH,
    ctlogThreshold: o.ctlog ? 1 : 0,
  });
  assert.equal(theirs.ok === true, ours === 'valid', `ours ${ours}, sigstore-js ${JSON.stringify(theirs)}`);
  return ours;
}

// biome-ignore lint/suspicious/noExplicitAny: trusted root JSON edited in place
type Json = Record<string, any>;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** The signing time the fixture's log vouches for. */
const SIGNED_AT = T0 + 60_000;

describe('local development roots and issuers', () => {
  // A local development root (the embedded instance) vouches only for identities of its own issuers.
  it('a local development root does not certify a real issuer', async () => {
    const text = await inst.bundle(artifact, {});
    const local = loadTrustedRoot(inst.trustedRootJson, { localDevelopment: true });
    assert.throws(
      () => verify(text, input, policy(), local),
      (e: unknown) => e instanceof VouchError && e.code === 'TRUST_ROOT_MISMATCH',
    );
  });
  it('a local development root certifies its own issuer, and says so', async () => {
    const dev = 'http://127.0.0.1:4567';
    const text = await inst.bundle(artifact, { issuer: dev });
    const local = loadTrustedRoot(inst.trustedRootJson, { localDevelopment: true, localIssuers: [dev] });
    const r = verify(text, input, policy(APP, dev), local);
    assert.ok(r.signer.type === 'certificate' && r.signer.localDevelopmentIdentity === true);
  });
  it('a CA marked in the trusted root as local development certifies only its own issuer, and says so', async () => {
    // The mark is the CA's subject organization in the root document, wherever the root was copied to.
    const text0 = await inst.bundle(artifact, {});
    const root = JSON.parse(inst.trustedRootJson) as Json;
    root.certificateAuthorities[0].subject = { organization: LOCAL_DEVELOPMENT_ORGANIZATION, commonName: 'dev' };
    root.certificateAuthorities[0].uri = 'http://127.0.0.1:4567/ca';
    const marked = loadTrustedRoot(JSON.stringify(root));
    assert.throws(
      () => verify(text0, input, policy(), marked),
      (e: unknown) => e instanceof VouchError && e.code === 'TRUST_ROOT_MISMATCH',
    );
    const dev = 'http://127.0.0.1:4567/oidc';
    const r = verify(await inst.bundle(artifact, { issuer: dev }), input, policy(APP, dev), marked);
    assert.ok(r.signer.type === 'certificate' && r.signer.localDevelopmentIdentity === true);
  });
  it('a local issuer of an ordinary root is marked; other issuers are not', async () => {
    const dev = 'http://127.0.0.1:4567';
    const marked = loadTrustedRoot(inst.trustedRootJson, { localIssuers: [dev] });
    const r = verify(await inst.bundle(artifact, { issuer: dev }), input, policy(APP, dev), marked);
    assert.ok(r.signer.type === 'certificate' && r.signer.localDevelopmentIdentity === true);
    const q = verify(await inst.bundle(artifact, {}), input, policy(), marked);
    assert.ok(q.signer.type === 'certificate' && !('localDevelopmentIdentity' in q.signer));
  });
});

describe('Rekor v1 signed entry timestamps', () => {
  it('a SET over integrated time 0 (no time) is refused, even from a log the root trusts at any time', async () => {
    // Rekor v1 reads a zero or missing integratedTime as "none"; a SET that signs it vouches for no time. The log's
    // window is removed from the root so that only this rule, not the window, can refuse it.
    const root = JSON.parse(inst.trustedRootJson);
    delete root.tlogs[0].publicKey.validFor;
    const text = await inst.bundle(artifact, {}, { integratedTime: 0 });
    assert.equal(JSON.parse(text).verificationMaterial.tlogEntries[0].integratedTime, '0');
    try {
      verify(text, input, policy(), loadTrustedRoot(JSON.stringify(root)));
      assert.fail('verified');
    } catch (e) {
      assert.ok(e instanceof VouchError);
      assert.equal(e.code, 'TLOG_INVALID');
    }
  });
});

describe('the trusted CA at the signing time', () => {
  const rows: [string, InstanceOptions, string][] = [
    ['a CA whose validity starts after signing', { caValidFor: { start: iso(SIGNED_AT + 1000) } }, 'CHAIN_INVALID'],
    ['a CA whose validity starts at the signing time', { caValidFor: { start: iso(SIGNED_AT) } }, 'valid'],
    [
      'a CA whose validity ended before signing',
      { caValidFor: { start: '2024-01-01T00:00:00Z', end: iso(SIGNED_AT - 1000) } },
      'CHAIN_INVALID',
    ],
    [
      'a CA whose validity ends at the signing time',
      { caValidFor: { start: '2024-01-01T00:00:00Z', end: iso(SIGNED_AT) } },
      'valid',
    ],
    ['a root certificate expired at signing', { root: { notAfter: T0 - 3600_000 } }, 'CHAIN_INVALID'],
    ['a root certificate not yet valid at signing', { root: { notBefore: SIGNED_AT + 1000 } }, 'CHAIN_INVALID'],
    ['a root certificate valid from the signing time', { root: { notBefore: SIGNED_AT } }, 'valid'],
    ['a root certificate valid until the signing time', { root: { notAfter: SIGNED_AT } }, 'valid'],
    ['an intermediate under the root', { intermediate: {} }, 'valid'],
    [
      'an intermediate whose root expired at signing',
      { intermediate: {}, root: { notAfter: T0 - 3600_000 } },
      'CHAIN_INVALID',
    ],
    ['an intermediate expired at signing', { intermediate: { notAfter: T0 - 3600_000 } }, 'CHAIN_INVALID'],
    ['an issuing root without the CA flag', { root: { ca: false } }, 'CHAIN_INVALID'],
    ['an issuing root without keyCertSign', { root: { keyUsage: 1 << 6 } }, 'CHAIN_INVALID'],
    ['an issuing root with no key usage bit', { root: { keyUsage: 0 } }, 'CHAIN_INVALID'],
    ['an issuing intermediate without the CA flag', { intermediate: { ca: false } }, 'CHAIN_INVALID'],
    ['an issuing intermediate without keyCertSign', { intermediate: { keyUsage: 1 } }, 'CHAIN_INVALID'],
  ];
  for (const [name, o, want] of rows) it(name, async () => assert.equal(await verdict(o), want));

  it('a CA listed twice: the window that contains the signing time is used', async () => {
    const edit = (root: Json) => {
      const ca = root.certificateAuthorities[0];
      const renewed = structuredClone(ca);
      ca.validFor = { start: '2024-01-01T00:00:00Z', end: '2024-06-01T00:00:00Z' };
      renewed.validFor = { start: '2024-06-01T00:00:00Z' };
      root.certificateAuthorities.push(renewed);
    };
    assert.equal(await verdict({}, {}, edit), 'valid');
    const closed = (root: Json) => {
      edit(root);
      root.certificateAuthorities[1].validFor = { start: '2024-06-01T00:00:00Z', end: '2024-12-01T00:00:00Z' };
    };
    assert.equal(await verdict({}, {}, closed), 'CHAIN_INVALID');
  });
  it('a CA that cannot issue is skipped for another of the same name that can', async () => {
    const other = await makeInstance({ root: { ca: false } });
    const good = await makeInstance();
    const text = await good.bundle(artifact, {});
    const root = JSON.parse(good.trustedRootJson) as Json;
    root.certificateAuthorities.unshift(JSON.parse(other.trustedRootJson).certificateAuthorities[0]);
    const r = verify(text, input, policy(), loadTrustedRoot(JSON.stringify(root)));
    assert.equal(r.verified, true);
  });
  it('a leaf without the Fulcio issuer extension names no issuer', async () => {
    assert.equal(await verdict({}, { noIssuer: true }), 'ISSUER_MISMATCH');
    // Not even to a policy that accepts any issuer: there is none to accept.
    const text = await inst.bundle(artifact, { noIssuer: true });
    const any = buildPolicy({ identities: [{ identity: APP, issuerRegexp: '.*' }] });
    assert.throws(
      () => verify(text, input, any, trust),
      (e: unknown) => e instanceof VouchError && e.code === 'ISSUER_MISMATCH',
    );
  });
});

describe('embedded SCTs from a CT log of the trusted root', () => {
  const open = { start: '2024-01-01T00:00:00Z' };
  const rows: [string, InstanceOptions, LeafOptions, string][] = [
    ['an SCT from the log', { ctlog: open }, {}, 'valid'],
    ['an SCT from the log, with an intermediate', { ctlog: open, intermediate: {} }, {}, 'valid'],
    ['a forged SCT (another key under the log ID)', { ctlog: open }, { sct: 'forged' }, 'SCT_INVALID'],
    ['no SCT', { ctlog: open }, { sct: 'none' }, 'SCT_INVALID'],
    ["the log's SCT for another certificate", { ctlog: open }, { sct: 'another-certificate' }, 'SCT_INVALID'],
    [
      'an SCT outside the log window (the log closed before)',
      { ctlog: { start: '2024-01-01T00:00:00Z', end: iso(T0 - 1000) } },
      {},
      'SCT_INVALID',
    ],
    ['an SCT before the log window', { ctlog: { start: iso(T0 + 1000) } }, {}, 'SCT_INVALID'],
    ['an SCT at the start of the log window', { ctlog: { start: iso(T0) } }, {}, 'valid'],
    ['an SCT at the end of the log window', { ctlog: { start: '2024-01-01T00:00:00Z', end: iso(T0) } }, {}, 'valid'],
  ];
  for (const [name, o, leaf, want] of rows) it(name, async () => assert.equal(await verdict(o, leaf), want));
});
