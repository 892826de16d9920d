/**
 * The order in which a token source is chosen (src/identity/providers.ts), one row per situation, and the rule that
 * a detected CI whose token is missing fails at once: TOKEN_INVALID with the hint for that CI, no request, no
 * interactive sign-in, well under a second.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SelectOptions, selectIdentityProvider } from '../../src/identity/providers.ts';
import { rejectsWith, throwsWith } from '../keyless/helpers.ts';

const noFiles = { readFile: () => undefined };
const gh = {
  GITHUB_ACTIONS: 'true',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/x?a=1',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't',
};
const ui = { showUrl: () => {}, showDeviceCode: () => {} };
const interactive = { issuer: 'https://oauth2.sigstore.dev/auth', ui };

describe('identity source order', () => {
  const rows: [string, SelectOptions, string][] = [
    ['--identity-token first', { token: 'x.y.z', env: { SIGSTORE_ID_TOKEN: 'a.b.c', ...gh } }, 'explicit'],
    ['--identity-token-file', { tokenFile: '/t', env: { SIGSTORE_ID_TOKEN: 'a.b.c' } }, 'token-file'],
    ['SIGSTORE_ID_TOKEN before the CI detected', { env: { SIGSTORE_ID_TOKEN: 'a.b.c', ...gh } }, 'env'],
    ['SIGSTORE_ID_TOKEN on GitLab', { env: { SIGSTORE_ID_TOKEN: 'a.b.c', GITLAB_CI: 'true' } }, 'gitlab'],
    ['--identity-provider skips SIGSTORE_ID_TOKEN', { provider: 'aws', env: { SIGSTORE_ID_TOKEN: 'a.b.c' } }, 'aws'],
    ['GitHub Actions detected', { env: gh, localIssuerTokenUrl: 'http://l' }, 'github-actions'],
    ['a CI before a cloud', { env: { ...gh, GCE_METADATA_HOST: '127.0.0.1:1' } }, 'github-actions'],
    ['Buildkite', { env: { BUILDKITE: 'true' } }, 'buildkite'],
    ['CircleCI', { env: { CIRCLECI: 'true' } }, 'circleci'],
    ['Azure Pipelines', { env: { TF_BUILD: 'True' } }, 'azure-pipelines'],
    ['Google Cloud Run', { env: { K_SERVICE: 'api' } }, 'gcp'],
    ['AWS Lambda', { env: { AWS_LAMBDA_FUNCTION_NAME: 'f' } }, 'aws'],
    [
      'the embedded instance skips clouds',
      { env: { K_SERVICE: 'api' }, embedded: true, localIssuerTokenUrl: 'http://l' },
      'local-issuer',
    ],
    [
      'the embedded instance still sees CI',
      { env: gh, embedded: true, localIssuerTokenUrl: 'http://l' },
      'github-actions',
    ],
    [
      'a cached login before the local issuer',
      { env: {}, localIssuerTokenUrl: 'http://l', cachedLogin: () => 'a.b.c' },
      'cached-login',
    ],
    [
      'the local issuer when no login is cached',
      { env: {}, localIssuerTokenUrl: 'http://l', cachedLogin: () => undefined, interactive },
      'local-issuer',
    ],
    [
      'a CI before a cached login',
      { env: gh, localIssuerTokenUrl: 'http://l', cachedLogin: () => 'a.b.c' },
      'github-actions',
    ],
    ['cached login before an interactive one', { env: {}, cachedLogin: () => 'a.b.c', interactive }, 'cached-login'],
    ['interactive last', { env: {}, cachedLogin: () => undefined, interactive }, 'login'],
    ['device flow when asked', { env: {}, interactive: { ...interactive, device: true } }, 'device-flow'],
    [
      '--identity-provider login uses the cache',
      { env: gh, provider: 'login', cachedLogin: () => 'a.b.c' },
      'cached-login',
    ],
    [
      'empty SIGSTORE_ID_TOKEN is ignored',
      { env: { SIGSTORE_ID_TOKEN: '' }, localIssuerTokenUrl: 'http://l' },
      'local-issuer',
    ],
  ];
  for (const [name, options, source] of rows) {
    it(name, () => assert.equal(selectIdentityProvider({ context: noFiles, ...options }).source, source));
  }
  const bad: [string, SelectOptions, string][] = [
    ['nothing at all', { env: {} }, 'TOKEN_INVALID'],
    ['CI=true never signs in interactively', { env: { CI: 'true' }, interactive }, 'TOKEN_INVALID'],
    ['token and token file', { token: 'a.b.c', tokenFile: '/t', env: {} }, 'USAGE'],
    ['token and provider', { token: 'a.b.c', provider: 'gcp', env: {} }, 'USAGE'],
    ['forced login without cache or terminal', { provider: 'login', env: {} }, 'TOKEN_INVALID'],
  ];
  for (const [name, options, code] of bad) {
    it(`refuses: ${name}`, () => {
      throwsWith(() => selectIdentityProvider({ context: noFiles, ...options }), code as 'USAGE');
    });
  }
});

describe('a CI detected without its token fails at once', () => {
  const rows: [string, Record<string, string>, RegExp][] = [
    ['GitHub Actions without id-token: write', { GITHUB_ACTIONS: 'true', CI: 'true' }, /id-token: write/],
    ['GitLab without id_tokens', { GITLAB_CI: 'true', CI: 'true' }, /id_tokens/],
    [
      'Buildkite without the agent token',
      { BUILDKITE: 'true', BUILDKITE_JOB_ID: 'j', CI: 'true' },
      /BUILDKITE_AGENT_ACCESS_TOKEN/,
    ],
    [
      'Azure Pipelines without SYSTEM_ACCESSTOKEN',
      { TF_BUILD: 'True', SYSTEM_OIDCREQUESTURI: 'http://127.0.0.1:1/x' },
      /System\.AccessToken/,
    ],
    ['CircleCI without its CLI', { CIRCLECI: 'true', PATH: '/nonexistent' }, /CircleCI CLI/],
  ];
  for (const [name, env, hint] of rows) {
    it(name, async () => {
      const start = performance.now();
      // An interactive login is on offer: it must not be taken.
      const selected = selectIdentityProvider({ env, context: noFiles, interactive });
      assert.notEqual(selected.source, 'login');
      const e = await rejectsWith(selected.provider.getToken(), 'TOKEN_INVALID');
      assert.match(e.hint, hint);
      assert.ok(performance.now() - start < 1000, 'fails in under a second');
    });
  }
});
