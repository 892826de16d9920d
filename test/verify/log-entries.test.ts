/**
 * Log entry bodies, timestamps and log key windows, attacked one field at a time. Every bundle here is made by an
 * in-memory Rekor v2 instance (test/helpers/fixture-rekor2.ts) that logs and proves whatever body it is given, so
 * a changed body is still a proven entry of a trusted log: the only thing wrong with it is the change. Each kind
 * of body the verifier reads is covered, keyless and with a key pair.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { derEncode } from '../../src/core/der.ts';
import { type ErrorCode, VouchError } from '../../src/errors.ts';
import { buildPolicy, loadTrustedRoot, type Policy, type TrustMaterial, verify } from '../../src/verify/index.ts';
import { int, octets, oid, p256, seq, set, T0 } from '../helpers/fixture-pki.ts';
import {
  type EntryKind,
  type Json,
  makeRekorV2Instance,
  type TokenOptions,
  type V2BundleOptions,
} from '../helpers/fixture-rekor2.ts';
import { sigstoreJsVerify } from '../helpers/sigstore-verify.ts';

const APP = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH = 'https://token.actions.githubusercontent.com';
const artifact = Buffer.from('log entry artifact\n');
const input = {
  kind: 'digest' as const,
  algorithm: 'sha256' as const,
  digest: createHash('sha256').update(artifact).digest(),
  bytes: artifact,
};
const inst = makeRekorV2Instance();
const trust = loadTrustedRoot(inst.trustedRootJson);
const keyless = buildPolicy({ identities: [{ identity: APP, issuer: GH }] });
const keyPair = p256();
const keyPem = keyPair.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const byKey = buildPolicy({ keys: [{ spki: keyPem }] });
const TSA_TIME = T0 + 60_000;

type Outcome = 'valid' | ErrorCode;

function outcome(o: Partial<V2BundleOptions>, t: TrustMaterial = trust): Outcome {
  const text = inst.bundle({ artifact, ...o });
  return verdict(text, o.keyPair ? byKey : keyless, t);
}

function verdict(text: string, policy: Policy, t: TrustMaterial = trust): Outcome {
  try {
    verify(text, input, policy, t);
    return 'valid';
  } catch (e) {
    assert.ok(e instanceof VouchError, `not a VouchError: ${(e as Error)?.stack}`);
    return e.code;
  }
}

/** sigstore-js on the same bundle: true when it accepts it. */
function theirs(text: string, keyed: boolean, trustedRootJson = inst.trustedRootJson): boolean {
  const v = sigstoreJsVerify({
    trustedRootJson,
    bundleJson: text,
    artifact,
    ...(keyed ? { keyPem, tlogThreshold: 1, timestampThreshold: 1 } : { identity: new RegExp(`^${APP}$`), issuer: GH }),
    ctlogThreshold: 0,
  });
  return v.ok === true;
}

interface Shape {
  name: string;
  kind: EntryKind;
  dsse: boolean;
  keyed: boolean;
}
const SHAPES: Shape[] = [];
for (const keyed of [false, true]) {
  SHAPES.push(
    { name: 'hashedrekord/0.0.1', kind: 'hashedrekord/0.0.1', dsse: false, keyed },
    { name: 'hashedrekord/0.0.2', kind: 'hashedrekord/0.0.2', dsse: false, keyed },
    { name: 'hashedrekord/0.0.2 of a DSSE envelope', kind: 'hashedrekord/0.0.2', dsse: true, keyed },
    { name: 'dsse/0.0.1', kind: 'dsse/0.0.1', dsse: true, keyed },
    { name: 'dsse/0.0.2', kind: 'dsse/0.0.2', dsse: true, keyed },
    { name: 'intoto/0.0.2', kind: 'intoto/0.0.2', dsse: true, keyed },
  );
}
const optionsOf = (s: Shape): Partial<V2BundleOptions> => ({
  entryKind: s.kind,
  dsse: s.dsse,
  ...(s.keyed ? { keyPair } : {}),
});
const label = (s: Shape) => `${s.name}, ${s.keyed ? 'key pair' : 'keyless'}`;

/** Paths of every scalar in a body. */
function* leaves(x: unknown, path: string[] = []): Generator<string[]> {
  if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) yield* leaves(v, [...path, k]);
  else yield path;
}
function at(body: Json, path: string[]): [Json, string] {
  let o = body;
  for (const k of path.slice(0, -1)) o = o[k];
  return [o, path[path.length - 1]!];
}
/** Another value of the same type, still well-formed (canonical base64 stays canonical base64). */
function changed(v: unknown): unknown {
  if (typeof v !== 'string') return typeof v === 'number' ? v + 1 : v;
  if (/^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v) && v.length >= 8) {
    const b = Buffer.from(v, 'base64');
    b[b.length >> 1]! ^= 1;
    return b.toString('base64');
  }
  if (/^[0-9a-f]{64}$/.test(v)) return `${v.slice(0, -1)}${v.endsWith('0') ? '1' : '0'}`;
  return `${v}x`;
}
/** Fields that describe rather than bind (the verifier compares the key itself, not its declared details). */
const DESCRIPTIVE = new Set(['keyDetails']);

