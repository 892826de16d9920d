/**
 * Directory bundles read in passes (src/workflow/dir-bundle.ts): the payload is split out of the bundle, hashed,
 * checked and streamed again, never held. These tests drive `verifyTarget` on real signed trees and then on
 * hostile edits of the bundle file, each with its expected code; every accepted bundle is also accepted by the
 * in-memory verifier, and every refused one refused by it (the two readers must agree).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyDirectoryStatement } from '../../src/artifact/dir/index.ts';
import { directoryStatement } from '../../src/artifact/dir/prepare.ts';
import { parseTarget } from '../../src/artifact/target.ts';
import { preAuthEncoding } from '../../src/core/dsse.ts';
import { canonicalJson } from '../../src/core/json.ts';
import { isVouchError } from '../../src/errors.ts';
import { signStatement } from '../../src/sign/bundle.ts';
import { generateKeyPair, parsePrivateKey } from '../../src/sign/keys.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { buildPolicy, loadTrustedRoot, verify } from '../../src/verify/index.ts';
import { checkEntries, firstPass, readSplitBundle, statementHeader } from '../../src/workflow/dir-bundle.ts';
import { verifyTarget } from '../../src/workflow/verify.ts';
import { loadCase } from '../helpers/realbundles.ts';
import { createSigstoreJsVerifier, EMPTY_ROOT } from '../helpers/sigstore-verify.ts';
import { makeTree, type Node, rejectsWith, removeTree } from './helpers.ts';

const trust = loadTrustedRoot(loadCase('prod-v0.3-hashedrekord').trustedRootText);
const roots: string[] = [];
after(() => roots.forEach(removeTree));

function keyPair(kind: 'ecdsa-p256' | 'ed25519') {
  const pair = generateKeyPair(kind, 'pw');
  return { pub: pair.publicKeyPem, signer: new KeyPairSigner(parsePrivateKey(pair.privateKeyPem, 'pw')) };
}

/** A tree of `n` files (the payload spans several 1 MiB pieces from about 5,000) plus a symlink and an empty dir. */
function tree(n: number): Record<string, Node> {
  const spec: Record<string, Node> = { 'lib/link': { link: 'f-0' }, empty: { dir: true } };
  for (let i = 0; i < n; i++) spec[`d${i % 7}/f-${i}`] = `content ${i}\n`;
  return spec;
}

async function signed(spec: Record<string, Node>, key = keyPair('ecdsa-p256')) {
  const root = makeTree(spec);
  roots.push(root);
  const bundlePath = `${root}.sigstore.json`;
  const { statement } = await directoryStatement(root, {});
  const bundle = await signStatement({ signer: key.signer, witnesses: [] }, statement);
  const text = JSON.stringify(bundle);
  writeFileSync(bundlePath, text);
  return { root, bundlePath, text, pub: key.pub, statement };
}

const run = (root: string, bundle: string, pub: string) =>
  verifyTarget(parseTarget(`dir:${root}`), { keys: [{ spki: pub }], trust, bundle });

/** What the in-memory verifier says of the same bundle text: 'ok' or an error code. */
function inMemory(text: string, pub: string): string {
  try {
    verify(text, { kind: 'statement' }, buildPolicy({ keys: [{ spki: pub }] }), trust);
    return 'ok';
  } catch (e) {
    return isVouchError(e) ? e.code : 'THROWN';
  }
}

