import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReference, registryHost, sameRepository } from '../../src/artifact/oci/reference.ts';
import { codeOf } from './helpers.ts';

const H = 'a'.repeat(64);

describe('image references (distribution grammar, docker normalisation)', () => {
  const good: [string, string, string | undefined, string | undefined][] = [
    // input, canonical name, tag, digest
    ['ubuntu', 'docker.io/library/ubuntu', undefined, undefined],
    ['ubuntu:22.04', 'docker.io/library/ubuntu', '22.04', undefined],
    ['library/ubuntu', 'docker.io/library/ubuntu', undefined, undefined],
    ['docker.io/ubuntu', 'docker.io/library/ubuntu', undefined, undefined],
    ['index.docker.io/ubuntu', 'docker.io/library/ubuntu', undefined, undefined],
    ['index.docker.io/acme/app', 'docker.io/acme/app', undefined, undefined],
    ['acme/app', 'docker.io/acme/app', undefined, undefined],
    ['ghcr.io/acme/app:v1', 'ghcr.io/acme/app', 'v1', undefined],
    ['localhost/app', 'localhost/app', undefined, undefined],
    ['localhost:5000/app:latest', 'localhost:5000/app', 'latest', undefined],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000/a/b/c', undefined, undefined],
    ['[::1]:5000/app', '[::1]:5000/app', undefined, undefined],
    [`ghcr.io/acme/app@sha256:${H}`, 'ghcr.io/acme/app', undefined, `sha256:${H}`],
    [`ghcr.io/acme/app:v1@sha256:${H}`, 'ghcr.io/acme/app', 'v1', `sha256:${H}`],
    ['Registry.Example.com/app', 'registry.example.com/app', undefined, undefined],
    ['a/b__c/d-e/f.g', 'docker.io/a/b__c/d-e/f.g', undefined, undefined],
    ['a/b---c', 'docker.io/a/b---c', undefined, undefined],
    [`app:${'t'.repeat(128)}`, 'docker.io/library/app', 't'.repeat(128), undefined],
  ];
  for (const [input, name, tag, digest] of good) {
    it(`parses ${input.slice(0, 60)}`, () => {
      const r = parseReference(input);
      assert.equal(r.name, name);
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
    });
  }

  const bad: [string, string][] = [
    ['', 'empty'],
    ['Ubuntu', 'uppercase repository'],
    ['acme/App', 'uppercase path component'],
    ['acme//app', 'empty component'],
    ['acme/app:', 'empty tag'],
    ['acme/app:-v1', 'tag starting with a dash'],
    [`acme/app:${'t'.repeat(129)}`, 'tag too long'],
    ['acme/app@sha256:abc', 'short digest'],
    [`acme/app@sha256:${'A'.repeat(64)}`, 'uppercase digest'],
    [`acme/app@md5:${'a'.repeat(32)}`, 'unsupported algorithm'],
    ['acme/_app', 'leading separator'],
    ['acme/app_', 'trailing separator'],
    ['acme/a...b', 'three dots'],
    ['reg.example.com:99999/app', 'port out of range'],
    ['-reg.example.com/app', 'domain starting with a dash'],
    [`reg.example.com/${'a'.repeat(250)}`, 'name longer than 255'],
    ['acme/app tag', 'space'],
    ['acme/app:v1:v2', 'two tags'],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${why}`, async () => assert.equal(await codeOf(() => parseReference(input)), 'TARGET_INVALID'));
  }

  it('maps Docker Hub to its API host and compares repositories canonically', () => {
    assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryHost('ghcr.io'), 'ghcr.io');
    assert.ok(sameRepository('ubuntu', 'index.docker.io/library/ubuntu:latest'));
    assert.ok(!sameRepository('acme/app', 'ghcr.io/acme/app'));
    assert.ok(!sameRepository('acme/app', 'Not A Ref'));
  });
});
