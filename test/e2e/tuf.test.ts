/**
 * The official Sigstore clients against a `vouch serve`, bootstrapped through its TUF repository alone: the
 * customer is given the mirror URL and `DATA/tuf/root.json`, nothing else. The sigstore-js CLI (@sigstore/cli)
 * initializes from them (`initialize --mirror --root`, as cosign does), signs with the services the TUF-delivered
 * signing config names and verifies with the TUF-delivered trusted root (`--tuf-mirror-url`/`--tuf-root-path`);
 * the `sigstore` library does the same through its TUF options; `vouch verify`, on another VOUCH_HOME, verifies
 * the bundles they made. A mirror that changes one byte of the metadata is refused by the official client.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initTUF } from '@sigstore/tuf';
import * as sigstore from 'sigstore';
import { REPO, tempDir, vouch } from '../helpers/cli.ts';

const SIGSTORE_CLI = join(REPO, 'node_modules', '@sigstore', 'cli', 'bin', 'run');

interface Summary {
  url: string;
  issuer: string;
  tuf: { mirror: string; root: string; rootSha256: string };
}

interface ServiceList {
  caUrls: { url: string }[];
  rekorTlogUrls: { url: string }[];
  tsaUrls: { url: string }[];
  oidcUrls: { url: string }[];
}

describe('official clients against vouch serve, through TUF alone', () => {
  const tmp = tempDir('vouch-e2e-tuf-');
  const at = (p: string) => join(tmp.path, p);
  let child: ChildProcess;
  let summary: Summary;
  let services: ServiceList;
  let token = '';
  let proxy: Server | undefined;
  const email = 'release@example.test';
  const artifact = Buffer.from('MZ release built in CI');

  /**
   * The sigstore-js CLI, as a customer runs it (its own HOME, so no cache or config of this machine is used).
   * Asynchronous: the hostile mirror below answers from this process while the CLI runs.
   */
  function sigstoreCli(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [SIGSTORE_CLI, ...args],
        { env: { PATH: process.env.PATH ?? '', HOME: at('customer-home'), ...env }, timeout: 60_000 },
        (error, stdout, stderr) => {
          const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ status, stdout, stderr });
        },
      );
    });
  }

  /** `sigstore verify` of the attestation, its trust from the TUF mirror `mirror` and the pinned root only. */
  const cliVerify = (mirror: string, cache: string) => [
    'verify',
    at('attest.sigstore.json'),
    '--certificate-issuer',
    summary.issuer,
    '--certificate-identity-email',
    email,
    '--ctlog-threshold',
    '0',
    '--tuf-mirror-url',
    mirror,
    '--tuf-root-path',
    at('pinned-root.json'),
    '--tuf-cache-path',
    at(cache),
  ];

  before(async () => {
    child = spawn(
      process.execPath,
      [join(REPO, 'bin', 'vouch.mjs'), 'serve', '--data', at('data'), '--port', '0', '--local-email', email, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    summary = await new Promise<Summary>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as Summary);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    writeFileSync(at('app.exe'), artifact);
    // The customer's copy of the root, handed over out of band and checked against the published digest.
    writeFileSync(at('pinned-root.json'), readFileSync(summary.tuf.root));
    assert.equal(
      createHash('sha256')
        .update(readFileSync(at('pinned-root.json')))
        .digest('hex'),
      summary.tuf.rootSha256,
    );
  });

  after(async () => {
    proxy?.close();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    tmp.dispose();
  });

  it('initializes the sigstore CLI from the mirror and the pinned root (cosign initialize --mirror --root)', async () => {
    const r = await sigstoreCli([
      'initialize',
      '--mirror',
      summary.tuf.mirror,
      '--root',
      at('pinned-root.json'),
      '--cache-path',
      at('cli-cache'),
    ]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('finds every service in the signing config the TUF repository delivers', async () => {
    const client = await initTUF({
      mirrorURL: summary.tuf.mirror,
      rootPath: at('pinned-root.json'),
      cachePath: at('lib-cache'),
    });
    const config = JSON.parse(await client.getTarget('signing_config.v0.2.json')) as ServiceList & {
      mediaType: string;
    };
    assert.equal(config.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
    services = config;
    for (const list of [config.caUrls, config.rekorTlogUrls, config.tsaUrls, config.oidcUrls])
      assert.equal(list.length, 1);
    // The dev issuer the signing config names hands out the identity token, as a CI provider would.
    const res = await fetch(`${config.oidcUrls[0]!.url}/token`, { method: 'POST' });
    assert.equal(res.status, 200);
    token = ((await res.json()) as { id_token: string }).id_token;
  });

  it('signs an attestation with the sigstore CLI and verifies it with the CLI and with vouch verify', async () => {
    const digest = createHash('sha256').update(artifact).digest('hex');
    writeFileSync(
      at('statement.json'),
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'app.exe', digest: { sha256: digest } }],
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: {},
      }),
    );
    const signed = await sigstoreCli(
      [
        'attest',
        at('statement.json'),
        '--fulcio-url',
        services.caUrls[0]!.url,
        '--rekor-url',
        services.rekorTlogUrls[0]!.url,
        '--tsa-server-url',
        services.tsaUrls[0]!.url,
        '--output-file',
        at('attest.sigstore.json'),
      ],
      { CI: 'true', SIGSTORE_ID_TOKEN: token },
    );
    assert.equal(signed.status, 0, signed.stderr);

    const verified = await sigstoreCli(cliVerify(summary.tuf.mirror, 'cli-cache'));
    assert.equal(verified.status, 0, verified.stderr);

    const r = vouch(
      [
        'verify',
        at('app.exe'),
        '--bundle',
        at('attest.sigstore.json'),
        '--trusted-root',
        join(at('data'), 'trusted_root.json'),
        '--certificate-identity',
        email,
        '--certificate-oidc-issuer',
        summary.issuer,
        '--json',
      ],
      { env: { VOUCH_HOME: at('customer-vouch-home') } },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  it('signs and verifies a blob with the sigstore library, its trust from TUF; vouch verify agrees', async () => {
    const bundle = await sigstore.sign(artifact, {
      fulcioURL: services.caUrls[0]!.url,
      rekorURL: services.rekorTlogUrls[0]!.url,
      tsaServerURL: services.tsaUrls[0]!.url,
      identityToken: token,
    });
    const tuf = {
      tufMirrorURL: summary.tuf.mirror,
      tufRootPath: at('pinned-root.json'),
      tufCachePath: at('lib-cache'),
    };
    await sigstore.verify(bundle, artifact, {
      ...tuf,
      ctLogThreshold: 0,
      certificateIssuer: summary.issuer,
      certificateIdentityEmail: email,
    });
    // The same trust rejects another artifact and another identity.
    await assert.rejects(sigstore.verify(bundle, Buffer.from('other'), { ...tuf, ctLogThreshold: 0 }));
    await assert.rejects(
      sigstore.verify(bundle, artifact, {
        ...tuf,
        ctLogThreshold: 0,
        certificateIssuer: summary.issuer,
        certificateIdentityEmail: 'someone-else@example.test',
      }),
    );
    writeFileSync(at('blob.sigstore.json'), JSON.stringify(bundle));
    const r = vouch(
      [
        'verify',
        at('app.exe'),
        '--bundle',
        at('blob.sigstore.json'),
        '--trusted-root',
        join(at('data'), 'trusted_root.json'),
        '--certificate-identity',
        email,
        '--certificate-oidc-issuer',
        summary.issuer,
      ],
      { env: { VOUCH_HOME: at('customer-vouch-home') } },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  it('the sigstore CLI refuses a mirror that changed one byte of timestamp.json', async () => {
    // A hostile mirror (or CDN) in front of the real one: every answer passes through, timestamp.json altered.
    const upstream = new URL(summary.url);
    proxy = createServer(async (req, res) => {
      const r = await fetch(`${upstream.origin}${req.url}`);
      let body = Buffer.from(await r.arrayBuffer());
      // A later expiry: what a mirror replaying old metadata past its lifetime would need.
      if (req.url?.endsWith('/timestamp.json'))
        body = Buffer.from(body.toString().replace('"expires": "2', '"expires": "3'));
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const mirror = `http://127.0.0.1:${(proxy.address() as { port: number }).port}/tuf`;
    const r = await sigstoreCli(cliVerify(mirror, 'tampered-cache'));
    assert.notEqual(r.status, 0, 'the official client accepted a tampered timestamp.json');
    // tuf-js: the timestamp's signature does not verify with the timestamp key of the pinned root.
    assert.match(r.stderr, /UnsignedMetadataError/);
    // The same command on the real mirror still verifies: the refusal came from the one altered byte.
    const ok = await sigstoreCli(cliVerify(summary.tuf.mirror, 'fresh-cache'));
    assert.equal(ok.status, 0, ok.stderr);
  });
});
