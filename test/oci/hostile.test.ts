/**
 * A hostile registry (node:http on 127.0.0.1:0) serving one bad behaviour per row, each with the error code the
 * client must raise. Every row runs in bounded time and memory: nothing large is ever downloaded.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attachSignature } from '../../src/artifact/oci/attach.ts';
import { buildImageStatement } from '../../src/artifact/oci/binding.ts';
import { findSignatures } from '../../src/artifact/oci/discover.ts';
import { EMPTY_DESCRIPTOR, MEDIA } from '../../src/artifact/oci/manifest.ts';
import { RegistryClient, referrersTag } from '../../src/artifact/oci/registry.ts';
import { type ResolvedImage, resolveImage } from '../../src/artifact/oci/resolve.ts';
import { verifyImageSignatures } from '../../src/workflow/verify-image.ts';
import { buildImage, codeOf, sha256, signStatement, testKey, testVerifier } from './helpers.ts';

type Reply = { status: number; headers?: Record<string, string>; body?: Buffer | string; hang?: boolean };
type Handler = (
  method: string,
  path: string,
  headers: http.IncomingHttpHeaders,
  body?: Buffer,
  query?: URLSearchParams,
) => Reply | undefined;

let handler: Handler = () => undefined;
const seen: string[] = [];
let server: http.Server;
let host = '';

function json(o: unknown, mediaType: string): Reply {
  return { status: 200, headers: { 'content-type': mediaType }, body: Buffer.from(JSON.stringify(o)) };
}

const img = buildImage(2, 'hostile');
const other = buildImage(1, 'other');
const D = sha256(img.manifest);
const D2 = sha256(other.manifest);
const REPO = 'acme/app';
const key = testKey();
const verifier = testVerifier(key);

/** Serve the image under tag "v1" and by digest, then whatever `extra` says. */
function registry(extra: Handler): Handler {
  return (method, path, headers) => {
    const r = extra(method, path, headers);
    if (r) return r;
    if (path === `/v2/${REPO}/manifests/v1` || path === `/v2/${REPO}/manifests/${D}`) {
      return { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: img.manifest };
    }
    return { status: 404, body: '{"errors":[{"code":"NOT_FOUND"}]}' };
  };
}

/** A referrer artifact manifest carrying `bundle`, whose subject is `subject`. */
function referrer(bundle: Buffer, subject: string, layerSize = bundle.length) {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      artifactType: MEDIA.sigstoreBundle,
      config: EMPTY_DESCRIPTOR,
      layers: [{ mediaType: MEDIA.sigstoreBundle, digest: sha256(bundle), size: layerSize }],
      subject: { mediaType: MEDIA.ociManifest, digest: subject, size: img.manifest.length },
    }),
  );
  return { manifest, digest: sha256(manifest) };
}

/** Serve referrers of D through the referrers API: the given artifact manifests and their bundle blobs. */
function withReferrers(refs: { manifest: Buffer; digest: string; bundle: Buffer }[]): Handler {
  return registry((_m, path) => {
    if (path.startsWith(`/v2/${REPO}/referrers/${D}`)) {
      return json(
        {
          schemaVersion: 2,
          mediaType: MEDIA.ociIndex,
          manifests: refs.map((r) => ({
            mediaType: MEDIA.ociManifest,
            digest: r.digest,
            size: r.manifest.length,
            artifactType: MEDIA.sigstoreBundle,
          })),
        },
        MEDIA.ociIndex,
      );
    }
    for (const r of refs) {
      if (path === `/v2/${REPO}/manifests/${r.digest}`) {
        return { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: r.manifest };
      }
      if (path === `/v2/${REPO}/blobs/${sha256(r.bundle)}`) return { status: 200, body: r.bundle };
    }
    return undefined;
  });
}

function client(options: ConstructorParameters<typeof RegistryClient>[1] = {}): RegistryClient {
  return new RegistryClient(host, { credentials: null, retries: 1, backoffMs: 1, ...options });
}

