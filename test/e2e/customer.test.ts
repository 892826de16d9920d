/**
 * The customer's side (issue 17), through the built CLI on two VOUCH_HOMEs: a publisher who signs with its embedded
 * instance and a key pair, and a customer who has only the files. `vouch inspect BUNDLE` says what a bundle claims
 * (not verified) and the `vouch verify` command that checks it, which is run as printed; `vouch trust import URL`
 * pins or confirms the root it fetches; and every mistake a customer makes gets the code (and hint) that says what
 * to do, one row per case.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { BIN, type CliRun, errorCode, tempDir, vouch, vouchAsync } from '../helpers/cli.ts';
import { realbundlesDir } from '../helpers/realbundles.ts';
import { buildImage, sha256, tarOf } from '../oci/helpers.ts';

const noAmbient = { SIGSTORE_ID_TOKEN: '', ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' };

interface ErrorJson {
  error: { code: string; message: string; hint: string };
}

describe('the customer: inspect, trust import, and hints that say what to do', () => {
  const dir = tempDir('vouch-customer-');
  const at = (p: string) => join(dir.path, p);
  const publisher = { ...noAmbient, VOUCH_HOME: at('publisher') };
  const customer = { ...noAmbient, VOUCH_HOME: at('customer') };
  let signed: { identity: string; issuer: string };
  let rootText = '';
  let server: Server;
  let base = '';
  const served = new Map<string, string>();

  before(async () => {
    mkdirSync(at('tree/sub'), { recursive: true });
    writeFileSync(at('tree/sub/a.txt'), 'a file of the tree');
    writeFileSync(at('app.txt'), 'release 1');
    writeFileSync(at('other.txt'), 'release 1, not quite');
    const k = vouch(['sign', at('app.txt'), '--json'], { env: publisher });
    assert.equal(k.status, 0, k.stderr);
    signed = k.json() as typeof signed;
    for (const type of ['ecdsa-p256', 'ed25519']) {
      assert.equal(vouch(['keygen', '--out', at(type), '--type', type], { env: publisher }).status, 0);
    }
    const steps = [
      ['sign', at('tree'), '--key', at('ecdsa-p256.key')],
      ['sign', at('other.txt'), '--key', at('ecdsa-p256.key'), '--bundle', at('other-key.json')],
      ['sign', at('other.txt'), '--key', at('ed25519.key'), '--bundle', at('other-ed25519.json')],
    ];
    for (const args of steps) {
      const r = vouch(args, { env: publisher });
      assert.equal(r.status, 0, r.stderr);
    }
    // An OCI image archive, signed as an image: its bundle lies beside it under the name a file's bundle has.
    const image = buildImage(1, 'customer');
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(image.manifest),
          size: image.manifest.length,
        },
      ],
    });
    writeFileSync(
      at('image.tar'),
      tarOf([
        ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
        ['index.json', Buffer.from(index)],
        ...[...image.blobs, image.config, image.manifest].map(
          (b) => [`blobs/sha256/${sha256(b).slice('sha256:'.length)}`, b] as [string, Buffer],
        ),
      ]),
    );
    const img = vouch(
      [
        'sign',
        `oci-archive:${at('image.tar')}`,
        '--key',
        at('ecdsa-p256.key'),
        '--repository',
        'registry.example/acme/app',
      ],
      { env: publisher },
    );
    assert.equal(img.status, 0, img.stderr);
    const e = vouch(['trust', 'export', 'embedded'], { env: publisher });
    assert.equal(e.status, 0, e.stderr);
    rootText = e.stdout;
    writeFileSync(at('embedded-root.json'), rootText);
    served.set('/root.json', rootText);
    served.set('/.well-known/vouch/trusted_root.json', rootText);
    served.set('/garbage.json', '{"mediaType": "not a root"}');
    served.set('/huge.json', `{"x":"${'a'.repeat(2 << 20)}"}`);
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    dir.dispose();
  });

  const policy = () => ['--certificate-identity', signed.identity, '--certificate-oidc-issuer', signed.issuer];

  describe('vouch inspect BUNDLE', () => {
    it('says what a keyless bundle claims, labelled not verified, and the verify command works as printed', () => {
      const r = vouch(['inspect', at('app.txt.sigstore.json'), '--json'], { env: publisher });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as {
        kind: string;
        verified: boolean;
        signs: string;
        digest: string;
        signer: { type: string; identity: string; issuer: string; extensions: Record<string, string> };
        tlogEntries: { trustedBy: string[] }[];
        timestamps: { trustedBy: string[] }[];
        trustedRoots: string[];
        verifyCommand: string[];
      };
      assert.equal(out.kind, 'bundle');
      assert.equal(out.verified, false);
      assert.equal(out.signs, 'file');
      assert.equal(out.digest, `sha256:${createHash('sha256').update('release 1').digest('hex')}`);
      assert.equal(out.signer.identity, signed.identity);
      assert.equal(out.signer.issuer, signed.issuer);
      assert.equal(out.tlogEntries.length, 1);
      assert.deepEqual(out.tlogEntries[0]!.trustedBy, ['embedded']);
      assert.deepEqual(out.trustedRoots, ['embedded']);
      assert.deepEqual(out.verifyCommand, ['vouch', 'verify', at('app.txt'), ...policy()]);
      const v = vouch(out.verifyCommand.slice(1), { env: publisher });
      assert.equal(v.status, 0, v.stderr);

      const human = vouch(['inspect', at('app.txt.sigstore.json')], { env: publisher });
      assert.equal(human.status, 0, human.stderr);
      assert.match(human.stdout, /NOT VERIFIED/);
      assert.match(human.stdout, /vouch verify /);
    });

    it("on the customer's machine: no root names it, so the command adds --trusted-root, which then verifies", () => {
      const r = vouch(['inspect', at('app.txt.sigstore.json'), '--json'], { env: customer });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { trustedRoots: string[]; verifyCommand: string[]; instance?: string };
      assert.deepEqual(out.trustedRoots, []);
      const i = out.verifyCommand.indexOf('--trusted-root');
      assert.ok(i > 0, out.verifyCommand.join(' '));
      assert.ok(out.instance?.startsWith('http://127.0.0.1:'), out.instance);
      const args = out.verifyCommand.slice(1);
      args[i] = at('embedded-root.json');
      const v = vouch(args, { env: customer });
      assert.equal(v.status, 0, v.stderr);
    });

    it('a key-pair bundle not named after its file: the key hint, and a verify command of the digest', () => {
      const r = vouch(['inspect', at('other-key.json'), '--json'], { env: customer });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { signer: { type: string; hint: string }; verifyCommand: string[] };
      assert.equal(out.signer.type, 'key');
      assert.match(out.signer.hint, /^[0-9a-f]{64}$/);
      assert.deepEqual(out.verifyCommand, [
        'vouch',
        'verify',
        `sha256:${createHash('sha256').update('release 1, not quite').digest('hex')}`,
        '--bundle',
        at('other-key.json'),
        '--key',
        'KEY.pub',
      ]);
      const args = out.verifyCommand.slice(1);
      args[args.length - 1] = at('ecdsa-p256.pub');
      assert.equal(vouch(args, { env: customer }).status, 0);
    });

    it('a directory bundle signs a directory; its verify command verifies the tree', () => {
      const r = vouch(['inspect', at('tree.sigstore.json'), '--json'], { env: customer });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { signs: string; predicateType: string; verifyCommand: string[] };
      assert.equal(out.signs, 'directory');
      assert.equal(out.predicateType, 'https://vouch.dev/directory/v2');
      assert.equal(out.verifyCommand[2], `dir:${at('tree')}`);
      const args = out.verifyCommand.slice(1);
      args[args.indexOf('KEY.pub')] = at('ecdsa-p256.pub');
      const v = vouch(args, { env: customer });
      assert.equal(v.status, 0, v.stderr);
    });

    it('an attestation (real npm provenance): predicate type and subject; verify prints the predicate too', () => {
      const bundle = join(realbundlesDir(), 'cases/prod-npm-provenance-sigstore-2.0.0/bundle.sigstore.json');
      const r = vouch(['inspect', bundle, '--json'], { env: customer });
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as {
        signs: string;
        predicateType: string;
        subjects: { name: string; digests: string[] }[];
        trustedRoots: string[];
        verifyCommand: string[];
      };
      assert.equal(out.signs, 'attestation');
      assert.equal(out.predicateType, 'https://slsa.dev/provenance/v1');
      assert.equal(out.subjects[0]!.name, 'pkg:npm/sigstore@2.0.0');
      assert.deepEqual(out.trustedRoots, ['public-good']);
      assert.match(out.verifyCommand[2]!, /^sha512:[0-9a-f]{128}$/);
      const v = vouch(out.verifyCommand.slice(1), { env: customer });
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /^ {2}predicate +https:\/\/slsa\.dev\/provenance\/v1$/m);
    });

    it('a file that is neither a PE image nor a bundle', () => {
      const r = vouch(['inspect', at('app.txt')], { env: customer });
      assert.equal(errorCode(r.stderr), 'TARGET_UNSUPPORTED');
    });
  });

  describe('vouch trust import URL', () => {
    const sha = () => createHash('sha256').update(rootText).digest('hex');

    it('imports a fetched root pinned by --sha256, and the customer verifies with it', async () => {
      const r = await vouchAsync(
        ['trust', 'import', `${base}/root.json`, '--name', 'acme', '--sha256', sha(), '--json'],
        { env: customer },
      );
      assert.equal(r.status, 0, r.stderr);
      const out = r.json() as { sha256: string; name: string };
      assert.equal(out.sha256, sha());
      assert.equal(out.name, 'acme');
      const v = vouch(['verify', at('app.txt'), ...policy()], { env: customer });
      assert.equal(v.status, 0, v.stderr);
    });

    it('a `vouch serve` base URL means its published root', async () => {
      const env = { ...noAmbient, VOUCH_HOME: at('customer-base') };
      const r = await vouchAsync(['trust', 'import', base, '--name', 'team', '--sha256', `sha256:${sha()}`], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(sha()));
    });

    it('asks at a terminal without a pin, and imports only on yes', { skip: !hasScript() }, async () => {
      const env = { ...noAmbient, VOUCH_HOME: at('customer-tty') };
      const no = await atTerminal(['trust', 'import', `${base}/root.json`, '--name', 'tty'], 'n\n', env);
      assert.notEqual(no.status, 0, no.out);
      assert.match(no.out, new RegExp(sha()), 'the fingerprint is shown before the question');
      assert.equal(vouch(['trust', 'export', 'tty'], { env }).status, 2);
      const yes = await atTerminal(['trust', 'import', `${base}/root.json`, '--name', 'tty'], 'y\n', env);
      assert.equal(yes.status, 0, yes.out);
      assert.equal(vouch(['trust', 'export', 'tty'], { env }).stdout, rootText);
    });
  });

  describe('a customer of a `vouch serve` instance', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ dataDir: at('serve') });
    });
    after(async () => {
      await stack?.close();
    });

    it('imports the instance URL pinned by the SHA-256 of DATA/trusted_root.json, and verifies its signature', async () => {
      writeFileSync(at('served.txt'), 'signed with the team instance');
      const s = await vouchAsync(['sign', at('served.txt'), '--instance', stack.url, '--json'], { env: publisher });
      assert.equal(s.status, 0, s.stderr);
      const who = s.json() as { identity: string; issuer: string };
      const env = { ...noAmbient, VOUCH_HOME: at('customer-of-serve') };
      const verifyArgs = [
        'verify',
        at('served.txt'),
        '--certificate-identity',
        who.identity,
        '--certificate-oidc-issuer',
        who.issuer,
      ];

      // Before: the bundle names no root of the customer's; inspect and the error both point at the instance.
      const i = vouch(['inspect', at('served.txt.sigstore.json'), '--json'], { env });
      assert.equal(i.status, 0, i.stderr);
      assert.equal((i.json() as { instance: string }).instance, stack.url);
      const before = await vouchAsync([...verifyArgs, '--json'], { env });
      const err = (JSON.parse(before.stdout) as ErrorJson).error;
      assert.equal(err.code, 'TRUST_ROOT_MISMATCH');
      assert.ok(err.hint.includes(stack.url) && err.hint.includes('vouch trust import'), err.hint);

      const pin = createHash('sha256')
        .update(readFileSync(at('serve/trusted_root.json')))
        .digest('hex');
      const imp = await vouchAsync(['trust', 'import', stack.url, '--name', 'team', '--sha256', pin], { env });
      assert.equal(imp.status, 0, imp.stderr);
      const after = await vouchAsync(verifyArgs, { env });
      assert.equal(after.status, 0, after.stderr);
    });
  });

  type Row = { name: string; args: () => string[]; env?: Record<string, string>; code: string; hint?: RegExp };
  const rows: Row[] = [
    // verify: what the customer gets wrong
    {
      name: 'no identity flags',
      args: () => ['verify', at('app.txt')],
      code: 'POLICY_INVALID',
      hint: /--certificate-identity.*--certificate-oidc-issuer/,
    },
    {
      name: 'identity without issuer',
      args: () => ['verify', at('app.txt'), '--certificate-identity', signed.identity],
      code: 'POLICY_INVALID',
      hint: /--certificate-oidc-issuer/,
    },
    {
      name: 'an identity regexp matching a part only',
      args: () => [
        'verify',
        at('app.txt'),
        '--certificate-identity-regexp',
        signed.identity.slice(0, 3),
        '--certificate-oidc-issuer',
        signed.issuer,
      ],
      env: publisher,
      code: 'IDENTITY_MISMATCH',
      hint: /anchored/,
    },
    {
      name: 'a bundle of an instance the customer does not trust',
      args: () => ['verify', at('app.txt'), ...policy()],
      env: { ...noAmbient, VOUCH_HOME: at('customer-fresh') },
      code: 'TRUST_ROOT_MISMATCH',
      hint: /vouch trust import.*--trusted-root/,
    },
    {
      name: 'a directory bundle for a file',
      args: () => ['verify', at('other.txt'), '--bundle', at('tree.sigstore.json'), '--key', at('ecdsa-p256.pub')],
      code: 'BUNDLE_KIND_MISMATCH',
    },
    {
      name: 'a file bundle (message signature) for a directory',
      args: () => ['verify', at('tree'), '--bundle', at('other-key.json'), '--key', at('ecdsa-p256.pub')],
      code: 'BUNDLE_KIND_MISMATCH',
    },
    {
      name: 'a file bundle (statement) for a directory',
      args: () => ['verify', at('tree'), '--bundle', at('other-ed25519.json'), '--key', at('ed25519.pub')],
      code: 'BUNDLE_KIND_MISMATCH',
    },
    {
      name: "an image archive's bundle for the archive read as a file",
      args: () => ['verify', at('image.tar'), '--key', at('ecdsa-p256.pub')],
      code: 'BUNDLE_KIND_MISMATCH',
      hint: /oci-archive/,
    },
    {
      name: 'a file bundle for another file is still modified',
      args: () => ['verify', at('app.txt'), '--bundle', at('other-key.json'), '--key', at('ecdsa-p256.pub')],
      code: 'DIGEST_MISMATCH',
    },
    {
      name: 'a missing artifact, reported as the artifact',
      args: () => ['verify', at('missing.txt'), '--key', at('ecdsa-p256.pub')],
      code: 'FILE_NOT_FOUND',
    },
    // inspect: hostile and wrong inputs
    { name: 'inspect: a missing file', args: () => ['inspect', at('nothing.json')], code: 'FILE_NOT_FOUND' },
    { name: 'inspect: a directory', args: () => ['inspect', at('tree')], code: 'TARGET_UNSUPPORTED' },
    {
      name: 'inspect: JSON that is not a bundle',
      args: () => write('notbundle.json', '{"a": 1}'),
      code: 'BUNDLE_MALFORMED',
    },
    {
      name: 'inspect: truncated JSON',
      args: () => write('trunc.json', '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", '),
      code: 'BUNDLE_MALFORMED',
    },
    {
      name: 'inspect: duplicate keys',
      args: () => write('dup.json', '{"mediaType": "x", "mediaType": "y"}'),
      code: 'BUNDLE_MALFORMED',
    },
    {
      name: 'inspect: an unknown bundle version',
      args: () => write('v9.json', bundleWith({ mediaType: 'application/vnd.dev.sigstore.bundle+json;version=9.9' })),
      code: 'BUNDLE_UNSUPPORTED',
    },
    {
      name: 'inspect: --authenticode-roots with a bundle',
      args: () => ['inspect', at('other-key.json'), '--authenticode-roots', at('other-key.json')],
      code: 'USAGE',
    },
    // trust import: refused without a pin off a terminal, wrong pins, wrong URLs, wrong documents
    {
      name: 'trust import URL without a pin, not at a terminal',
      args: () => ['trust', 'import', `${base}/root.json`, '--name', 'x'],
      code: 'TRUST_ROOT_PIN_MISSING',
    },
    {
      name: 'trust import URL with another pin',
      args: () => ['trust', 'import', `${base}/root.json`, '--name', 'x', '--sha256', '0'.repeat(64)],
      code: 'TRUST_ROOT_PIN_MISMATCH',
    },
    {
      name: 'trust import FILE with another pin',
      args: () => ['trust', 'import', at('embedded-root.json'), '--name', 'x', '--sha256', 'f'.repeat(64)],
      code: 'TRUST_ROOT_PIN_MISMATCH',
    },
    {
      name: 'trust import: a pin that is not a SHA-256',
      args: () => ['trust', 'import', `${base}/root.json`, '--name', 'x', '--sha256', 'abc'],
      code: 'USAGE',
    },
    {
      name: 'trust import: plain http off this machine',
      args: () => ['trust', 'import', 'http://example.com/root.json', '--name', 'x'],
      code: 'USAGE',
    },
    {
      name: 'trust import: credentials in the URL',
      args: () => ['trust', 'import', `${base.replace('//', '//u:p@')}/root.json`, '--name', 'x'],
      code: 'USAGE',
    },
    {
      name: 'trust import: a URL that answers 404',
      args: () => ['trust', 'import', `${base}/nothing.json`, '--name', 'x', '--sha256', '0'.repeat(64)],
      code: 'SERVICE_ERROR',
    },
    {
      name: 'trust import: a document that is not a root',
      args: () => ['trust', 'import', `${base}/garbage.json`, '--name', 'x'],
      code: 'TRUST_ROOT_INVALID',
    },
    {
      name: 'trust import: an oversize answer',
      args: () => ['trust', 'import', `${base}/huge.json`, '--name', 'x'],
      code: 'TRUST_ROOT_INVALID',
    },
  ];

  function write(name: string, text: string): string[] {
    writeFileSync(at(name), text);
    return ['inspect', at(name)];
  }
  function bundleWith(patch: Record<string, unknown>): string {
    return JSON.stringify({ ...JSON.parse(readFileSync(at('other-key.json'), 'utf8')), ...patch });
  }

  for (const row of rows) {
    it(`${row.name}: ${row.code}`, async () => {
      // Asynchronous: the test's own server must answer meanwhile.
      const r: CliRun = await vouchAsync([...row.args(), '--json'], { env: row.env ?? customer });
      const err = (JSON.parse(r.stdout) as ErrorJson).error;
      assert.equal(err.code, row.code, r.stderr);
      assert.equal(errorCode(r.stderr), row.code);
      if (row.hint) assert.match(err.hint, row.hint);
      if (row.code === 'FILE_NOT_FOUND' && row.args()[0] === 'verify') {
        assert.doesNotMatch(err.message, /sigstore\.json/, 'the artifact is named, not its bundle');
      }
    });
  }
});

function hasScript(): boolean {
  return spawnSync('script', ['--version']).status === 0;
}

/** Run the CLI with a terminal as stdin/stdout/stderr (util-linux `script`), typing `input`. */
function atTerminal(
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ status: number; out: string }> {
  const command = [process.execPath, BIN, ...args].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  // Typed once the question is on the screen, as a person would.
  const typed = setInterval(() => {
    if (/\[y\/N\]/.test(out)) {
      child.stdin.write(input);
      clearInterval(typed);
    }
  }, 20);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(typed);
      resolve({ status: code ?? -1, out });
    });
  });
}