describe('every field of every log entry body is checked, each on its own', () => {
  for (const s of SHAPES) {
    const fields: string[][] = [];
    inst.bundle({ artifact, ...optionsOf(s), editBody: (b) => fields.push(...leaves(b)) });
    it(`${label(s)}: the unchanged body verifies, for sigstore-js too`, () => {
      const text = inst.bundle({ artifact, ...optionsOf(s) });
      assert.equal(verdict(text, s.keyed ? byKey : keyless), 'valid');
      // sigstore-js does not read a DSSE envelope logged as hashedrekord/0.0.2 (Rekor v2 only logs dsse/0.0.2).
      if (!(s.dsse && s.kind === 'hashedrekord/0.0.2')) assert.equal(theirs(text, s.keyed), true);
    });
    for (const path of fields) {
      if (DESCRIPTIVE.has(path[path.length - 1]!)) continue;
      const name = path.join('.');
      it(`${label(s)}: ${name} changed`, () => {
        const editBody = (b: Json) => {
          const [o, k] = at(b, path);
          o[k] = changed(o[k]);
        };
        const text = inst.bundle({ artifact, ...optionsOf(s), editBody });
        assert.equal(verdict(text, s.keyed ? byKey : keyless), 'TLOG_INVALID');
        // sigstore-js compares the logged signature and digest, not the logged key, algorithm names or payload type.
        if (!(s.dsse && s.kind === 'hashedrekord/0.0.2') && !/algorithm|publicKey|verifier|payloadType/.test(name)) {
          assert.equal(theirs(text, s.keyed), false);
        }
      });
      it(`${label(s)}: ${name} removed`, () => {
        const editBody = (b: Json) => {
          const [o, k] = at(b, path);
          delete o[k];
        };
        const want = name === 'spec.content.envelope.payloadType' ? 'valid' : 'TLOG_INVALID';
        assert.equal(outcome({ ...optionsOf(s), editBody }), want);
      });
      it(`${label(s)}: ${name} of another type`, () => {
        const editBody = (b: Json) => {
          const [o, k] = at(b, path);
          o[k] = typeof o[k] === 'string' ? 7 : String(o[k]);
        };
        assert.equal(outcome({ ...optionsOf(s), editBody }), 'TLOG_INVALID');
      });
    }
    it(`${label(s)}: keyDetails are descriptive`, () => {
      const editBody = (b: Json) => {
        for (const path of leaves(b)) {
          const [o, k] = at(b, path);
          if (k === 'keyDetails') o[k] = 'PKIX_RSA_PKCS1V15_2048_SHA256';
        }
      };
      assert.equal(outcome({ ...optionsOf(s), editBody }), 'valid');
    });
  }
});

/** Edit the first object in `b` that holds `key`. */
function withKey(b: Json, key: string, fn: (o: Json) => void): void {
  const walk = (x: unknown): boolean => {
    if (!x || typeof x !== 'object') return false;
    if (key in (x as Json)) {
      fn(x as Json);
      return true;
    }
    return Object.values(x as Json).some(walk);
  };
  assert.ok(walk(b), `no ${key} in the body`);
}
const sha = (alg: string, data: Buffer) => createHash(alg).update(data).digest();

