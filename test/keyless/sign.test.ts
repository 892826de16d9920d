/**
 * Keyless signing against the real vouch stack (CA, log, TSA, local issuer on 127.0.0.1:0), checked by the official
 * @sigstore/verify with the stack's trusted root: an independent verifier, so our signer and our verifier cannot
 * share a bug unnoticed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { StaticTokenProvider } from '../../src/identity/providers.ts';
import { selectServices } from '../../src/instance/signingconfig.ts';
import { importTrustedRoot, listTrustStore } from '../../src/instance/truststore.ts';
import { startStack } from '../../src/server/stack.ts';
import { fileStatement, signDigest, signStatement } from '../../src/sign/bundle.ts';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { keylessContext } from '../../src/sign/keyless.ts';
import { verifyTarget } from '../../src/workflow/verify.ts';
import { makeToken, rejectsWith, signKeyless, tempHome } from './helpers.ts';

function verifyOfficially(
  bundlePath: string,
  artifact: Buffer | undefined,
  root: unknown,
  identity: string,
  issuer: string,
) {
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)), {
    tlogThreshold: 1,
    ctlogThreshold: 0,
    timestampThreshold: 1,
  });
  const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  return verifier.verify(toSignedEntity(bundle, artifact), {
    subjectAlternativeName: identity,
    extensions: { issuer },
  });
}

describe('keyless signing on the embedded instance', () => {
  it('signs, the official verifier accepts, and a second sign reuses the same keys and log', async (t) => {
    const home = tempHome(t);
    const file = join(home, 'app.exe');
    writeFileSync(file, 'MZ release bytes');
    const first = await signKeyless(file, { home, env: {} });
    assert.equal(first.instance, 'embedded');
    assert.equal(first.identitySource, 'local-issuer');
    assert.equal(first.localDevelopmentIdentity, true);
    assert.equal(first.rfc3161Timestamps, 1);
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
    const store = listTrustStore(home);
    const embedded = store.find((e) => e.name === 'embedded');
    assert.ok(embedded?.localDevelopment, 'the embedded root is recorded as local development');
    assert.ok(embedded.localIssuers.includes(first.issuer), 'the issuer is recorded for the verifier');
    const signer = verifyOfficially(first.bundlePath, readFileSync(file), embedded.root, first.identity, first.issuer);
    assert.equal(signer.identity?.subjectAlternativeName, first.identity);

    // Same VOUCH_HOME: same CA and log keys, and the log continues (index grows) instead of starting over.
    const second = await signKeyless(file, { home, env: {}, bundle: join(home, 'second.json') });
    const embedded2 = listTrustStore(home).find((e) => e.name === 'embedded')!;
    assert.deepEqual(
      embedded2.root.certificateAuthorities?.[0]?.certChain,
      embedded.root.certificateAuthorities?.[0]?.certChain,
    );
    assert.deepEqual(embedded2.root.tlogs?.[0]?.logId, embedded.root.tlogs?.[0]?.logId);
    assert.ok(Number(second.logIndex) > Number(first.logIndex ?? '0'));
    // ...and the issuer is the same, so one --certificate-oidc-issuer verifies both.
    assert.equal(second.issuer, first.issuer);
    // The first bundle still verifies with the root as it is now.
    verifyOfficially(first.bundlePath, readFileSync(file), embedded2.root, first.identity, first.issuer);
    verifyOfficially(second.bundlePath, readFileSync(file), embedded2.root, second.identity, second.issuer);
    // ...and a modified artifact does not.
    assert.throws(() =>
      verifyOfficially(first.bundlePath, Buffer.from('MZ other bytes'), embedded2.root, first.identity, first.issuer),
    );

    // vouch's own verifier, with the default trust store of this VOUCH_HOME and no flags but the identity.
    const ours = await verifyTarget(file, { home, identities: [{ identity: first.identity, issuer: first.issuer }] });
    assert.equal(ours.verified, true);
    assert.equal(ours.signer.type === 'certificate' && ours.signer.localDevelopmentIdentity, true);
    assert.deepEqual(ours.timestamps.map((x) => x.source).sort(), ['tlog', 'tsa']);
    await rejectsWith(
      verifyTarget(file, { home, identities: [{ identity: 'someone@else.example', issuer: first.issuer }] }),
      'IDENTITY_MISMATCH',
    );
  });

  it('concurrent signs on one VOUCH_HOME queue on the instance lock instead of corrupting the log', async (t) => {
    const home = tempHome(t);
    const files = [0, 1, 2].map((i) => {
      const f = join(home, `f${i}`);
      writeFileSync(f, `artifact ${i}`);
      return f;
    });
    const results = await Promise.all(files.map((f) => signKeyless(f, { home, env: {} })));
    assert.deepEqual(results.map((r) => Number(r.logIndex)).sort(), [0, 1, 2]);
  });

  it('when the last port is taken, the embedded instance moves to another and still signs', async (t) => {
    const home = tempHome(t);
    const file = join(home, 'f');
    writeFileSync(file, 'x');
    const first = await signKeyless(file, { home, env: {} });
    const port = Number(new URL(first.issuer).port);
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    try {
      const second = await signKeyless(file, { home, env: {}, force: true });
      assert.notEqual(second.issuer, first.issuer);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('a token from an issuer the embedded CA does not trust -> TOKEN_INVALID', async (t) => {
    const home = tempHome(t);
    writeFileSync(join(home, 'f'), 'x');
    const token = await makeToken({
      iss: 'https://elsewhere.example',
      sub: 'u',
      email: 'e@x.test',
      email_verified: true,
    });
    const err = await rejectsWith(
      signKeyless(join(home, 'f'), { home, env: {}, identityToken: token }),
      'TOKEN_INVALID',
    );
    assert.deepEqual(err.details, { issuer: 'https://elsewhere.example', source: 'explicit' });
  });

  it('a CI token (GitLab SIGSTORE_ID_TOKEN) on the embedded default is refused before it is sent', async (t) => {
    const home = tempHome(t);
    writeFileSync(join(home, 'f'), 'x');
    const token = await makeToken({ iss: 'https://gitlab.com', sub: 'project_path:g/p:ref_type:branch:ref:main' });
    const env = { SIGSTORE_ID_TOKEN: token, GITLAB_CI: 'true' };
    const err = await rejectsWith(signKeyless(join(home, 'f'), { home, env }), 'TOKEN_INVALID');
    assert.deepEqual(err.details, { issuer: 'https://gitlab.com', source: 'gitlab' });
  });
});

describe('keyless signing with --instance (a running vouch stack)', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let dir: string;
  before(async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    dir = mkdtempSync(join(tmpdir(), 'vouch-stack-'));
    stack = await startStack({ dataDir: join(dir, 'stack'), port: 0 });
  });
  after(async () => {
    await stack?.close();
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches the instance trust material and signs with a SIGSTORE_ID_TOKEN from its issuer', async (t) => {
    const home = tempHome(t);
    const file = join(home, 'lib.tgz');
    writeFileSync(file, 'tarball');
    const token = await stack.issuer!.mint({ email: 'ci@example.test' });
    const r = await signKeyless(file, { home, instance: stack.url, env: { SIGSTORE_ID_TOKEN: token } });
    assert.equal(r.identitySource, 'env');
    assert.equal(r.identity, 'ci@example.test');
    assert.equal(r.issuer, stack.urls.oidc);
    verifyOfficially(r.bundlePath, readFileSync(file), stack.trustedRoot, r.identity, r.issuer);
  });

  it('without a token, signs as the instance local issuer: a local development identity', async (t) => {
    const home = tempHome(t);
    const file = join(home, 'dev.bin');
    writeFileSync(file, 'dev build');
    const r = await signKeyless(file, { home, instance: stack.url, env: {} });
    assert.equal(r.identitySource, 'local-issuer');
    assert.equal(r.localDevelopmentIdentity, true);
    assert.equal(r.issuer, stack.urls.oidc);
    verifyOfficially(r.bundlePath, readFileSync(file), stack.trustedRoot, r.identity, r.issuer);
    // The instance root, once imported, carries the mark: its verifications report a local development identity.
    importTrustedRoot(home, JSON.stringify(stack.trustedRoot), 'team');
    await signKeyless(file, { home, instance: stack.url, env: {}, bundle: join(home, 'again.json') });
    assert.deepEqual(listTrustStore(home).find((e) => e.name === 'team')?.localIssuers, [stack.urls.oidc]);
  });

  it('a log or TSA that fails maps to exit 3: unreachable -> SERVICE_UNAVAILABLE, error answer -> SERVICE_ERROR', async () => {
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closed = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const services = selectServices(stack.signingConfig);
    const digest = Buffer.alloc(32, 7);
    const rows: [string, { tlog: string; tsa?: string }, string][] = [
      ['log unreachable', { tlog: `http://127.0.0.1:${closed}` }, 'SERVICE_UNAVAILABLE'],
      ['log answers 404', { tlog: `${stack.url}/nowhere` }, 'SERVICE_ERROR'],
      [
        'TSA unreachable',
        { tlog: services.tlog, tsa: `http://127.0.0.1:${closed}/api/v1/timestamp` },
        'SERVICE_UNAVAILABLE',
      ],
      ['TSA answers 404', { tlog: services.tlog, tsa: `${stack.url}/nowhere/api/v1/timestamp` }, 'SERVICE_ERROR'],
    ];
    for (const [name, where, code] of rows) {
      const token = await stack.issuer!.mint();
      const ctx = keylessContext(new StaticTokenProvider(token), {
        ca: new FulcioClient(services.ca),
        ...where,
        timeoutMs: 3000,
      });
      const err = await rejectsWith(signDigest(ctx, digest), code as 'SERVICE_ERROR');
      assert.equal(err.exitStatus, 3, name);
    }
  });

  it('a DSSE statement signed keyless is logged as a dsse entry and verifies officially', async () => {
    const services = selectServices(stack.signingConfig);
    const ctx = keylessContext(new StaticTokenProvider(await stack.issuer!.mint()), {
      ca: new FulcioClient(services.ca),
      tlog: services.tlog,
      ...(services.tsa ? { tsa: services.tsa } : {}),
    });
    const artifact = Buffer.from('statement subject');
    const bundle = await signStatement(
      ctx,
      fileStatement('subject.bin', createHash('sha256').update(artifact).digest()),
    );
    assert.equal(bundle.verificationMaterial.tlogEntries?.[0]?.kindVersion?.kind, 'dsse');
    const path = join(dir, 'dsse.json');
    writeFileSync(path, JSON.stringify(bundle));
    const id = ctx.signer.summary();
    verifyOfficially(path, undefined, stack.trustedRoot, id.identity, id.issuer);
  });
});