async function resolved(c = client()): Promise<ResolvedImage> {
  return resolveImage({ kind: 'oci', reference: `${host}/${REPO}:v1` }, { client: c });
}

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const r = handler(req.method ?? 'GET', url.pathname, req.headers, Buffer.concat(chunks), url.searchParams) ?? {
        status: 404,
      };
      if (r.hang) {
        // Headers and half a body, then silence: a stalled registry.
        res.writeHead(r.status, r.headers ?? {});
        res.write('{');
        return;
      }
      res.writeHead(r.status, r.headers ?? {});
      res.end(req.method === 'HEAD' ? undefined : r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

describe('hostile registry', () => {
  it('serves a well-formed image and a valid signature: verified (the baseline the rows below break)', async () => {
    const bundle = Buffer.from(
      await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
    );
    handler = withReferrers([{ ...referrer(bundle, D), bundle }]);
    const image = await resolved();
    const ok = await verifyImageSignatures(image, await findSignatures(image), verifier);
    assert.equal(ok.check.digest, D);
  });

  const rows: {
    name: string;
    handler: () => Promise<Handler> | Handler;
    act?: 'resolve' | 'find' | 'verify';
    ref?: string;
    code: string;
  }[] = [
    {
      name: 'manifest bytes differ from the digest asked for',
      ref: `@${D}`,
      handler: () =>
        registry((_m, p) =>
          p === `/v2/${REPO}/manifests/${D}`
            ? { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: other.manifest }
            : undefined,
        ),
      code: 'IMAGE_MISMATCH',
    },
    {
      name: 'Docker-Content-Digest header contradicts the bytes served for a tag',
      handler: () =>
        registry((_m, p) =>
          p === `/v2/${REPO}/manifests/v1`
            ? {
                status: 200,
                headers: { 'content-type': MEDIA.ociManifest, 'docker-content-digest': D2 },
                body: img.manifest,
              }
            : undefined,
        ),
      code: 'IMAGE_MISMATCH',
    },
    {
      name: 'manifest is both an index and an image',
      handler: () => {
        const both = JSON.parse(img.manifest.toString());
        both.manifests = [];
        return registry((_m, p) => (p === `/v2/${REPO}/manifests/v1` ? json(both, MEDIA.ociManifest) : undefined));
      },
      code: 'IMAGE_INVALID',
    },
    {
      name: 'manifest served with another media type than it declares',
      handler: () =>
        registry((_m, p) =>
          p === `/v2/${REPO}/manifests/v1`
            ? { status: 200, headers: { 'content-type': MEDIA.ociIndex }, body: img.manifest }
            : undefined,
        ),
      code: 'IMAGE_INVALID',
    },
    {
      name: 'manifest larger than 4 MiB (streamed without a length)',
      handler: () =>
        registry((_m, p) =>
          p === `/v2/${REPO}/manifests/v1`
            ? { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: Buffer.alloc(5 << 20, 0x20) }
            : undefined,
        ),
      code: 'IMAGE_INVALID',
    },
    {
      name: 'duplicate keys in a manifest',
      handler: () =>
        registry((_m, p) =>
          p === `/v2/${REPO}/manifests/v1`
            ? {
                status: 200,
                headers: { 'content-type': MEDIA.ociManifest },
                body: `{"schemaVersion":2,"schemaVersion":2,${img.manifest.toString().slice(17)}`,
              }
            : undefined,
        ),
      code: 'IMAGE_INVALID',
    },
    {
      name: 'a referrer whose subject is another digest',
      act: 'find',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
        );
        return withReferrers([{ ...referrer(bundle, D2), bundle }]);
      },
      code: 'IMAGE_MISMATCH',
    },
    {
      name: '10,000 referrers',
      act: 'find',
      handler: () => {
        const many = Array.from({ length: 10_000 }, (_, i) => ({
          mediaType: MEDIA.ociManifest,
          digest: sha256(Buffer.from(String(i))),
          size: 500,
          artifactType: MEDIA.sigstoreBundle,
        }));
        return registry((_m, p) =>
          p.startsWith(`/v2/${REPO}/referrers/`)
            ? json({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: many }, MEDIA.ociIndex)
            : undefined,
        );
      },
      code: 'IMAGE_INVALID',
    },
    {
      name: 'a bundle blob descriptor claiming 8 GiB',
      act: 'find',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
        );
        return withReferrers([{ ...referrer(bundle, D, 8 * 2 ** 30), bundle }]);
      },
      code: 'IMAGE_INVALID',
    },
    {
      name: 'a referrer manifest descriptor claiming 4 MiB',
      act: 'find',
      handler: () =>
        registry((_m, p) =>
          p.startsWith(`/v2/${REPO}/referrers/`)
            ? json(
                {
                  schemaVersion: 2,
                  mediaType: MEDIA.ociIndex,
                  manifests: [
                    { mediaType: MEDIA.ociManifest, digest: D2, size: 4 << 20, artifactType: MEDIA.sigstoreBundle },
                  ],
                },
                MEDIA.ociIndex,
              )
            : undefined,
        ),
      code: 'IMAGE_INVALID',
    },
    {
      name: 'a blob longer than its descriptor',
      act: 'find',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
        );
        const r = referrer(bundle, D);
        const inner = withReferrers([{ ...r, bundle }]);
        return (m, p, h) =>
          p === `/v2/${REPO}/blobs/${sha256(bundle)}`
            ? { status: 200, body: Buffer.concat([bundle, bundle]) }
            : inner(m, p, h);
      },
      code: 'IMAGE_MISMATCH',
    },
    {
      name: 'a signature copied from another repository',
      act: 'verify',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/other/app`, digest: D }), key),
        );
        return withReferrers([{ ...referrer(bundle, D), bundle }]);
      },
      code: 'REPOSITORY_MISMATCH',
    },
    {
      name: 'a signature for the digest the tag moved to, listed under the resolved digest',
      act: 'verify',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D2 }), key),
        );
        let served = 0;
        const inner = withReferrers([{ ...referrer(bundle, D), bundle }]);
        // The tag points at D for the first fetch, then at D2: the client must keep using D.
        return (m, p, h) => {
          if (p === `/v2/${REPO}/manifests/v1` && served++ > 0) {
            return { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: other.manifest };
          }
          return inner(m, p, h);
        };
      },
      code: 'IMAGE_MISMATCH',
    },
    {
      name: 'a bundle signed by another key',
      act: 'verify',
      handler: async () => {
        const bundle = Buffer.from(
          await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), testKey()),
        );
        return withReferrers([{ ...referrer(bundle, D), bundle }]);
      },
      code: 'SIGNATURE_INVALID',
    },
    {
      name: 'registry answers 429 to everything',
      handler: () => () => ({ status: 429 }),
      code: 'SERVICE_UNAVAILABLE',
    },
    {
      name: 'registry answers 500',
      handler: () => () => ({ status: 500 }),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'referrers API fails with 503: a service error, never "no signature"',
      act: 'find',
      handler: () => registry((_m, p) => (p.startsWith(`/v2/${REPO}/referrers/`) ? { status: 503 } : undefined)),
      code: 'SERVICE_UNAVAILABLE',
    },
    {
      name: 'referrers tag index fails with 502',
      act: 'find',
      handler: () =>
        registry((_m, p) => (p === `/v2/${REPO}/manifests/${referrersTag(D)}` ? { status: 502 } : undefined)),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'a malformed token realm',
      handler: () => () => ({ status: 401, headers: { 'www-authenticate': 'Bearer realm="http://[::zz/token"' } }),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'a token realm over plain HTTP on another host',
      handler: () => () => ({
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="http://auth.example.com/t"' },
      }),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'a redirect to a malformed location',
      handler: () => () => ({ status: 307, headers: { location: 'http://[::zz/x' } }),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'a redirect to plain HTTP on another host',
      handler: () => () => ({ status: 307, headers: { location: 'http://registry.example.com/v2/x' } }),
      code: 'SERVICE_ERROR',
    },
    {
      name: 'no referrers API and no tag index: no signature',
      act: 'verify',
      handler: () => registry(() => undefined),
      code: 'SIGNATURE_NOT_FOUND',
    },
  ];

  for (const row of rows) {
    it(row.name, async () => {
      handler = await row.handler();
      seen.length = 0;
      const started = Date.now();
      const act = async () => {
        const image = await resolveImage(
          { kind: 'oci', reference: `${host}/${REPO}${row.ref ?? ':v1'}` },
          { client: client() },
        );
        if (!row.act || row.act === 'resolve') return image;
        const found = await findSignatures(image);
        if (row.act === 'find') return found;
        return verifyImageSignatures(image, found, verifier);
      };
      assert.equal(await codeOf(act()), row.code);
      assert.ok(Date.now() - started < 5000, 'bounded time');
      // Nothing large is ever fetched blindly: the 8 GiB blob is never requested.
      assert.ok(!seen.some((s) => s.includes('/blobs/') && row.name.includes('8 GiB')));
    });
  }

  it('a registry that stalls mid-answer times out as a service failure, in bounded time', async () => {
    handler = () => ({ status: 200, headers: { 'content-type': MEDIA.ociManifest }, hang: true });
    const started = Date.now();
    assert.equal(await codeOf(resolved(client({ timeoutMs: 200, retries: 1 }))), 'SERVICE_UNAVAILABLE');
    assert.ok(Date.now() - started < 3000);
  });

  it('retries 503 with back-off, then succeeds', async () => {
    let n = 0;
    const inner = registry(() => undefined);
    handler = (m, p, h) => (n++ < 2 ? { status: 503 } : inner(m, p, h));
    const c = client({ retries: 3 });
    const image = await resolved(c);
    assert.equal(image.digest, D);
    assert.equal(c.stats.requests, 3);
  });

  it('bearer-token challenge with basic credentials from the docker config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-docker-'));
    try {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ auths: { [host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }),
      );
      const inner = registry(() => undefined);
      let tokenAuth: string | undefined;
      handler = (m, p, h) => {
        if (p === '/token') {
          tokenAuth = h.authorization;
          return json({ token: 'tok123' }, 'application/json');
        }
        if (h.authorization !== 'Bearer tok123') {
          return {
            status: 401,
            headers: {
              'www-authenticate': `Bearer realm="http://${host}/token",service="reg",scope="repository:${REPO}:pull"`,
            },
          };
        }
        return inner(m, p, h);
      };
      const c = new RegistryClient(host, { env: { DOCKER_CONFIG: dir }, retries: 0 });
      const image = await resolved(c);
      assert.equal(image.digest, D);
      assert.equal(tokenAuth, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
      // The token is reused: the next request needs no new challenge.
      const before = c.stats.requests;
      await c.getManifest(REPO, D);
      assert.equal(c.stats.requests, before + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('basic challenge with credentials from a credential helper (docker-credential-<name> get)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-docker-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'vouchtest' } }));
      const helper = join(dir, 'docker-credential-vouchtest');
      writeFileSync(
        helper,
        '#!/bin/sh\nread server\necho "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"bob\\",\\"Secret\\":\\"pw\\"}"\n',
      );
      chmodSync(helper, 0o755);
      const inner = registry(() => undefined);
      const expected = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
      handler = (m, p, h) =>
        h.authorization === expected
          ? inner(m, p, h)
          : { status: 401, headers: { 'www-authenticate': 'Basic realm="reg"' } };
      const env = { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH}` };
      const savedPath = process.env.PATH;
      process.env.PATH = env.PATH; // execFile looks the helper up in this process's PATH
      try {
        const image = await resolved(new RegistryClient(host, { env, retries: 0 }));
        assert.equal(image.digest, D);
      } finally {
        process.env.PATH = savedPath;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses wrong credentials as a service error, not as "not found"', async () => {
    handler = () => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="reg"' } });
    const c = new RegistryClient(host, { credentials: { username: 'x', password: 'y' }, retries: 0 });
    assert.equal(await codeOf(resolved(c)), 'SERVICE_ERROR');
  });

  it('on a registry with the referrers API, attaches without a tag index and finds through the API', async () => {
    // A small conformant OCI 1.1 registry: blobs, uploads, manifests, and a referrers index built from subjects.
    const blobs = new Map<string, Buffer>();
    const manifests = new Map<string, { body: Buffer; type: string }>();
    manifests.set(`${REPO}/v1`, { body: img.manifest, type: MEDIA.ociManifest });
    manifests.set(`${REPO}/${D}`, { body: img.manifest, type: MEDIA.ociManifest });
    handler = (method, path, headers, body, query) => {
      const m = /^\/v2\/(.+?)\/(blobs\/uploads|blobs|manifests|referrers)\/?(.*)$/.exec(path);
      if (!m) return { status: 404 };
      const [, repo, kind, ref] = m as unknown as [string, string, string, string];
      if (kind === 'blobs/uploads' && method === 'POST')
        return { status: 202, headers: { location: `/v2/${repo}/blobs/uploads/u1` } };
      if (kind === 'blobs/uploads' && method === 'PUT') {
        const digest = query!.get('digest')!;
        if (sha256(body!) !== digest) return { status: 400 };
        blobs.set(digest, body!);
        return { status: 201 };
      }
      if (kind === 'blobs') return blobs.has(ref) ? { status: 200, body: blobs.get(ref)! } : { status: 404 };
      if (kind === 'manifests' && method === 'PUT') {
        const entry = { body: body!, type: String(headers['content-type']) };
        manifests.set(`${repo}/${ref}`, entry);
        manifests.set(`${repo}/${sha256(body!)}`, entry);
        const subject = JSON.parse(body!.toString()).subject;
        return {
          status: 201,
          headers: { 'docker-content-digest': sha256(body!), ...(subject ? { 'oci-subject': subject.digest } : {}) },
        };
      }
      if (kind === 'manifests') {
        const e = manifests.get(`${repo}/${ref}`);
        return e ? { status: 200, headers: { 'content-type': e.type }, body: e.body } : { status: 404 };
      }
      const listed = [...manifests.entries()]
        .filter(([k]) => k.startsWith(`${repo}/sha256:`))
        .map(([, e]) => ({ e, doc: JSON.parse(e.body.toString()) }))
        .filter(({ doc }) => doc.subject?.digest === ref)
        .map(({ e, doc }) => ({
          mediaType: e.type,
          digest: sha256(e.body),
          size: e.body.length,
          artifactType: doc.artifactType,
        }));
      return json({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: listed }, MEDIA.ociIndex);
    };
    const c = client();
    const image = await resolved(c);
    const { via } = await attachSignature(image, await signStatement(buildImageStatement(image), key));
    assert.equal(via, 'api');
    assert.ok(![...manifests.keys()].some((k) => k.endsWith(referrersTag(D))), 'no tag index written');
    const found = await findSignatures(image);
    assert.equal(found.length, 1);
    assert.equal((await verifyImageSignatures(image, found, verifier)).check.digest, D);
  });

  it('follows a blob redirect to another host without sending it the credentials', async () => {
    const bundle = Buffer.from(
      await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
    );
    const r = referrer(bundle, D);
    const inner = withReferrers([{ ...r, bundle }]);
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    let storageAuth: string | undefined = 'unset';
    const port = host.split(':')[1];
    handler = (m, p, h, b, q) => {
      if (p === '/storage/bundle') {
        storageAuth = h.authorization;
        return { status: 200, body: bundle };
      }
      if (h.authorization !== auth) return { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
      if (p === `/v2/${REPO}/blobs/${sha256(bundle)}`) {
        // "localhost" is another host name than "127.0.0.1" for the client, as object storage would be.
        return { status: 307, headers: { location: `http://localhost:${port}/storage/bundle` } };
      }
      return inner(m, p, h, b, q);
    };
    const c = new RegistryClient(host, { credentials: { username: 'u', password: 'p' }, retries: 0 });
    const image = await resolved(c);
    const found = await findSignatures(image);
    assert.equal(found[0]!.bundle, bundle.toString());
    assert.equal(storageAuth, undefined);
  });

  it('reads a paginated referrers listing (Link: rel="next")', async () => {
    const bundles = await Promise.all(
      [1, 2].map(async () =>
        Buffer.from(await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key)),
      ),
    );
    const refs = bundles.map((bundle) => ({ ...referrer(bundle, D), bundle }));
    const all = withReferrers(refs);
    const page = (r: (typeof refs)[number]) => ({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        { mediaType: MEDIA.ociManifest, digest: r.digest, size: r.manifest.length, artifactType: MEDIA.sigstoreBundle },
      ],
    });
    handler = (m, p, h, b, q) => {
      if (p === `/v2/${REPO}/referrers/${D}`) {
        if (q?.get('page') === '2') return json(page(refs[1]!), MEDIA.ociIndex);
        const first = json(page(refs[0]!), MEDIA.ociIndex);
        return { ...first, headers: { ...first.headers, link: `</v2/${REPO}/referrers/${D}?page=2>; rel="next"` } };
      }
      return all(m, p, h, b, q);
    };
    const found = await findSignatures(await resolved());
    assert.deepEqual(found.map((f) => f.referrer).sort(), refs.map((r) => r.digest).sort());
  });

  it('a malformed legacy .sig layer fails alone and does not hide a valid signature', async () => {
    const payload = Buffer.from('{"critical":{}}');
    const sigManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: EMPTY_DESCRIPTOR,
        layers: [{ mediaType: MEDIA.cosignSimpleSigning, digest: sha256(payload), size: payload.length }],
      }),
    );
    const legacy: Handler = (_m, p) => {
      if (p === `/v2/${REPO}/manifests/${referrersTag(D)}.sig`) {
        return { status: 200, headers: { 'content-type': MEDIA.ociManifest }, body: sigManifest };
      }
      if (p === `/v2/${REPO}/blobs/${sha256(payload)}`) return { status: 200, body: payload };
      return undefined;
    };
    const bundle = Buffer.from(
      await signStatement(buildImageStatement({ repository: `${host}/${REPO}`, digest: D }), key),
    );
    const good = withReferrers([{ ...referrer(bundle, D), bundle }]);
    handler = (m, p, h, b, q) => legacy(m, p, h, b, q) ?? good(m, p, h, b, q);
    const image = await resolved();
    const found = await findSignatures(image);
    assert.equal(found.length, 2);
    assert.equal((await verifyImageSignatures(image, found, verifier)).signature.format, 'bundle');
    handler = (m, p, h, b, q) => legacy(m, p, h, b, q) ?? registry(() => undefined)(m, p, h, b, q);
    const onlyBad = await resolved();
    assert.equal(
      await codeOf(async () => verifyImageSignatures(onlyBad, await findSignatures(onlyBad), verifier)),
      'BUNDLE_MALFORMED',
    );
  });

  it('remembers that a registry has no referrers API (one request fewer per image)', async () => {
    handler = registry(() => undefined);
    const c = client();
    const image = await resolved(c);
    await findSignatures(image);
    const before = seen.filter((s) => s.includes('/referrers/')).length;
    await findSignatures(image);
    assert.equal(seen.filter((s) => s.includes('/referrers/')).length, before);
  });

  it('refuses plain HTTP to a non-loopback registry unless allowed', () => {
    assert.equal(new RegistryClient('registry.example.com').base.protocol, 'https:');
    assert.equal(new RegistryClient('registry.example.com', { allowInsecure: true }).base.protocol, 'http:');
    assert.equal(new RegistryClient('127.0.0.1:5000').base.protocol, 'http:');
  });
});