describe('log entry bodies: values that look right but bind something else', () => {
  const other = p256();
  const otherSpki = other.publicKey.export({ format: 'der', type: 'spki' });
  const pemOf = (label: string, der: Buffer) =>
    `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;
  const rows: [string, Partial<V2BundleOptions>, Outcome][] = [
    // hashedrekord/0.0.2
    [
      'hashedrekord/0.0.2: the digest named SHA2_384',
      {
        editBody: (b) =>
          withKey(b, 'data', (o) => {
            o.data.algorithm = 'SHA2_384';
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.2: an unknown digest algorithm',
      {
        editBody: (b) =>
          withKey(b, 'data', (o) => {
            o.data.algorithm = 'MD5';
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.2 of a DSSE envelope: the digest of the payload instead of the PAE',
      {
        dsse: true,
        entryKind: 'hashedrekord/0.0.2',
        editBody: (b) =>
          withKey(b, 'data', (o) => {
            o.data.digest = sha('sha256', Buffer.from('not the PAE')).toString('base64');
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.2 of a DSSE envelope: an unknown digest algorithm',
      {
        dsse: true,
        entryKind: 'hashedrekord/0.0.2',
        editBody: (b) =>
          withKey(b, 'data', (o) => {
            o.data.algorithm = 'X';
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'a verifier with both a certificate and a key',
      {
        editBody: (b) =>
          withKey(b, 'verifier', (o) => {
            o.verifier.publicKey = { rawBytes: otherSpki.toString('base64') };
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'a verifier with neither a certificate nor a key',
      {
        editBody: (b) =>
          withKey(b, 'verifier', (o) => {
            o.verifier = { keyDetails: 'PKIX_ECDSA_P256_SHA_256' };
          }),
      },
      'TLOG_INVALID',
    ],
    [
      "a verifier naming the certificate's bytes as a public key",
      {
        editBody: (b) =>
          withKey(b, 'verifier', (o) => {
            o.verifier = { publicKey: o.verifier.x509Certificate };
          }),
      },
      'TLOG_INVALID',
    ],
    [
      "a verifier naming the key's bytes as a certificate",
      {
        keyPair,
        editBody: (b) =>
          withKey(b, 'verifier', (o) => {
            o.verifier = { x509Certificate: o.verifier.publicKey };
          }),
      },
      'TLOG_INVALID',
    ],
    [
      'a verifier holding another key',
      {
        keyPair,
        editBody: (b) =>
          withKey(b, 'verifier', (o) => {
            o.verifier.publicKey.rawBytes = otherSpki.toString('base64');
          }),
      },
      'TLOG_INVALID',
    ],
    // hashedrekord/0.0.1
    [
      'hashedrekord/0.0.1: the digest named sha512',
      {
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          b.spec.data.hash.algorithm = 'sha512';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: the digest in upper-case hex',
      {
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          b.spec.data.hash.value = b.spec.data.hash.value.toUpperCase();
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: the certificate PEM labelled PUBLIC KEY',
      {
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(p.replace(/CERTIFICATE/g, 'PUBLIC KEY')).toString('base64');
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: the public key PEM labelled CERTIFICATE',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(p.replace(/PUBLIC KEY/g, 'CERTIFICATE')).toString('base64');
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: another public key',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          b.spec.signature.publicKey.content = Buffer.from(pemOf('PUBLIC KEY', otherSpki)).toString('base64');
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: mismatched PEM labels',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(p.replace('END PUBLIC KEY', 'END CERTIFICATE')).toString(
            'base64',
          );
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: text before the PEM',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(`x${p}`).toString('base64');
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: text after the PEM',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(`${p}x`).toString('base64');
        },
      },
      'TLOG_INVALID',
    ],
    [
      'hashedrekord/0.0.1: a PEM with CRLF line ends and trailing whitespace is the same key',
      {
        keyPair,
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          b.spec.signature.publicKey.content = Buffer.from(`${p.replace(/\n/g, '\r\n')} \n`).toString('base64');
        },
      },
      'valid',
    ],
    [
      'hashedrekord/0.0.1: a PEM without line breaks in the base64 is the same key',
      {
        entryKind: 'hashedrekord/0.0.1',
        editBody: (b) => {
          const p = Buffer.from(b.spec.signature.publicKey.content, 'base64').toString();
          const lines = p.split('\n');
          const joined = `${lines[0]}\n${lines.slice(1, -2).join('')}\n${lines[lines.length - 2]}\n`;
          b.spec.signature.publicKey.content = Buffer.from(joined).toString('base64');
        },
      },
      'valid',
    ],
    [
      'hashedrekord/0.0.1 logging a DSSE envelope',
      {
        dsse: true,
        entryKind: 'hashedrekord/0.0.2',
        editBody: (b) => {
          b.apiVersion = '0.0.1';
        },
      },
      'TLOG_INVALID',
    ],
    // dsse and intoto
    [
      'dsse/0.0.1: a sha384 payload hash that is not the digest',
      {
        dsse: true,
        entryKind: 'dsse/0.0.1',
        editBody: (b) => {
          b.spec.payloadHash = { algorithm: 'sha384', value: 'x' };
        },
      },
      'TLOG_INVALID',
    ],
    [
      'dsse/0.0.1: the payload hash named sha1',
      {
        dsse: true,
        entryKind: 'dsse/0.0.1',
        editBody: (b) => {
          b.spec.payloadHash.algorithm = 'sha1';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'dsse/0.0.2: the payload hash named SHA2_512',
      {
        dsse: true,
        entryKind: 'dsse/0.0.2',
        editBody: (b) => {
          b.spec.dsseV002.payloadHash.algorithm = 'SHA2_512';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'dsse/0.0.2: the payload hash with a hex name',
      {
        dsse: true,
        entryKind: 'dsse/0.0.2',
        editBody: (b) => {
          b.spec.dsseV002.payloadHash.algorithm = 'sha256';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'dsse/0.0.1: the signature logged twice',
      { dsse: true, entryKind: 'dsse/0.0.1', duplicateLoggedSignature: true },
      'TLOG_INVALID',
    ],
    ['dsse/0.0.2: the signature logged twice', { dsse: true, duplicateLoggedSignature: true }, 'TLOG_INVALID'],
    [
      'intoto/0.0.2: the signature logged twice',
      { dsse: true, entryKind: 'intoto/0.0.2', duplicateLoggedSignature: true },
      'TLOG_INVALID',
    ],
    [
      'dsse/0.0.2: no signature logged',
      {
        dsse: true,
        editBody: (b) => {
          b.spec.dsseV002.signatures = [];
        },
      },
      'TLOG_INVALID',
    ],
    [
      'intoto/0.0.2: the signature base64-encoded once, not twice',
      {
        dsse: true,
        entryKind: 'intoto/0.0.2',
        editBody: (b) => {
          const s = b.spec.content.envelope.signatures[0];
          s.sig = Buffer.from(s.sig, 'base64').toString();
        },
      },
      'TLOG_INVALID',
    ],
    [
      'intoto/0.0.2: another payload type',
      {
        dsse: true,
        entryKind: 'intoto/0.0.2',
        editBody: (b) => {
          b.spec.content.envelope.payloadType = 'text/plain';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'intoto/0.0.2: no payload type (optional in the body)',
      { dsse: true, entryKind: 'intoto/0.0.2', editBody: (b) => delete b.spec.content.envelope.payloadType },
      'valid',
    ],
    [
      'intoto/0.0.2: the payload hash named SHA2_256',
      {
        dsse: true,
        entryKind: 'intoto/0.0.2',
        editBody: (b) => {
          b.spec.content.payloadHash.algorithm = 'SHA2_256';
        },
      },
      'TLOG_INVALID',
    ],
    // kinds
    [
      'a body of another kind than its entry',
      {
        editBody: (b) => {
          b.kind = 'dsse';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'a body of another version than its entry',
      {
        editBody: (b) => {
          b.apiVersion = '0.0.1';
        },
      },
      'TLOG_INVALID',
    ],
    [
      'a body whose spec is an array',
      {
        editBody: (b) => {
          b.spec = [b.spec];
        },
      },
      'TLOG_INVALID',
    ],
    [
      'a message signature logged as dsse/0.0.2',
      {
        editBody: (b) => {
          b.kind = 'dsse';
          b.spec = { dsseV002: {} };
        },
      },
      'TLOG_INVALID',
    ],
  ];
  for (const [name, o, want] of rows) it(name, () => assert.equal(outcome(o), want));

  it('a payload hash in sha384 or sha512, correctly computed, is accepted', () => {
    for (const [entryKind, field, alg, name, hex] of [
      ['dsse/0.0.1', 'spec.payloadHash', 'sha384', 'sha384', true],
      ['dsse/0.0.1', 'spec.payloadHash', 'sha512', 'sha512', true],
      ['dsse/0.0.2', 'spec.dsseV002.payloadHash', 'sha384', 'SHA2_384', false],
      ['intoto/0.0.2', 'spec.content.payloadHash', 'sha512', 'sha512', true],
    ] as const) {
      const editBody = (b: Json) => {
        const text = inst.bundle({ artifact, dsse: true });
        const payload = Buffer.from(JSON.parse(text).dsseEnvelope.payload, 'base64');
        const [o, k] = at(b, field.split('.'));
        const d = sha(alg, payload);
        o[k] = hex ? { algorithm: name, value: d.toString('hex') } : { algorithm: name, digest: d.toString('base64') };
      };
      assert.equal(outcome({ dsse: true, entryKind, editBody }), 'valid', `${entryKind} ${alg}`);
    }
  });
});

describe('proven entries transplanted from another bundle', () => {
  // An entry of the trusted log, with its inclusion proof and signed checkpoint intact, for another signature:
  // only the body comparison can tell.
  for (const s of SHAPES) {
    it(label(s), () => {
      const donor = JSON.parse(inst.bundle({ artifact: Buffer.from('another artifact'), ...optionsOf(s) }));
      const host = JSON.parse(inst.bundle({ artifact, ...optionsOf(s) }));
      host.verificationMaterial.tlogEntries = donor.verificationMaterial.tlogEntries;
      const text = JSON.stringify(host);
      assert.equal(verdict(text, s.keyed ? byKey : keyless), 'TLOG_INVALID');
      assert.equal(theirs(text, s.keyed), false);
    });
  }
  it('from a bundle of the same artifact by the same key (another signature)', () => {
    const donor = JSON.parse(inst.bundle({ artifact, keyPair, dsse: true }));
    const host = JSON.parse(inst.bundle({ artifact, keyPair, dsse: true }));
    host.dsseEnvelope.payload = donor.dsseEnvelope.payload;
    host.verificationMaterial.tlogEntries = donor.verificationMaterial.tlogEntries;
    // ECDSA signatures differ for the same message: the host's signature is not the logged one.
    assert.notEqual(host.dsseEnvelope.signatures[0].sig, donor.dsseEnvelope.signatures[0].sig);
    assert.equal(verdict(JSON.stringify(host), byKey), 'TLOG_INVALID');
  });
});

describe('proven entries of a kind that does not log this kind of content', () => {
  // The donor entry is genuine, proven and for the same artifact and key: only its kind is wrong for the bundle
  // (a message signature's entry in a DSSE bundle, an envelope's entry in a message-signature bundle). Its body
  // is read as that kind's body, so it must be refused as a log entry, not reach fields the content lacks.
  const cases: [string, Partial<V2BundleOptions>, Partial<V2BundleOptions>][] = [
    ['a hashedrekord/0.0.1 entry in a DSSE bundle', { dsse: true }, { entryKind: 'hashedrekord/0.0.1' }],
    ['a dsse/0.0.1 entry in a message-signature bundle', {}, { dsse: true, entryKind: 'dsse/0.0.1' }],
    ['a dsse/0.0.2 entry in a message-signature bundle', {}, { dsse: true, entryKind: 'dsse/0.0.2' }],
    ['an intoto/0.0.2 entry in a message-signature bundle', {}, { dsse: true, entryKind: 'intoto/0.0.2' }],
  ];
  for (const [name, host, donor] of cases) {
    for (const keyed of [false, true]) {
      it(`${name}, ${keyed ? 'key pair' : 'keyless'}`, () => {
        const k = keyed ? { keyPair } : {};
        const h = JSON.parse(inst.bundle({ artifact, ...host, ...k }));
        const d = JSON.parse(inst.bundle({ artifact, ...donor, ...k }));
        h.verificationMaterial.tlogEntries = d.verificationMaterial.tlogEntries;
        assert.equal(verdict(JSON.stringify(h), keyed ? byKey : keyless), 'TLOG_INVALID');
      });
    }
  }
});

describe('policy keys as the bytes of a key file', () => {
  it('PEM bytes, after blank lines, and DER bytes name the same key', () => {
    const text = inst.bundle({ artifact, keyPair });
    const der = keyPair.publicKey.export({ format: 'der', type: 'spki' });
    for (const spki of [Buffer.from(`\n  \n${keyPem}`), Buffer.from(keyPem), der]) {
      assert.equal(verdict(text, buildPolicy({ keys: [{ spki }] })), 'valid');
    }
  });
});

describe('RFC 3161 timestamps and the log key window', () => {
  const root = (edit: (r: Json) => void) => {
    const r = JSON.parse(inst.trustedRootJson) as Json;
    edit(r);
    return JSON.stringify(r);
  };
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

  it('a token whose TSTInfo was re-aimed at this signature, with the signed attributes of the original', () => {
    const text = inst.bundle({ artifact, editTstInfo: 'imprint' });
    assert.equal(verdict(text, keyless), 'TIMESTAMP_INVALID');
    assert.equal(theirs(text, false), false);
  });
  it('a genuine token of the TSA, for another signature', () => {
    const donor = JSON.parse(inst.bundle({ artifact: Buffer.from('another artifact') }));
    const host = JSON.parse(inst.bundle({ artifact }));
    host.verificationMaterial.timestampVerificationData = donor.verificationMaterial.timestampVerificationData;
    const text = JSON.stringify(host);
    assert.equal(verdict(text, keyless), 'TIMESTAMP_INVALID');
    assert.equal(theirs(text, false), false);
  });
  it('a token whose time was moved, with the signed attributes of the original', () => {
    const text = inst.bundle({ artifact, editTstInfo: 'genTime' });
    assert.equal(verdict(text, keyless), 'TIMESTAMP_INVALID');
    assert.equal(theirs(text, false), false);
  });

  // The last column: whether sigstore-js makes that check (it does not hold a Rekor v2 log key to its window).
  const rows: [string, (r: Json) => void, Partial<V2BundleOptions>, Outcome, boolean][] = [
    [
      'a TSA whose window starts after the token',
      (r) => {
        r.timestampAuthorities[0].validFor.start = iso(TSA_TIME + 1000);
      },
      {},
      'TIMESTAMP_INVALID',
      true,
    ],
    [
      'a TSA whose window starts at the token',
      (r) => {
        r.timestampAuthorities[0].validFor.start = iso(TSA_TIME);
      },
      {},
      'valid',
      true,
    ],
    [
      'a TSA whose window ends at the token',
      (r) => {
        r.timestampAuthorities[0].validFor.end = iso(TSA_TIME);
      },
      {},
      'valid',
      true,
    ],
    [
      'a TSA whose window ended before the token',
      (r) => {
        r.timestampAuthorities[0].validFor.end = iso(TSA_TIME - 1000);
      },
      {},
      'TIMESTAMP_INVALID',
      true,
    ],
    [
      'a Rekor v2 log key expired at the token time',
      (r) => {
        r.tlogs[0].publicKey.validFor.end = iso(TSA_TIME - 1000);
      },
      {},
      'TLOG_INVALID',
      false,
    ],
    [
      'a Rekor v2 log key valid until the token time',
      (r) => {
        r.tlogs[0].publicKey.validFor.end = iso(TSA_TIME);
      },
      {},
      'valid',
      true,
    ],
    [
      'a Rekor v2 log key valid from after the token time',
      (r) => {
        r.tlogs[0].publicKey.validFor.start = iso(TSA_TIME + 1000);
      },
      {},
      'TLOG_INVALID',
      false,
    ],
    [
      'a Rekor v2 log key valid from the token time',
      (r) => {
        r.tlogs[0].publicKey.validFor.start = iso(TSA_TIME);
      },
      {},
      'valid',
      true,
    ],
    [
      'a Rekor v2 log key valid at one token time but not at the other',
      (r) => {
        r.tlogs[0].publicKey.validFor.end = iso(TSA_TIME + 1000);
      },
      { moreTsaTimes: [TSA_TIME + 5000] },
      'TLOG_INVALID',
      false,
    ],
    ['two tokens inside the log key window', () => {}, { moreTsaTimes: [TSA_TIME + 5000] }, 'valid', true],
    [
      'a CA valid at one token time but not at the other',
      (r) => {
        r.certificateAuthorities[0].validFor.end = iso(TSA_TIME + 1000);
      },
      { moreTsaTimes: [TSA_TIME + 5000] },
      'CHAIN_INVALID',
      false,
    ],
    [
      'a Rekor v2 log key expired at the token time, key-pair bundle',
      (r) => {
        r.tlogs[0].publicKey.validFor.end = iso(TSA_TIME - 1000);
      },
      { keyPair },
      'TLOG_INVALID',
      false,
    ],
  ];
  for (const [name, edit, o, want, oracle] of rows) {
    it(name, () => {
      const json = root(edit);
      const text = inst.bundle({ artifact, ...o });
      assert.equal(verdict(text, o.keyPair ? byKey : keyless, loadTrustedRoot(json)), want);
      if (oracle || want === 'valid') assert.equal(theirs(text, !!o.keyPair, json), want === 'valid');
    });
  }

  it('two tokens at two times are two witnesses: they meet a timestamp threshold of two, not of three', () => {
    const text = inst.bundle({ artifact, moreTsaTimes: [TSA_TIME + 5000] });
    const atLeast = (n: number) => buildPolicy({ identities: [{ identity: APP, issuer: GH }], timestampThreshold: n });
    assert.equal(verdict(text, atLeast(2)), 'valid');
    assert.equal(verdict(text, atLeast(3)), 'TIMESTAMP_MISSING');
  });

  it('tokens before the TSA certificate, or its root, was valid', () => {
    const leafEarly = makeRekorV2Instance({ tsaLeafNotBefore: TSA_TIME + 1000 });
    const rootEarly = makeRekorV2Instance({ tsaLeafNotBefore: T0 - 7200_000, tsaRoot: { notBefore: TSA_TIME + 1000 } });
    const rootLate = makeRekorV2Instance({ tsaRoot: { notAfter: TSA_TIME - 1000 } });
    const atEdge = makeRekorV2Instance({ tsaLeafNotBefore: TSA_TIME });
    for (const [i, want] of [
      [leafEarly, 'TIMESTAMP_INVALID'],
      [rootEarly, 'TIMESTAMP_INVALID'],
      [rootLate, 'TIMESTAMP_INVALID'],
      [atEdge, 'valid'],
    ] as const) {
      const text = i.bundle({ artifact });
      assert.equal(verdict(text, keyless, loadTrustedRoot(i.trustedRootJson)), want);
      assert.equal(theirs(text, false, i.trustedRootJson), want === 'valid');
    }
  });
});

describe('inclusion proofs and checkpoints', () => {
  it('fields proto3 JSON leaves out at their default are read as that default (index 0, no proof hashes)', () => {
    // The official clients write the first entry of a log, in a tree of one, without these fields.
    const b = JSON.parse(inst.bundle({ artifact, entryIndex: 0, treeSize: 1 })) as Json;
    const e = b.verificationMaterial.tlogEntries[0];
    assert.deepEqual([e.logIndex, e.inclusionProof.logIndex, e.inclusionProof.hashes], ['0', '0', []]);
    delete e.logIndex;
    delete e.inclusionProof.logIndex;
    delete e.inclusionProof.hashes;
    const text = JSON.stringify(b);
    assert.equal(verdict(text, keyless), 'valid');
    assert.equal(theirs(text, false), true);
  });
  it('an entry anywhere in the tree verifies', () => {
    for (const [entryIndex, treeSize] of [
      [0, 1],
      [0, 6],
      [3, 6],
      [6, 7],
      [7, 16],
      [10, 21],
    ] as const) {
      assert.equal(outcome({ entryIndex, treeSize }), 'valid', `${entryIndex}/${treeSize}`);
    }
  });
  it('a proof whose tree size is not the signed checkpoint size, though its path fits both', () => {
    // The path of leaf 0 in a tree of 6 also verifies as a tree of 8 (RFC 9162 §2.1.3.2): only the comparison with
    // the checkpoint's size refuses it.
    const text = inst.bundle({ artifact, entryIndex: 0, treeSize: 6, proofTreeSize: 8 });
    // sigstore-js does not compare the two sizes: it accepts this one.
    assert.equal(verdict(text, keyless), 'TLOG_INVALID');
  });
});

describe('RFC 3161 tokens made otherwise than a TSA would', () => {
  const SHA256 = '2.16.840.1.101.3.4.2.1';
  const SHA384 = '2.16.840.1.101.3.4.2.2';
  const SHA1 = '1.3.14.3.2.26';
  const CONTENT_TYPE = '1.2.840.113549.1.9.3';
  const MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
  const attr = (type: string, ...values: Buffer[]) => seq(oid(type), set(...values));
  const rows: [string, TokenOptions, Outcome, ('issuerSerial' | 'keyId')?][] = [
    ['a bare ContentInfo (no TimeStampResp)', { bare: true }, 'valid'],
    ['status grantedWithMods', { status: Buffer.from([1]) }, 'valid'],
    ['status rejection', { status: Buffer.from([2]) }, 'TIMESTAMP_INVALID'],
    ['status on two bytes', { status: Buffer.from([0, 0]) }, 'TIMESTAMP_INVALID'],
    ['an element after the token in the response', { responseExtra: true }, 'TIMESTAMP_INVALID'],
    ['not SignedData', { contentType: '1.2.840.113549.1.7.1' }, 'TIMESTAMP_INVALID'],
    ['SignedData over something else than a TSTInfo', { eContentType: '1.2.840.113549.1.7.1' }, 'TIMESTAMP_INVALID'],
    ['an element after the encapsulated content', { encapExtra: true }, 'TIMESTAMP_INVALID'],
    ['no certificates in the token (trust comes from the root)', { noCertificates: true }, 'valid'],
    ['an empty CRL set', { crls: true }, 'valid'],
    ['two signers', { twoSigners: true }, 'TIMESTAMP_INVALID'],
    ['the signer digest not listed in digestAlgorithms', { digestAlgorithms: [SHA384] }, 'TIMESTAMP_INVALID'],
    ['digestAlgorithms with an unknown one beside SHA-256', { digestAlgorithms: [SHA1, SHA256] }, 'valid'],
    ['a SHA-1 signer digest', { signerDigest: SHA1, digestAlgorithms: [SHA1, SHA256] }, 'TIMESTAMP_INVALID'],
    [
      'a SHA-384 signer digest over a SHA-256 signature',
      { signerDigest: SHA384, digestAlgorithms: [SHA384] },
      'TIMESTAMP_INVALID',
    ],
    ['the signature algorithm named by the key type alone', { signatureAlgorithm: '1.2.840.10045.2.1' }, 'valid'],
    ['an unknown signature algorithm', { signatureAlgorithm: '1.2.3.4' }, 'TIMESTAMP_INVALID'],
    // The signature is checked with the trusted key and the named hash; the key type in the OID adds nothing.
    ['the signature algorithm of another key type', { signatureAlgorithm: '1.2.840.113549.1.1.11' }, 'valid'],
    ['unsigned attributes', { unsignedAttributes: true }, 'valid'],
    ['TSTInfo version 2', { tstVersion: 2 }, 'TIMESTAMP_INVALID'],
    ['a SHA-1 message imprint', { imprintAlgorithm: SHA1 }, 'TIMESTAMP_INVALID'],
    ['a message imprint named SHA-384 over a SHA-256 digest', { imprintAlgorithm: SHA384 }, 'TIMESTAMP_INVALID'],
    ['another serial in the signer identifier', { serial: 8 }, 'TIMESTAMP_INVALID'],
    ['another key identifier', { keyId: Buffer.alloc(20, 1) }, 'TIMESTAMP_INVALID', 'keyId'],
    ['no content type attribute', { attributes: (a) => [a.messageDigest] }, 'TIMESTAMP_INVALID'],
    ['no message digest attribute', { attributes: (a) => [a.contentType] }, 'TIMESTAMP_INVALID'],
    [
      'a content type attribute naming other content',
      { attributes: (a) => [attr(CONTENT_TYPE, oid('1.2.840.113549.1.7.1')), a.messageDigest] },
      'TIMESTAMP_INVALID',
    ],
    [
      'a content type attribute that is not an OID',
      { attributes: (a) => [attr(CONTENT_TYPE, octets(Buffer.from('x'))), a.messageDigest] },
      'TIMESTAMP_INVALID',
    ],
    [
      'the content type attribute twice',
      { attributes: (a) => [a.contentType, a.contentType, a.messageDigest] },
      'TIMESTAMP_INVALID',
    ],
    [
      'the message digest attribute twice',
      { attributes: (a) => [a.contentType, a.messageDigest, a.messageDigest] },
      'TIMESTAMP_INVALID',
    ],
    [
      'a message digest attribute that is not an OCTET STRING',
      { attributes: (a) => [a.contentType, attr(MESSAGE_DIGEST, int(1))] },
      'TIMESTAMP_INVALID',
    ],
    [
      'a message digest attribute with two values',
      {
        attributes: (a) => {
          const value = a.messageDigest.subarray(a.messageDigest.length - 34);
          return [a.contentType, attr(MESSAGE_DIGEST, value, value)];
        },
      },
      'TIMESTAMP_INVALID',
    ],
    ['an element after the SignedData in the ContentInfo', { contentInfoExtra: true }, 'TIMESTAMP_INVALID'],
    ['an element after the signer infos', { signedDataExtra: true }, 'TIMESTAMP_INVALID'],
    ['an element after the serial in the signer identifier', { signerIdExtra: true }, 'TIMESTAMP_INVALID'],
    ['an element after the last field of the signer info', { signerInfoExtra: true }, 'TIMESTAMP_INVALID'],
    ['an element after the message imprint digest', { imprintExtra: true }, 'TIMESTAMP_INVALID'],
    ['TSTInfo version 256 (its first byte is 1)', { tstVersionBytes: Buffer.from([1, 0]) }, 'TIMESTAMP_INVALID'],
    [
      'a content type attribute holding the TSTInfo OID bytes in an OCTET STRING',
      {
        attributes: (a) => {
          const tstInfoOid = oid('1.2.840.113549.1.9.16.1.4');
          return [attr(CONTENT_TYPE, octets(tstInfoOid.subarray(2))), a.messageDigest];
        },
      },
      'TIMESTAMP_INVALID',
    ],
    [
      'a message digest attribute holding the right bytes in another type',
      {
        attributes: (a) => {
          const digest = a.messageDigest.subarray(a.messageDigest.length - 32);
          return [a.contentType, attr(MESSAGE_DIGEST, derEncode(0x0c, digest))];
        },
      },
      'TIMESTAMP_INVALID',
    ],
    [
      'another attribute beside the two (a signing time)',
      {
        attributes: (a) => [
          a.contentType,
          attr('1.2.840.113549.1.9.5', derEncode(0x17, Buffer.from('250101000000Z'))),
          a.messageDigest,
        ],
      },
      'valid',
    ],
  ];
  // sigstore-js reads tokens more loosely: it accepts these (they still carry a valid signature over a TSTInfo
  // for this signature), so it cannot serve as the oracle for them. It is stricter on two: it takes only a
  // TimeStampResp (vouch also reads the bare token inside it), and it refuses a signature algorithm naming another
  // key type than the TSA's (vouch checks with the trusted key and the named hash).
  const laxer = new Set([
    'an element after the SignedData in the ContentInfo',
    'an element after the serial in the signer identifier',
    'an element after the last field of the signer info',
    'an element after the message imprint digest',
    'TSTInfo version 256 (its first byte is 1)',
    'a content type attribute holding the TSTInfo OID bytes in an OCTET STRING',
    'a message digest attribute holding the right bytes in another type',
    'the signature algorithm of another key type',
    'a bare ContentInfo (no TimeStampResp)',
    'status rejection',
    'status on two bytes',
    'an element after the token in the response',
    'an element after the encapsulated content',
    'two signers',
    'the signer digest not listed in digestAlgorithms',
    'an unknown signature algorithm',
    'TSTInfo version 2',
    'no content type attribute',
    'a content type attribute naming other content',
    'a content type attribute that is not an OID',
    'the content type attribute twice',
    'the message digest attribute twice',
    'a message digest attribute with two values',
  ]);
  for (const [name, token, want, sid] of rows) {
    it(name, () => {
      const text = inst.bundle({ artifact, token, ...(sid ? { sid } : {}) });
      assert.equal(verdict(text, keyless), want);
      if (!laxer.has(name)) assert.equal(theirs(text, false), want === 'valid');
    });
  }
  it('a TSA certificate without any extended key usage is not trusted for time', () => {
    const i = makeRekorV2Instance({ tsaLeafEku: null });
    assert.equal(verdict(i.bundle({ artifact }), keyless, loadTrustedRoot(i.trustedRootJson)), 'TIMESTAMP_INVALID');
  });
  it('a token at the last instant of the TSA certificate', () => {
    const i = makeRekorV2Instance({ tsaLeafNotAfter: TSA_TIME });
    const text = i.bundle({ artifact });
    assert.equal(verdict(text, keyless, loadTrustedRoot(i.trustedRootJson)), 'valid');
    assert.equal(theirs(text, false, i.trustedRootJson), true);
  });
  it('a TSA chain whose leaf is not signed by the root listed above it is a broken trusted root', () => {
    const r = JSON.parse(inst.trustedRootJson) as Json;
    const certs = r.timestampAuthorities[0].certChain.certificates;
    const der = Buffer.from(certs[0].rawBytes, 'base64');
    der[der.length - 1]! ^= 1;
    certs[0].rawBytes = der.toString('base64');
    assert.equal(verdict(inst.bundle({ artifact }), keyless, loadTrustedRoot(JSON.stringify(r))), 'TRUST_ROOT_INVALID');
  });
  it('a token of a TSA listed after another one of the root', () => {
    const other = makeRekorV2Instance();
    const r = JSON.parse(inst.trustedRootJson) as Json;
    r.timestampAuthorities.unshift(...(JSON.parse(other.trustedRootJson) as Json).timestampAuthorities);
    const text = inst.bundle({ artifact });
    assert.equal(verdict(text, keyless, loadTrustedRoot(JSON.stringify(r))), 'valid');
    assert.equal(
      verdict(inst.bundle({ artifact, sid: 'keyId' }), keyless, loadTrustedRoot(JSON.stringify(r))),
      'valid',
    );
  });
});
