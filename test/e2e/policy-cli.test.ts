/**
 * Policies through the built CLI, as a publisher and a customer use them: `vouch serve --config` certifies GitHub
 * Actions identities (a local identity provider stands in for GitHub's), a release is signed by the pipeline and a
 * second bundle is added by the release manager; `vouch policy init` pins the release; `vouch verify --policy`
 * accepts the next release and refuses a fork's, with the rule tree, --json and SARIF; a policy URL is pinned by
 * digest and fetched once; cosign's claim flags; `vouch policy check` names the line at fault.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { errorCode, startServe, tempDir, vouchAsync } from '../helpers/cli.ts';
import { releaseClaims } from '../helpers/github-release.ts';
import { sarifValidator } from '../helpers/sarif-schema.ts';
import { TestIdp } from '../helpers/test-idp.ts';

describe('vouch verify --policy and vouch policy, end to end', () => {
  const tmp = tempDir('vouch-e2e-policy-');
  const at = (p: string) => join(tmp.path, p);
  let idp: TestIdp;
  let serve: Awaited<ReturnType<typeof startServe>> | undefined;
  let url = '';
  let gh = '';
  let people = '';
  const env = () => ({ VOUCH_HOME: at('customer') });
  const root = () => at('data/trusted_root.json');

  before(async () => {
    idp = await TestIdp.start();
    gh = idp.issuer('github');
    people = idp.issuer('accounts');
    writeFileSync(
      at('serve.yaml'),
      stringify({
        'allow-insecure-loopback-issuers': true,
        'oidc-issuers': { [gh]: { type: 'github-workflow' }, [people]: { type: 'email' } },
      }),
    );
    serve = await startServe(['--config', at('serve.yaml'), '--data', at('data')]);
    url = serve.url;
  });

  after(async () => {
    await serve?.stop();
    await idp?.close();
    tmp.dispose();
  });

  async function sign(file: string, bundle: string, token: string) {
    const r = await vouchAsync(
      ['sign', at(file), '--instance', url, '--identity-token', token, '--bundle', at(bundle)],
      {
        env: { VOUCH_HOME: at('publisher') },
      },
    );
    assert.equal(r.status, 0, r.stderr);
  }
  const release = (file: string, bundle: string, over: Record<string, unknown> = {}) =>
    idp.mint(gh, releaseClaims(over)).then((t) => sign(file, bundle, t));

  it('pins a release, verifies the next one, refuses a fork with the tree, --json and SARIF', async () => {
    writeFileSync(at('app-1.4.2.exe'), 'MZ 1.4.2');
    await release('app-1.4.2.exe', 'app-1.4.2.exe.sigstore.json');
    const init = await vouchAsync(
      ['policy', 'init', '--from', at('app-1.4.2.exe.sigstore.json'), '--trusted-root', root()],
      { env: env() },
    );
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /refs\/tags\/v\*/);
    writeFileSync(at('acme.policy.yaml'), init.stdout);
    const check = await vouchAsync(['policy', 'check', at('acme.policy.yaml')], { env: env() });
    assert.equal(check.status, 0, check.stderr);

    const verify = (file: string, ...more: string[]) =>
      vouchAsync(['verify', at(file), '--policy', at('acme.policy.yaml'), '--trusted-root', root(), ...more], {
        env: env(),
      });
    assert.equal((await verify('app-1.4.2.exe')).status, 0);

    writeFileSync(at('app-1.5.0.exe'), 'MZ 1.5.0');
    await release('app-1.5.0.exe', 'app-1.5.0.exe.sigstore.json', { ref: 'refs/tags/v1.5.0' });
    const next = await verify('app-1.5.0.exe');
    assert.equal(next.status, 0, next.stderr);
    assert.match(next.stdout, /Verified OK.*meets the policy/);

    writeFileSync(at('fork.exe'), 'MZ fork');
    await release('fork.exe', 'fork.exe.sigstore.json', {
      repository: 'evil/app',
      repository_id: '31337',
      repository_owner_id: '666',
      ref: 'refs/tags/v1.5.0',
    });
    const fork = await verify('fork.exe');
    assert.equal(fork.status, 1);
    assert.equal(errorCode(fork.stderr), 'POLICY_NOT_SATISFIED');
    assert.match(fork.stderr, /NOT MET/);
    assert.match(fork.stderr, /sourceRepositoryURI is "https:\/\/github.com\/evil\/app"/);

    const json = await verify('fork.exe', '--json');
    assert.equal(json.status, 1);
    const failure = json.json() as {
      verified: boolean;
      error: { code: string; details: { evaluation: { satisfied: boolean } } };
    };
    assert.equal(failure.verified, false);
    assert.equal(failure.error.details.evaluation.satisfied, false);

    const sarif = await verify('fork.exe', '--format', 'sarif');
    assert.equal(sarif.status, 1);
    const log = sarif.json() as {
      version: string;
      runs: {
        results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[];
      }[];
    };
    assert.equal(log.version, '2.1.0');
    const valid = sarifValidator();
    assert.ok(valid(log), JSON.stringify(valid.errors));
    // Met: a run without results, valid too; a failure before any policy: one result named by its code.
    const met = await verify('app-1.5.0.exe', '--format', 'sarif');
    assert.equal(met.status, 0, met.stderr);
    assert.ok(valid(met.json()), JSON.stringify(valid.errors));
    assert.deepEqual((met.json() as { runs: { results: unknown[] }[] }).runs[0]!.results, []);
    const broken = await vouchAsync(
      [
        'verify',
        at('fork.exe'),
        '--bundle',
        at('missing.json'),
        '--policy',
        at('acme.policy.yaml'),
        '--format',
        'sarif',
      ],
      { env: env() },
    );
    assert.equal(broken.status, 2);
    assert.ok(valid(broken.json()), JSON.stringify(valid.errors));
    assert.equal(log.runs[0]!.results[0]!.ruleId, 'require');
    assert.match(log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri, /fork\.exe$/);
  });

  it('a second signer adds a bundle beside the first; a two-person policy finds both without --bundle', async () => {
    writeFileSync(at('tool.exe'), 'MZ tool');
    await release('tool.exe', 'tool.exe.sigstore.json');
    const rmToken = await idp.mint(people, { sub: 'rm', email: 'rm@acme.test', email_verified: true });
    // Signing again where the pipeline's bundle is would replace it: refused before any token is used.
    const over = await vouchAsync(['sign', at('tool.exe'), '--instance', url, '--identity-token', rmToken], {
      env: { VOUCH_HOME: at('publisher') },
    });
    assert.equal(over.status, 2);
    assert.equal(errorCode(over.stderr), 'FILE_EXISTS');
    await sign('tool.exe', 'tool.exe.rm.sigstore.json', rmToken);
    const init = await vouchAsync(
      [
        'policy',
        'init',
        '--from',
        at('tool.exe.sigstore.json'),
        '--from',
        at('tool.exe.rm.sigstore.json'),
        '--trusted-root',
        root(),
      ],
      { env: env() },
    );
    assert.equal(init.status, 0, init.stderr);
    writeFileSync(at('two.yaml'), init.stdout);
    const ok = await vouchAsync(
      ['verify', at('tool.exe'), '--policy', at('two.yaml'), '--trusted-root', root(), '--json'],
      { env: env() },
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((ok.json() as { evaluation: { signatures: unknown[] } }).evaluation.signatures.length, 2);
    const one = await vouchAsync(
      [
        'verify',
        at('tool.exe'),
        '--policy',
        at('two.yaml'),
        '--trusted-root',
        root(),
        '--bundle',
        at('tool.exe.sigstore.json'),
      ],
      { env: env() },
    );
    assert.equal(one.status, 1);
    assert.equal(errorCode(one.stderr), 'POLICY_NOT_SATISFIED');
    // The same two bundles named with --bundle, wherever they are.
    const named = await vouchAsync(
      [
        'verify',
        at('tool.exe'),
        '--policy',
        at('two.yaml'),
        '--trusted-root',
        root(),
        '--bundle',
        at('tool.exe.rm.sigstore.json'),
        '--bundle',
        at('tool.exe.sigstore.json'),
      ],
      { env: env() },
    );
    assert.equal(named.status, 0, named.stderr);
    // --threshold: 2 of the two distinct signers verifies; 3 of two can never be met and is refused at init.
    const init2 = (k: string) =>
      vouchAsync(
        [
          'policy',
          'init',
          '--from',
          at('tool.exe.sigstore.json'),
          '--from',
          at('tool.exe.rm.sigstore.json'),
          '--threshold',
          k,
          '--trusted-root',
          root(),
        ],
        { env: env() },
      );
    const two = await init2('2');
    assert.equal(two.status, 0, two.stderr);
    // 2 of 2 signers is written as allOf, the same rule; 1 of 2 stays a threshold.
    assert.match(two.stdout, /allOf:/);
    const any = await init2('1');
    assert.equal(any.status, 0, any.stderr);
    assert.match(any.stdout, /threshold: 1/);
    writeFileSync(at('two-of.yaml'), two.stdout);
    const check = await vouchAsync(['policy', 'check', at('two-of.yaml'), '--json'], { env: env() });
    assert.equal(check.status, 0, check.stderr);
    assert.equal((check.json() as { signers: unknown[] }).signers.length, 2);
    const viaThreshold = await vouchAsync(
      ['verify', at('tool.exe'), '--policy', at('two-of.yaml'), '--trusted-root', root()],
      { env: env() },
    );
    assert.equal(viaThreshold.status, 0, viaThreshold.stderr);
    const three = await init2('3');
    assert.equal(three.status, 2);
    assert.equal(errorCode(three.stderr), 'POLICY_INVALID');
  });

  it("cosign's claim flags require the claims exactly", async () => {
    writeFileSync(at('cli.exe'), 'MZ cli');
    await release('cli.exe', 'cli.exe.sigstore.json');
    const args = (repo: string) => [
      'verify',
      at('cli.exe'),
      '--trusted-root',
      root(),
      '--certificate-identity',
      'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.2',
      '--certificate-oidc-issuer',
      gh,
      '--certificate-github-workflow-repository',
      repo,
      '--certificate-github-workflow-trigger',
      'push',
      '--certificate-github-workflow-ref',
      'refs/tags/v1.4.2',
    ];
    assert.equal((await vouchAsync(args('acme/app'), { env: env() })).status, 0);
    const wrong = await vouchAsync(args('acme/app-x'), { env: env() });
    assert.equal(wrong.status, 1);
    assert.equal(errorCode(wrong.stderr), 'POLICY_NOT_SATISFIED');
  });

  it('a policy URL: needs its digest, is fetched once, then verification is offline', async () => {
    const text = readFileSync(at('acme.policy.yaml'));
    const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    let hits = 0;
    const server: Server = createServer((_req, res) => {
      hits++;
      res.end(text);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const policyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/acme.policy.yaml`;
    const verify = (...more: string[]) =>
      vouchAsync(['verify', at('app-1.5.0.exe'), '--policy', policyUrl, '--trusted-root', root(), ...more], {
        env: env(),
      });
    try {
      const none = await verify();
      assert.equal(none.status, 2);
      assert.equal(errorCode(none.stderr), 'USAGE');
      const wrong = await verify('--policy-digest', `sha256:${'0'.repeat(64)}`);
      assert.equal(wrong.status, 1);
      assert.equal(errorCode(wrong.stderr), 'POLICY_DIGEST_MISMATCH');
      assert.equal((await verify('--policy-digest', digest)).status, 0);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const fetched = hits;
    const offline = await verify('--policy-digest', digest);
    assert.equal(offline.status, 0, offline.stderr);
    assert.equal(hits, fetched);
  });

  it('policy pin: a URL pinned once verifies without --policy-digest; a pin with the wrong digest is refused', async () => {
    const text = readFileSync(at('acme.policy.yaml'));
    const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    const server: Server = createServer((_req, res) => res.end(text));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const policyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pinned.policy.yaml`;
    const home = { VOUCH_HOME: at('pinning-customer') };
    try {
      const bad = await vouchAsync(['policy', 'pin', policyUrl, '--policy-digest', `sha256:${'1'.repeat(64)}`], {
        env: home,
      });
      assert.equal(bad.status, 1);
      assert.equal(errorCode(bad.stderr), 'POLICY_DIGEST_MISMATCH');
      const pin = await vouchAsync(['policy', 'pin', policyUrl, '--policy-digest', digest], { env: home });
      assert.equal(pin.status, 0, pin.stderr);
    } finally {
      await new Promise((r) => server.close(r));
    }
    // The server is gone: the pinned copy is what verifies.
    const r = await vouchAsync(['verify', at('app-1.5.0.exe'), '--policy', policyUrl, '--trusted-root', root()], {
      env: home,
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it('policy check: a policy that can never be met is refused with its line', async () => {
    writeFileSync(
      at('bad.yaml'),
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  ci:\n    identity: a\n    issuer: b\nrequire:\n  threshold: 2\n  of: [ci]\n',
    );
    const r = await vouchAsync(['policy', 'check', at('bad.yaml')], { env: env() });
    assert.equal(r.status, 2);
    assert.equal(errorCode(r.stderr), 'POLICY_INVALID');
    assert.match(r.stderr, /bad\.yaml:7:\d+: require > threshold/);
  });
});

describe('a directory under a policy with per-path rules, end to end', () => {
  const tmp = tempDir('vouch-e2e-policy-dir-');
  const at = (p: string) => join(tmp.path, p);
  const env = { VOUCH_HOME: at('home') };
  const fingerprints: Record<string, string> = {};
  after(() => tmp.dispose());

  before(async () => {
    for (const who of ['ci', 'rm']) {
      const k = await vouchAsync(['keygen', '--out', at(who), '--json'], { env });
      assert.equal(k.status, 0, k.stderr);
      fingerprints[who] = (k.json() as { fingerprint: string }).fingerprint;
    }
    writeFileSync(
      at('release.policy.json'),
      JSON.stringify({
        apiVersion: 'vouch.dev/policy/v1',
        signers: { ci: { fingerprint: fingerprints.ci }, rm: { fingerprint: fingerprints.rm } },
        require: 'ci',
        artifacts: [{ kind: 'directory', paths: [{ pattern: 'bin/**', require: 'rm' }] }],
      }),
    );
  });

  async function signTree(name: string, files: Record<string, string>, signers: string[]) {
    for (const [p, content] of Object.entries(files)) {
      mkdirSync(dirname(at(`${name}/${p}`)), { recursive: true });
      writeFileSync(at(`${name}/${p}`), content);
    }
    const bundles: string[] = [];
    for (const who of signers) {
      const bundle = at(`${name}.${who}.sigstore.json`);
      const s = await vouchAsync(['sign', `dir:${at(name)}`, '--key', at(`${who}.key`), '--bundle', bundle], { env });
      assert.equal(s.status, 0, s.stderr);
      bundles.push('--bundle', bundle);
    }
    return (more: string[] = []) =>
      vouchAsync(
        [
          'verify',
          `dir:${at(name)}`,
          '--policy',
          at('release.policy.json'),
          '--key',
          at('ci.pub'),
          '--key',
          at('rm.pub'),
          ...bundles,
          ...more,
        ],
        { env },
      );
  }

  it('bin/** needs the release manager too; a tree without bin/ needs the pipeline alone', async () => {
    const both = await signTree('app', { 'bin/app': 'MZ', 'README.md': 'hello' }, ['ci', 'rm']);
    assert.equal((await both()).status, 0);
    const ciOnly = await signTree('app2', { 'bin/app': 'MZ', 'README.md': 'hello' }, ['ci']);
    const refused = await ciOnly(['--json']);
    assert.equal(refused.status, 1);
    assert.equal(errorCode(refused.stderr), 'POLICY_NOT_SATISFIED');
    const docs = await signTree('docs', { 'README.md': 'hello', 'share/doc.txt': 'doc' }, ['ci']);
    const r = await docs();
    assert.equal(r.status, 0, r.stderr);
  });

  // The tree is compared once per signed statement and the comparison shared by the signatures of that statement;
  // a signature of another statement (the tree as it was before a change) is compared on its own, in either order.
  it('a signature of the tree before a change never borrows the comparison of one made after it', async () => {
    await signTree('moved', { 'README.md': 'before', 'bin/app': 'MZ' }, ['ci']);
    writeFileSync(at('moved/README.md'), 'after');
    await signTree('moved', {}, ['rm']);
    writeFileSync(
      at('either.policy.json'),
      JSON.stringify({
        apiVersion: 'vouch.dev/policy/v1',
        signers: { ci: { fingerprint: fingerprints.ci }, rm: { fingerprint: fingerprints.rm } },
        require: { threshold: 1, of: ['ci', 'rm'] },
      }),
    );
    for (const order of [
      ['ci', 'rm'],
      ['rm', 'ci'],
    ]) {
      const r = await vouchAsync(
        [
          'verify',
          `dir:${at('moved')}`,
          '--policy',
          at('either.policy.json'),
          '--key',
          at('ci.pub'),
          '--key',
          at('rm.pub'),
          ...order.flatMap((who) => ['--bundle', at(`moved.${who}.sigstore.json`)]),
          '--json',
        ],
        { env },
      );
      assert.equal(r.status, 0, r.stderr);
      const signatures = (
        r.json() as { evaluation: { signatures: { source: string; verified: boolean; error?: { code: string } }[] } }
      ).evaluation.signatures;
      const of = (who: string) => signatures.find((s) => s.source.endsWith(`moved.${who}.sigstore.json`))!;
      assert.equal(of('rm').verified, true, order.join());
      assert.equal(of('ci').verified, false, order.join());
      assert.equal(of('ci').error!.code, 'DIRECTORY_MISMATCH');
    }
  });

  it('a comparison is reused only for the same statement and options', async () => {
    const { verifyTarget } = await import('../../src/workflow/verify.ts');
    await signTree('shared', { 'README.md': 'one', 'lib/x.so': 'x' }, ['ci', 'rm']);
    const comparisons = new Map();
    const check = (who: string, more: Record<string, unknown> = {}) =>
      verifyTarget(`dir:${at('shared')}`, {
        keys: [{ spki: readFileSync(at(`${who}.pub`), 'utf8') }],
        bundle: at(`shared.${who}.sigstore.json`),
        home: at('home'),
        comparisons,
        ...more,
      });
    assert.equal((await check('ci')).verified, true);
    assert.equal(comparisons.size, 1);
    // The same statement, signed by the other key: its signature is verified, the comparison reused (the tree is
    // not read again, so a change made now goes unseen by this verification of the statement already compared).
    writeFileSync(at('shared/README.md'), 'two');
    assert.equal((await check('rm')).verified, true);
    assert.equal(comparisons.size, 1);
    // Other options are another comparison, made now: the change is found.
    await assert.rejects(check('rm', { failOnExcluded: true }), { code: 'DIRECTORY_MISMATCH' });
    assert.equal(comparisons.size, 1, 'failures are not kept');
    // A wrong key is still refused: only the tree's comparison is shared, never a signature's verification.
    await assert.rejects(
      verifyTarget(`dir:${at('shared')}`, {
        keys: [{ spki: readFileSync(at('ci.pub'), 'utf8') }],
        bundle: at('shared.rm.sigstore.json'),
        home: at('home'),
        comparisons,
      }),
      { code: 'KEY_MISMATCH' },
    );
  });
});
