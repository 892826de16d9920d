/**
 * Which OIDC issuers a local development CA may vouch for (src/core/localdev.ts): only its own stack's `/oidc`, on
 * the CA's host. One row per issuer a certificate from such a CA could name.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isOwnDevelopmentIssuer } from '../src/core/localdev.ts';

const CA = 'http://127.0.0.1:41234/ca';

const rows: [issuer: string, own: boolean, ca?: string][] = [
  ['http://127.0.0.1:41234/oidc', true],
  ['http://127.0.0.1:50000/oidc', true], // the embedded instance on another run's port
  ['http://127.0.0.1:41234/oidc/', true],
  ['https://team.example/vouch/oidc', true, 'https://team.example/vouch/ca'],
  ['https://accounts.google.com', false],
  ['https://token.actions.githubusercontent.com', false],
  ['http://127.0.0.1.evil.example/oidc', false],
  ['http://localhost:41234/oidc', false],
  ['https://127.0.0.1:41234/oidc', false],
  ['http://127.0.0.1:41234/other', false],
  ['http://127.0.0.1:41234/oidc/x', false],
  ['http://127.0.0.1:41234/oidc?x=1', false],
  ['http://127.0.0.1:41234/oidc#x', false],
  ['http://user@127.0.0.1:41234/oidc', false],
  ['file:///oidc', false],
  ['not a url', false],
  ['http://127.0.0.1:41234/oidc', false, ''],
];

it('a local development CA vouches only for its own stack issuer (table)', () => {
  for (const [issuer, own, ca] of rows) {
    assert.equal(isOwnDevelopmentIssuer(ca ?? CA, issuer), own, `${issuer} for CA ${ca ?? CA}`);
  }
});
