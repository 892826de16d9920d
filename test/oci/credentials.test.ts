import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dockerCredentials } from '../../src/artifact/oci/credentials.ts';
import { codeOf } from './helpers.ts';

describe('docker credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-creds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const withConfig = (config: unknown, registry: string) => {
    writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return dockerCredentials(registry, { env: { DOCKER_CONFIG: dir } });
  };

  const rows: [string, unknown, string, unknown][] = [
    ['auths by host', { auths: { 'ghcr.io': { auth: b64('a:b') } } }, 'ghcr.io', { username: 'a', password: 'b' }],
    [
      'auths by https URL',
      { auths: { 'https://ghcr.io': { auth: b64('a:b:c') } } },
      'ghcr.io',
      { username: 'a', password: 'b:c' },
    ],
    [
      'Docker Hub legacy key',
      { auths: { 'https://index.docker.io/v1/': { auth: b64('h:p') } } },
      'docker.io',
      { username: 'h', password: 'p' },
    ],
    ['identity token', { auths: { 'ghcr.io': { identitytoken: 'rt' } } }, 'ghcr.io', { identityToken: 'rt' }],
    ['another registry only', { auths: { 'quay.io': { auth: b64('a:b') } } }, 'ghcr.io', undefined],
    ['empty config', {}, 'ghcr.io', undefined],
  ];
  for (const [name, config, registry, expected] of rows) {
    it(name, async () => assert.deepEqual(await withConfig(config, registry), expected));
  }

  const bad: [string, unknown][] = [
    ['auth not base64', { auths: { 'ghcr.io': { auth: 'not base64!' } } }],
    ['auth without colon', { auths: { 'ghcr.io': { auth: b64('nocolon') } } }],
    ['duplicate keys', '{"auths":{},"auths":{}}'],
    ['helper name with a path', { credHelpers: { 'ghcr.io': '../evil' } }],
  ];
  for (const [name, config] of bad) {
    it(`rejects ${name}`, async () => assert.equal(await codeOf(withConfig(config, 'ghcr.io')), 'CONFIG_INVALID'));
  }

  it('no config file means anonymous', async () => {
    assert.equal(await dockerCredentials('ghcr.io', { env: { DOCKER_CONFIG: join(dir, 'missing') } }), undefined);
  });

  it('credsStore helper, and a helper that knows no credentials', async () => {
    const bin = join(dir, 'bin');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'docker-credential-vouchstore'),
      '#!/bin/sh\nread s\nif [ "$s" = ghcr.io ]; then echo \'{"Username":"<token>","Secret":"idtok"}\'; else echo "credentials not found in native keychain"; exit 1; fi\n',
    );
    chmodSync(join(bin, 'docker-credential-vouchstore'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      assert.deepEqual(await withConfig({ credsStore: 'vouchstore' }, 'ghcr.io'), { identityToken: 'idtok' });
      assert.equal(await withConfig({ credsStore: 'vouchstore' }, 'quay.io'), undefined);
    } finally {
      process.env.PATH = saved;
    }
  });
});
