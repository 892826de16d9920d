/**
 * `vouch serve --config`: what a good file turns into (Fulcio's spelling, presets, anchors), a table of bad files each
 * refused with CONFIG_INVALID, the published schema kept equal to the one the code checks with, and the CLI refusing
 * a plain-HTTP issuer unless told it is a test setup.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isVouchError } from '../../src/errors.ts';
import { loadServeConfig, parseServeConfig } from '../../src/server/config.ts';
import { errorCode, REPO, tempDir, vouch } from '../helpers/cli.ts';

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseServeConfig(text, 'serve.yaml', env);
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('serve configuration file', () => {
  it('reads exact and wildcard issuers in vouch and Fulcio spelling, with YAML anchors', () => {
    const c = parse(`
define:
  - &gh "github-workflow"
oidc-issuers:
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    client-id: sigstore
    type: ci-provider
    ci-provider: *gh
  https://accounts.acme.test:
    type: email
    audience: vouch
    skip-email-verification: true
    issuer-claim: $.federated_claims.connector_id
  https://ids.acme.test:
    type: uri
    subject-domain: https://bots.acme.test
  https://spire.acme.test:
    type: spiffe
    spiffe-trust-domain: prod.acme.test
  https://users.acme.test:
    type: username
    subject-domain: acme.test
meta-issuers:
  https://oidc.eks.*.amazonaws.com/id/*:
    type: kubernetes
`);
    assert.deepEqual(c.issuers, [
      { issuer: 'https://token.actions.githubusercontent.com', type: 'github-workflow', audience: 'sigstore' },
      {
        issuer: 'https://accounts.acme.test',
        type: 'email',
        audience: 'vouch',
        skipEmailVerification: true,
        issuerClaim: '$.federated_claims.connector_id',
      },
      { issuer: 'https://ids.acme.test', type: 'uri', subjectDomain: 'https://bots.acme.test' },
      { issuer: 'https://spire.acme.test', type: 'spiffe', spiffeTrustDomain: 'prod.acme.test' },
      { issuer: 'https://users.acme.test', type: 'username', subjectDomain: 'acme.test' },
      { issuer: 'https://oidc.eks.*.amazonaws.com/id/*', type: 'kubernetes', wildcard: true },
    ]);
    assert.equal(c.allowInsecureLoopbackIssuers, false);
    assert.deepEqual(parse('').issuers, []);
  });

  it('expands each preset to its documented issuers (docs/identities.md)', () => {
    const rows: [string, [string, string, boolean?, string?][]][] = [
      ['google', [['https://accounts.google.com', 'email']]],
      [
        `{ name: microsoft, tenant: ${TENANT} }`,
        [
          [`https://login.microsoftonline.com/${TENANT}/v2.0`, 'entra'],
          [`https://sts.windows.net/${TENANT}/`, 'entra'],
        ],
      ],
      [
        'github-actions',
        [
          ['https://token.actions.githubusercontent.com', 'github-workflow'],
          ['https://token.actions.githubusercontent.com/*', 'github-workflow', true],
        ],
      ],
      ['gitlab', [['https://gitlab.com', 'gitlab-pipeline']]],
      ['{ name: gitlab, url: https://gitlab.acme.test }', [['https://gitlab.acme.test', 'gitlab-pipeline']]],
      ['buildkite', [['https://agent.buildkite.com', 'buildkite-job']]],
      ['{ name: circleci, org: 0a1b2c }', [['https://oidc.circleci.com/org/0a1b2c', 'circleci-job']]],
      [
        '{ name: aws, issuer: https://0f1e.tokens.sts.global.api.aws }',
        [['https://0f1e.tokens.sts.global.api.aws', 'aws-iam']],
      ],
      [
        `{ name: azure-pipelines, org: ${TENANT} }`,
        [[`https://vstoken.dev.azure.com/${TENANT}`, 'azure-pipelines', false, 'api://AzureADTokenExchange']],
      ],
      ['{ name: kubernetes, issuer: https://k8s.acme.test }', [['https://k8s.acme.test', 'kubernetes']]],
    ];
    for (const [p, want] of rows) {
      const got = parse(`presets: [${p}]`).issuers.map((i) => [i.issuer, i.type, i.wildcard ?? false, i.audience]);
      assert.deepEqual(
        got,
        want.map(([u, t, w, a]) => [u, t, w ?? false, a]),
        p,
      );
    }
    assert.equal(parse('presets: [{ name: google, audience: vouch }]').issuers[0]!.audience, 'vouch');
  });

  it('refuses bad files with CONFIG_INVALID (table)', () => {
    const rows: [string, string][] = [
      ['not YAML', 'oidc-issuers: [a, {'],
      ['a scalar', 'hello'],
      ['a list', '- a'],
      ['duplicate key', 'presets: [google]\npresets: [buildkite]'],
      [
        'alias bomb',
        `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]`,
      ],
      ['unknown top key', 'issuers: []'],
      ['unknown issuer key', 'oidc-issuers: { https://a.test: { type: email, environment: staging } }'],
      ['no type', 'oidc-issuers: { https://a.test: { client-id: sigstore } }'],
      ['unknown type', 'oidc-issuers: { https://a.test: { type: chainguard-identity } }'],
      ['ci-provider without its name', 'oidc-issuers: { https://a.test: { type: ci-provider } }'],
      [
        'ci-provider name without type',
        'oidc-issuers: { https://a.test: { type: email, ci-provider: github-workflow } }',
      ],
      ['client-id and audience', 'oidc-issuers: { https://a.test: { type: email, client-id: a, audience: b } }'],
      ['issuer-url differs from key', 'oidc-issuers: { https://a.test: { type: email, issuer-url: https://b.test } }'],
      ['plain HTTP', 'oidc-issuers: { http://a.test: { type: email } }'],
      ['plain HTTP loopback, not allowed', 'oidc-issuers: { http://127.0.0.1:8080: { type: email } }'],
      [
        'plain HTTP beyond loopback, allowed flag',
        'allow-insecure-loopback-issuers: true\noidc-issuers: { http://10.0.0.1: { type: email } }',
      ],
      ['not a URL', 'oidc-issuers: { "not a url": { type: email } }'],
      ['query in issuer', 'oidc-issuers: { "https://a.test/?x=1": { type: email } }'],
      ['ftp', 'oidc-issuers: { ftp://a.test: { type: email } }'],
      ['wildcard in exact issuer', 'oidc-issuers: { "https://*.a.test": { type: email } }'],
      ['meta-issuer without wildcard', 'meta-issuers: { https://a.test: { type: email } }'],
      ['spiffe wildcard', 'meta-issuers: { "https://*.a.test": { type: spiffe, spiffe-trust-domain: a.test } }'],
      ['spiffe without trust domain', 'oidc-issuers: { https://a.test: { type: spiffe } }'],
      ['spiffe bad trust domain', 'oidc-issuers: { https://a.test: { type: spiffe, spiffe-trust-domain: "A/B" } }'],
      ['uri without subject domain', 'oidc-issuers: { https://a.test: { type: uri } }'],
      [
        'uri subject domain elsewhere',
        'oidc-issuers: { https://id.acme.test: { type: uri, subject-domain: https://evil.test } }',
      ],
      [
        'uri subject domain other scheme',
        'oidc-issuers: { https://id.acme.test: { type: uri, subject-domain: http://acme.test } }',
      ],
      [
        'uri subject domain no scheme',
        'oidc-issuers: { https://id.acme.test: { type: uri, subject-domain: acme.test } }',
      ],
      [
        'username subject domain with scheme',
        'oidc-issuers: { https://id.acme.test: { type: username, subject-domain: https://acme.test } }',
      ],
      [
        'username subject domain elsewhere',
        'oidc-issuers: { https://id.acme.test: { type: username, subject-domain: evil.test } }',
      ],
      ['issuer-claim on a CI type', 'oidc-issuers: { https://a.test: { type: github-workflow, issuer-claim: $.x } }'],
      ['issuer-claim not a path', 'oidc-issuers: { https://a.test: { type: email, issuer-claim: "$[0]" } }'],
      [
        'base-url with trailing slash',
        'oidc-issuers: { https://a.test: { type: github-workflow, base-url: "https://ghe.test/" } }',
      ],
      ['same issuer twice', 'presets: [google]\noidc-issuers: { https://accounts.google.com: { type: email } }'],
      ['unknown preset', 'presets: [okta]'],
      ['preset missing its parameter', 'presets: [{ name: circleci }]'],
      ['preset with a stray key', 'presets: [{ name: google, tenant: x }]'],
      ['tenant not a GUID', 'presets: [{ name: microsoft, tenant: contoso.com }]'],
      [
        'kubernetes preset over many clusters',
        'presets: [{ name: kubernetes, issuer: "https://oidc.eks.*.amazonaws.com/id/*" }]',
      ],
      ['login without connectors', 'login: {}'],
      ['login secret inline', 'login: { connectors: [{ type: github, client-id: a, client-secret: s }] }'],
      ['login secret env unset', 'login: { connectors: [{ type: github, client-id: a, client-secret-env: NOPE }] }'],
      [
        'login secret two ways',
        'login: { connectors: [{ type: github, client-id: a, client-secret-env: S, client-secret-file: f }] }',
      ],
      [
        'login upstream plain HTTP',
        'login: { connectors: [{ type: oidc, issuer: "http://idp.test", client-id: a, client-secret-env: S }] }',
      ],
      ['login unknown connector', 'login: { connectors: [{ type: saml, client-id: a, client-secret-env: S }] }'],
      [
        'login connector ids collide',
        'login: { connectors: [{ type: github, client-id: a, client-secret-env: S }, { type: github, client-id: b, client-secret-env: S }] }',
      ],
      [
        'login token lifetime out of range',
        'login: { token-lifetime: 86400, connectors: [{ type: github, client-id: a, client-secret-env: S }] }',
      ],
    ];
    for (const [name, text] of rows) {
      assert.throws(
        () => parse(text, { S: 'secret' }),
        (e) => isVouchError(e, 'CONFIG_INVALID'),
        name,
      );
    }
  });

  it('reads a file with its size capped and its errors named by path', () => {
    const tmp = tempDir('vouch-config-');
    try {
      writeFileSync(join(tmp.path, 'big.yaml'), `# ${'x'.repeat(2 << 20)}\n`);
      assert.throws(
        () => loadServeConfig(join(tmp.path, 'big.yaml')),
        (e) => isVouchError(e, 'CONFIG_INVALID'),
      );
      assert.throws(
        () => loadServeConfig(join(tmp.path, 'none.yaml')),
        (e) => isVouchError(e, 'FILE_NOT_FOUND'),
      );
      writeFileSync(join(tmp.path, 'secret'), 'from-file\n');
      writeFileSync(
        join(tmp.path, 'ok.yaml'),
        `login:\n  connectors:\n    - { type: github, client-id: Iv1.abc, client-secret-file: ${join(tmp.path, 'secret')} }\n`,
      );
      const login = loadServeConfig(join(tmp.path, 'ok.yaml')).login!;
      assert.deepEqual(login.connectors[0], {
        type: 'github',
        id: 'https://github.com/login/oauth',
        clientId: 'Iv1.abc',
        clientSecret: 'from-file',
        url: 'https://github.com',
        apiUrl: 'https://api.github.com',
      });
      assert.equal(login.clientId, 'sigstore');
    } finally {
      tmp.dispose();
    }
  });

  it('publishes the schema it checks with, unchanged, in docs/', () => {
    assert.equal(
      readFileSync(join(REPO, 'docs', 'serve-config.schema.json'), 'utf8'),
      readFileSync(join(REPO, 'src', 'server', 'serve-config.schema.json'), 'utf8'),
      'copy src/server/serve-config.schema.json to docs/',
    );
  });

  it('vouch serve refuses a plain-HTTP issuer flag unless it is told this is a test setup', () => {
    const tmp = tempDir('vouch-config-cli-');
    try {
      const r = vouch(['serve', '--data', join(tmp.path, 'd'), '--port', '0', '--issuer', 'http://127.0.0.1:9/idp']);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(errorCode(r.stderr), 'CONFIG_INVALID');
      assert.match(r.stderr, /allow-insecure-loopback-issuers/);
    } finally {
      tmp.dispose();
    }
  });
});