describe('directory bundles read in passes', () => {
  let big: Awaited<ReturnType<typeof signed>>;
  before(async () => {
    big = await signed(tree(8000));
  });

  it('verifies a manifest spanning many read pieces, with the counts of the statement', async () => {
    assert.ok(big.text.length > 1 << 20, 'the payload spans several pieces');
    const r = await run(big.root, big.bundlePath, big.pub);
    assert.equal(r.directory?.files, 8000);
    assert.equal(r.directory?.symlinks, 1);
    assert.equal(r.directory?.emptyDirectories, 1);
  });

  it('verifies an Ed25519 signature, which needs the payload bytes themselves', async () => {
    const s = await signed(tree(20), keyPair('ed25519'));
    const r = await run(s.root, s.bundlePath, s.pub);
    assert.equal(r.directory?.files, 20);
  });

  it('reports differences found while the entries stream past the walk', async () => {
    const s = await signed({ 'a/x': 'x', 'a-b': 'y', 'c/d/e': 'z', keep: { dir: true } });
    writeFileSync(join(s.root, 'a/x'), 'changed');
    removeTree(join(s.root, 'c/d/e'));
    const e = await rejectsWith(() => run(s.root, s.bundlePath, s.pub), 'DIRECTORY_MISMATCH');
    // c/d is now an empty directory on disk: it was signed with content, so only the file is reported.
    assert.deepEqual(
      (e.details as { type: string; path: string }[]).map((d) => `${d.type} ${d.path}`),
      ['modified a/x', 'missing c/d/e'],
    );
  });

  it('refuses an escaped payload in a bundle too large to read whole', async () => {
    const root = makeTree({ a: 'a' });
    roots.push(root);
    const text = JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: '' } },
      dsseEnvelope: { payload: `${'A'.repeat(33 << 20)}/AAA`, payloadType: 'x', signatures: [] },
    }).replace('/AAA', '\\/AAA');
    writeFileSync(`${root}.sigstore.json`, text);
    await rejectsWith(() => run(root, `${root}.sigstore.json`, keyPair('ecdsa-p256').pub), 'BUNDLE_UNSUPPORTED');
  });

  it('random corruption of the bundle file never verifies and never fails as INTERNAL', async () => {
    const s = await signed(tree(30));
    const bytes = readFileSync(s.bundlePath);
    // Positions inside the payload's base64 and inside the signature's (both covered by the verification; a byte
    // of an unsigned hint or of whitespace may change nothing), bytes anywhere in 0..255.
    const payloadAt = bytes.indexOf('"payload":"') + 11;
    const sigAt = bytes.indexOf('"sig":"') + 7;
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let k = 0; k < 120; k++) {
      const copy = Buffer.from(bytes);
      const flips = 1 + rnd(3);
      for (let f = 0; f < flips; f++) {
        const at = k % 2 === 0 ? payloadAt + rnd(4000) : sigAt + rnd(90);
        copy[at] = rnd(256);
      }
      if (copy.equals(bytes)) continue;
      writeFileSync(s.bundlePath, copy);
      try {
        await run(s.root, s.bundlePath, s.pub);
        assert.fail(`corruption ${k} verified`);
      } catch (e) {
        assert.ok(isVouchError(e), `corruption ${k}: ${(e as Error).message}`);
        assert.notEqual(e.code, 'INTERNAL', `corruption ${k}: ${e.message}`);
      }
    }
  });

  it('a signed statement damaged at random gets the same verdict from the split reader as from the whole one', async () => {
    const s = await signed(tree(12));
    const statementText = Buffer.from(JSON.parse(readFileSync(s.bundlePath, 'utf8')).dsseEnvelope.payload, 'base64');
    const key = keyPair('ecdsa-p256');
    const policy = buildPolicy({ keys: [{ spki: key.pub }] });
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = Buffer.from('{}[],:"\\ 0123456789abcdefkindpathfilesha256x/.-\u00e9');
    for (let k = 0; k < 80; k++) {
      const copy = Buffer.from(statementText);
      for (let f = 0; f < 1 + rnd(2); f++) copy[rnd(copy.length)] = alphabet[rnd(alphabet.length)]!;
      const bundleText = await signRaw(key.signer, copy.toString('latin1'));
      writeFileSync(s.bundlePath, bundleText);
      const split = await run(s.root, s.bundlePath, key.pub).then(
        () => 'ok',
        (e) => (isVouchError(e) ? e.code : `THROWN ${(e as Error).message}`),
      );
      // The whole-document reader: the verifier parses the statement, then the directory code checks it.
      let whole: string;
      try {
        const r = verify(bundleText, { kind: 'statement' }, policy, trust);
        await verifyDirectoryStatement(r.statement!.payload, s.root, { bundlePath: s.bundlePath });
        whole = 'ok';
      } catch (e) {
        whole = isVouchError(e) ? e.code : `THROWN ${(e as Error).message}`;
      }
      assert.notEqual(split, 'INTERNAL', `damage ${k}`);
      assert.equal(split, whole, `damage ${k}: ${copy.toString('latin1').slice(0, 300)}`);
    }
  });

  it('refuses a payload that changed between the passes', async () => {
    const s = await signed(tree(30));
    const split = await readSplitBundle(s.bundlePath);
    const policy = buildPolicy({ keys: [{ spki: s.pub }] });
    const first = await firstPass(split, policy);
    const header = statementHeader(first);
    // Same length, other bytes: one base64 character of the payload changed on disk.
    const text = readFileSync(s.bundlePath, 'latin1');
    const p = split.payload!;
    assert.ok('start' in p);
    const at = p.start + 100;
    writeFileSync(s.bundlePath, text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1), 'latin1');
    await rejectsWith(() => checkEntries(split, first, header, []), 'BUNDLE_MALFORMED');
  });

  describe('hostile bundle files, each refused with its code (and by the in-memory verifier too)', async () => {
    const base = await signed(tree(40));
    const b = JSON.parse(base.text);
    const payload: string = b.dsseEnvelope.payload;
    const statementOf = () => JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
    // The fourth column: why the official verifier accepts what vouch refuses (vouch is stricter, never looser).
    const cases: [string, string, string, string?][] = [
      // JSON allows `\/` for `/`: such a bundle (under 32 MiB) is read whole, the ordinary way.
      ['payload with a JSON escape', base.text.replace(payload, payload.replace('/', '\\/')), 'ok'],
      [
        'payload not canonical base64 (url alphabet)',
        base.text.replace(payload, payload.replace(/\+/g, '-').replace(/^./, '-')),
        'BUNDLE_MALFORMED',
      ],
      [
        'payload with padding inside',
        base.text.replace(payload, `${payload.slice(0, 4)}====${payload.slice(8)}`),
        'BUNDLE_MALFORMED',
      ],
      [
        'payload truncated to a partial group',
        base.text.replace(payload, payload.slice(0, -1)),
        'BUNDLE_MALFORMED',
        payload.endsWith('=') ? 'Buffer.from decodes base64 without its padding to the same bytes' : undefined,
      ],
      [
        'one payload character changed',
        base.text.replace(payload, `${payload.slice(0, 50)}${payload[50] === 'A' ? 'B' : 'A'}${payload.slice(51)}`),
        'SIGNATURE_INVALID',
      ],
      [
        'a second payload member',
        base.text.replace('"payloadType"', `"payload":"${payload}","payloadType"`),
        'BUNDLE_MALFORMED',
        'JSON.parse keeps the last of duplicate keys (here equal); vouch refuses duplicates outright',
      ],
      // The same JSON: accepted by both readers (the split follows key names as JSON defines them).
      ['a payload member spelled with an escape', base.text.replace('"payload":', '"p\\u0061yload":'), 'ok'],
      ['the payload as a number', base.text.replace(`"${payload}"`, '12'), 'BUNDLE_MALFORMED'],
      [
        'the payload moved to another member',
        base.text.replace('"payload":', '"payload":"","other":'),
        'SIGNATURE_INVALID',
      ],
      ['trailing garbage after the bundle', `${base.text}x`, 'BUNDLE_MALFORMED'],
      ['a truncated bundle', base.text.slice(0, base.text.length - 3), 'BUNDLE_MALFORMED'],
      [
        'a message signature bundle',
        JSON.stringify({
          ...b,
          dsseEnvelope: undefined,
          messageSignature: {
            messageDigest: { algorithm: 'SHA2_256', digest: Buffer.alloc(32).toString('base64') },
            signature: 'AAAA',
          },
        }),
        'BUNDLE_KIND_MISMATCH',
      ],
    ];
    const official = createSigstoreJsVerifier({ trustedRootJson: EMPTY_ROOT, keyPem: base.pub, tlogThreshold: 0 });
    for (const [name, text, code, officialAccepts] of cases) {
      it(name, async () => {
        writeFileSync(base.bundlePath, text);
        if (code === 'ok') {
          assert.equal((await run(base.root, base.bundlePath, base.pub)).directory?.files, 40);
          assert.equal(inMemory(text, base.pub), 'ok');
          assert.deepEqual(official(text, undefined), { ok: true });
        } else {
          await rejectsWith(() => run(base.root, base.bundlePath, base.pub), code);
          assert.notEqual(inMemory(text, base.pub), 'ok');
          assert.equal(official(text, undefined).ok === true, officialAccepts !== undefined, officialAccepts);
        }
      });
    }
    // Statements the signer never makes, signed by the key: refused by the checks of passes 1 and 2.
    const key = keyPair('ecdsa-p256');
    const statementCases: [string, (s: Statement) => string, string][] = [
      [
        'entries duplicated by an escaped key',
        (s) => JSON.stringify(s).replace('"entries":', '"entries":[],"entr\\u0069es":'),
        'DSSE_INVALID',
      ],
      [
        'an entry with a duplicate member',
        (s) => JSON.stringify(s).replace('"kind":"file"', '"kind":"file","kind":"file"'),
        'DSSE_INVALID',
      ],
      [
        'entries that are not an array',
        (s) => JSON.stringify({ ...s, predicate: { ...s.predicate, entries: {} } }),
        'MANIFEST_INVALID',
      ],
      ['an empty array element', (s) => JSON.stringify(s).replace('"entries":[', '"entries":[,'), 'DSSE_INVALID'],
      ['a trailing comma', (s) => JSON.stringify(s).replace(/\]\}\}$/, ',]}}'), 'DSSE_INVALID'],
      [
        'entries out of order',
        (s) => JSON.stringify({ ...s, predicate: { ...s.predicate, entries: [...s.predicate.entries].reverse() } }),
        'MANIFEST_INVALID',
      ],
      [
        'an entry under a file',
        (s) => {
          const e = s.predicate.entries;
          return JSON.stringify({
            ...s,
            predicate: {
              ...s.predicate,
              entries: [...e.slice(0, 1), { ...e[1], path: `${e[0]!.path}/x` }, ...e.slice(2)],
            },
          });
        },
        'MANIFEST_INVALID',
      ],
      ['not an in-toto statement', (s) => JSON.stringify({ ...s, _type: 'x' }), 'DSSE_INVALID'],
      ['rules after the entries, canonical key order', (s) => canonicalJson(s), 'ok'],
      // Pass 1 reads the header before the list; the members after it must not change it.
      [
        'rules again after the entries',
        (s) =>
          JSON.stringify(s).replace(
            /\]\}\}$/,
            '],"rules":{"excludeNames":[],"excludePaths":[],"allowExternalSymlinks":true}}}',
          ),
        'DSSE_INVALID',
      ],
      ['a member after the entries', (s) => JSON.stringify(s).replace(/\]\}\}$/, '],"note":1}}'), 'MANIFEST_INVALID'],
      [
        'a statement member after the predicate',
        (s) => JSON.stringify(s).replace(/\}$/, ',"extra":1}'),
        'MANIFEST_INVALID',
      ],
    ];
    for (const [name, edit, code] of statementCases) {
      it(`statement: ${name}`, async () => {
        const signedText = await signRaw(key.signer, edit(statementOf()));
        writeFileSync(base.bundlePath, signedText);
        if (code === 'ok') {
          const r = await run(base.root, base.bundlePath, key.pub);
          assert.equal(r.directory?.files, 40);
        } else {
          await rejectsWith(() => run(base.root, base.bundlePath, key.pub), code);
        }
      });
    }
  });
});

type Statement = Record<string, unknown> & { predicate: Record<string, unknown> & { entries: { path: string }[] } };

/** A DSSE bundle over exactly `payloadText`, signed with `signer` (the payload bytes as given, not re-serialized). */
async function signRaw(signer: KeyPairSigner, payloadText: string): Promise<string> {
  const payload = Buffer.from(payloadText);
  const type = 'application/vnd.in-toto+json';
  const sig = await signer.sign({ message: preAuthEncoding(type, payload) });
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      publicKey: { hint: '' },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: type,
      signatures: [{ sig: sig.signature.toString('base64'), keyid: '' }],
    },
  });
}
